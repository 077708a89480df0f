import t from 'tap'
import { Clients, type Client } from '../../src/transport/clients.js'
import { eventually } from '../helper.js'

class FakeClient implements Client {
  beats = 0
  closes: Array<[number, string]> = []
  readonly #clients: Clients
  constructor (clients: Clients) { this.#clients = clients }
  heartbeat (): void { this.beats++ }
  // Like a socket, closes a turn later.
  close (code: number, reason: string): void {
    this.closes.push([code, reason])
    setImmediate(() => { this.#clients.delete(this) })
  }
}

t.test('size counts the open clients, whatever their transport', async (t) => {
  const clients = new Clients()
  const a = new FakeClient(clients)
  clients.add(a)
  clients.add(new FakeClient(clients))
  t.equal(clients.size, 2)
  clients.delete(a)
  clients.delete(a)
  t.equal(clients.size, 1, 'deleting twice is harmless')
})

t.test('counters', async (t) => {
  const clients = new Clients()
  clients.error('BAD_JSON')
  clients.error('BAD_JSON')
  clients.error('PUBSUB_ERR_FORBIDDEN')
  clients.shedLoad('eventLoopDelay')
  t.same([...clients.errors], [['BAD_JSON', 2], ['PUBSUB_ERR_FORBIDDEN', 1]])
  t.same([...clients.shed], [['eventLoopDelay', 1]])
  t.same([clients.dropped, clients.slowConsumers, clients.rateLimited], [0, 0, 0])
})

t.test('one heartbeat loop for every client, at the shortest interval asked', async (t) => {
  const clients = new Clients()
  const a = new FakeClient(clients)
  clients.add(a)
  clients.heartbeatEvery(60_000)
  clients.heartbeatEvery(5)
  clients.heartbeatEvery(60_000)
  await eventually(() => a.beats >= 2)
  t.ok(a.beats >= 2, 'beats at 5 ms, not 60 s')
  await clients.closeAll(1001, 'bye')
  t.equal(clients.size, 0)
  // Closed: a route registered late does not restart it (the interval would keep pinging nobody).
  clients.heartbeatEvery(1)
})

t.test('closeAll closes every client and resolves once all are gone; safe to call three times', async (t) => {
  const clients = new Clients()
  const a = new FakeClient(clients)
  const b = new FakeClient(clients)
  clients.add(a)
  clients.add(b)
  const first = clients.closeAll(1001, 'server shutting down')
  const second = clients.closeAll(1000, 'again')
  t.equal(clients.size, 2, 'closing, not closed')
  await Promise.all([first, second, clients.closeAll(1000, 'a third time')])
  t.equal(clients.size, 0)
  t.same(a.closes, [[1001, 'server shutting down']], 'closed once, with the first code')
  t.same(b.closes, [[1001, 'server shutting down']])
})

t.test('closeAll with no client resolves at once', async (t) => {
  await new Clients().closeAll(1001, 'bye')
  t.pass()
})
