import t from 'tap'
import { MemoryEngine } from '../../src/pubsub/memory-engine.js'
import { engineConformance } from './engine-conformance.js'

engineConformance(t, { makeEngine: () => new MemoryEngine(), countsDeliveries: true })
