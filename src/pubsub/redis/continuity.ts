import { setTimeout as sleep } from 'node:timers/promises'
import { replayFrom, type Retained } from '../history.js'
import type { Message } from '../message.js'
import type { Position } from '../session.js'

/** What a Redis engine gives its Continuity: its reads of Redis and its way to the broker. */
export interface ContinuityHost {
  /** A topic's seq, epoch and history entries; rejects when Redis cannot answer. */
  snapshot: (topic: string) => Promise<[number, string, string[]]>
  /** The entries still within the topic's historyTtl. */
  retained: (topic: string, entries: string[]) => Retained[]
  /** Hands a message to the broker's local fan-out. */
  deliver: (message: Message) => void
  /** Tells local subscribers of `topic` that messages before `position` cannot reach them. */
  reset: (topic: string, position: Position) => void
}

/** Reads of history a catch-up tries before it tells the clients it cannot. */
const CATCH_UP_TRIES = 3

/**
 * A node's rule for live messages that arrive over Redis Pub/Sub, shared by
 * the single-Redis and the Cluster engines: each topic with a local exact
 * subscriber has a position, where this node's delivery has got to. A
 * message at or below it is one delivered already; one past the next seq
 * means some never came, and they are caught up from history first while
 * later ones wait; another epoch means the topic's sequence restarted
 * (Redis lost it), and subscribers are told before they get the new one.
 */
export class Continuity {
  readonly #host: ContinuityHost
  readonly #positions = new Map<string, Followed>()
  /**
   * Topics whose first local exact subscriber is subscribing: the node
   * listens, their first snapshot is on its way, and the last message
   * delivered meanwhile (it may come before the snapshot's reply, which
   * travels on another connection) is where the node has got to.
   */
  readonly #starting = new Map<string, Position | undefined>()
  /** Topics being caught up from history; their live messages wait here, in order. */
  readonly #catchingUp = new Map<string, Message[]>()

  constructor (host: ContinuityHost) {
    this.#host = host
  }

  /** The node starts listening to `topic` for a first local exact subscriber; `follow` comes with its snapshot. */
  expect (topic: string): void {
    if (!this.#positions.has(topic) && !this.#starting.has(topic)) this.#starting.set(topic, undefined)
  }

  /**
   * Starts following `topic` from `position` (its first snapshot), unless
   * it is followed already, or from the message delivered since `expect`
   * when that one is later.
   */
  follow (topic: string, position: Position): void {
    if (this.#positions.has(topic)) return
    const delivered = this.#starting.get(topic)
    this.#starting.delete(topic)
    if (delivered !== undefined && delivered.epoch === position.epoch && delivered.seq > position.seq) {
      this.#positions.set(topic, { ...delivered, snapshotOnly: false })
    } else {
      this.#positions.set(topic, { ...position, snapshotOnly: true })
    }
  }

  /** Stops following `topic`: its last exact subscriber here left. */
  forget (topic: string): void {
    this.#positions.delete(topic)
    this.#starting.delete(topic)
  }

  /** A live message, in Redis's order: delivered unless this node has had it. */
  receive (message: Message): void {
    const waiting = this.#catchingUp.get(message.topic)
    if (waiting !== undefined) {
      waiting.push(message)
      return
    }
    let position = this.#positions.get(message.topic)
    if (position !== undefined && position.epoch !== message.epoch) {
      this.#lost(message.topic, { seq: 0, epoch: message.epoch })
      position = this.#positions.get(message.topic) as Followed
    }
    if (position !== undefined) {
      if (message.seq <= position.seq) {
        // Published before the first snapshot and on its way since: this node never
        // delivered it, and its pattern subscribers need it (a new exact subscriber's
        // transport drops it: it is behind the ack).
        if (position.snapshotOnly) this.#host.deliver(message)
        return
      }
      if (message.seq > position.seq + 1) {
        void this.#catchUp(message.topic, positionOf(position), [message])
        return
      }
    }
    this.#deliver(message)
  }

  /** The node's subscription to Redis came back: what was published meanwhile never came, so every followed topic is caught up. */
  catchUpAll (): void {
    for (const [topic, position] of this.#positions) if (!this.#catchingUp.has(topic)) void this.#catchUp(topic, positionOf(position))
  }

  #deliver (message: Message): void {
    const position = this.#positions.get(message.topic)
    if (position !== undefined) {
      position.seq = message.seq
      position.snapshotOnly = false
    } else if (this.#starting.has(message.topic)) {
      this.#starting.set(message.topic, { seq: message.seq, epoch: message.epoch })
    }
    this.#host.deliver(message)
  }

  /**
   * Delivers to local subscribers what this node missed of `topic` after
   * `from`, from history, while its live messages wait; where history cannot
   * cover it (trimmed, expired, another epoch, Redis away) they are told.
   */
  async #catchUp (topic: string, from: Position, waiting: Message[] = []): Promise<void> {
    this.#catchingUp.set(topic, waiting)
    try {
      const [seq, epoch, entries] = await this.#snapshotPatiently(topic)
      // Another epoch: the sequence restarted, and its start may still be retained.
      const since = epoch === from.epoch ? from.seq : 0
      if (epoch !== from.epoch) this.#lost(topic, { seq: 0, epoch })
      const replay = replayFrom(topic, { seq, epoch }, { since, epoch }, () => this.#host.retained(topic, entries))
      if (replay === undefined) this.#lost(topic, resumeAt(waiting, { seq, epoch }))
      else for (const message of replay) this.#deliver(message)
    } catch {
      this.#lost(topic, resumeAt(waiting, from))
    } finally {
      this.#catchingUp.delete(topic)
      for (const message of waiting) this.receive(message)
    }
  }

  /**
   * A topic's snapshot with its history, tried a few times: right after a
   * reconnect of the subscriber connection, the command connection may still
   * be coming back (a restarted Redis).
   */
  async #snapshotPatiently (topic: string, attempt = 1): Promise<[number, string, string[]]> {
    try {
      return await this.#host.snapshot(topic)
    } catch (err) {
      if (attempt === CATCH_UP_TRIES) throw err
    }
    // Not ref'd: a closing engine fails the next try at once.
    await sleep(100 * attempt, undefined, { ref: false })
    return await this.#snapshotPatiently(topic, attempt + 1)
  }

  /** Messages of `topic` before `position` cannot reach its local subscribers: they are told, and delivery goes on from there. */
  #lost (topic: string, position: Position): void {
    if (this.#positions.has(topic)) this.#positions.set(topic, { ...position, snapshotOnly: false })
    this.#host.reset(topic, position)
  }
}

/** Where a node's delivery of a topic has got to. */
interface Followed extends Position {
  /**
   * Only the first snapshot's position: the node has delivered nothing of
   * the topic past it, so a live message at or below it is no duplicate.
   */
  snapshotOnly: boolean
}

/** A copy of where a topic is, as clients are told it (a `reset`'s position). */
function positionOf ({ seq, epoch }: Position): Position {
  return { seq, epoch }
}

/**
 * Where delivery goes on after a gap that could not be filled: just before
 * the first message that waited behind the catch-up (it must not be taken
 * for one already delivered), else `otherwise`.
 */
function resumeAt (waiting: Message[], otherwise: Position): Position {
  const next = waiting[0]
  return next === undefined ? otherwise : { seq: next.seq - 1, epoch: next.epoch }
}
