/** What a task resolves with: its reply, sent when its turn comes, or nothing (it replied itself). */
export type Reply = (() => void) | undefined

/**
 * One client's requests, run so that replies keep request order even when an
 * engine answers asynchronously. Most requests are barriers: each waits for
 * everything ahead of it, and everything after waits for it (a publish after
 * a subscribe sees that subscription live). Non-barriers (publishes) with
 * only non-barriers ahead start at once: a burst of them reaches the engine
 * together (one pipelined write to Redis, one fan-out burst), while their
 * replies still go out in order.
 */
export class RequestQueue {
  #tail: Promise<void> = Promise.resolve()
  /** Barriers queued or running: while any is, everything queues behind them. */
  #barriers = 0
  /** Tasks queued behind others and not started: a new non-barrier queues behind them too. */
  #waiting = 0

  /**
   * Runs `task` in its turn (a barrier), or at once if it is not a barrier
   * and only started non-barriers are ahead; either way its reply is sent
   * after every reply ahead of it.
   */
  run (task: () => Promise<Reply>, { barrier }: { barrier: boolean }): void {
    if (!barrier && this.#barriers === 0 && this.#waiting === 0) {
      const reply = task()
      this.#tail = this.#tail.then(async () => { (await reply)?.() })
      return
    }
    if (barrier) this.#barriers++
    this.#waiting++
    this.#tail = this.#tail.then(async () => {
      this.#waiting--
      const reply = await task()
      reply?.()
      if (barrier) this.#barriers--
    })
  }

  /** Runs `reply` once every reply ahead is out: an answer with no work of its own (a refusal, a bad frame, a close). */
  after (reply: () => void): void {
    this.#tail = this.#tail.then(reply)
  }
}
