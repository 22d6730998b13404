/**
 * One instance's door: how many requests it serves (`parallel` slots), who waits for a slot
 * (`max_queue`), who waits for it to start, and whether it is draining for an eviction. It lives on
 * the supervisor, so a plugin reload keeps the queue and the requests in it.
 */

/** Thrown when the queue is full; `retryAfterS` for the Retry-After header. */
export class QueueFull extends Error {
  constructor(readonly retryAfterS: number, readonly queued: number) {
    super(`${queued} requests are already waiting`);
  }
}

export class RequestGate {
  /** Requests being answered. */
  inFlight = 0;
  /** Requests waiting for the instance to start (they hold it: an instance with any is busy). */
  pending = 0;
  /** Set while an eviction waits for this instance: requests arriving now wait for it to stop, then place it again. */
  draining = false;
  readonly #queue: (() => void)[] = [];
  #idle: (() => void)[] = [];
  #stopped: (() => void)[] = [];
  /** Mean seconds a request held its slot (moving average), for Retry-After. */
  #meanS = 1;
  /** When the last request ended (ms), to tell a model in use from one between two requests. */
  lastEndAt = 0;

  get queued(): number {
    return this.#queue.length;
  }

  /** Any request in flight, queued or waiting for the start: never evicted, never stopped for idleness. */
  get busy(): boolean {
    return this.inFlight + this.pending + this.#queue.length > 0;
  }

  /**
   * Takes a slot: undefined when one is free now (no promise made), else a promise that resolves
   * when a slot is handed over. `parallel` 0 = no limit; `maxQueue` 0 = no limit; throws QueueFull.
   */
  acquire(parallel: number, maxQueue: number): Promise<void> | undefined {
    if (parallel <= 0 || this.inFlight < parallel) {
      this.inFlight++;
      return undefined;
    }
    if (maxQueue > 0 && this.#queue.length >= maxQueue) throw new QueueFull(this.retryAfterS(parallel), this.#queue.length);
    return new Promise<void>((resolve) => this.#queue.push(resolve));
  }

  /** Frees a slot (handed to the next in the queue); `seconds` the request took. */
  release(seconds: number): void {
    this.#meanS = this.#meanS * 0.8 + seconds * 0.2;
    this.lastEndAt = Date.now();
    const next = this.#queue.shift();
    if (next) return next(); // the slot passes on: inFlight unchanged
    this.inFlight--;
    if (!this.busy) this.#wake("idle");
  }

  /** Called when a request stops waiting for a start (it takes a slot next, or failed). */
  unpend(): void {
    this.pending--;
    if (!this.busy) this.#wake("idle");
  }

  /** Seconds until a slot is likely free: the queue ahead times the mean request, over the slots. */
  retryAfterS(parallel: number): number {
    return Math.max(1, Math.ceil(((this.#queue.length + 1) * this.#meanS) / Math.max(1, parallel)));
  }

  /** Resolves true once nothing is in flight, queued or pending, false after `ms`. */
  whenIdle(ms: number): Promise<boolean> {
    if (!this.busy) return Promise.resolve(true);
    return this.#wait("idle", ms);
  }

  /**
   * Resolves true once the instance has been idle for `quietMs` in a row (a client between two
   * requests is not done with it), false after `ms`.
   */
  async whenQuiet(quietMs: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.whenIdle(left))) return false;
      const quietFor = Date.now() - this.lastEndAt;
      if (quietFor >= quietMs) return true;
      await Bun.sleep(Math.min(quietMs - quietFor, Math.max(0, deadline - Date.now())));
      if (!this.busy && Date.now() - this.lastEndAt >= quietMs) return true;
    }
  }

  /** Resolves once the instance has stopped after a drain (or after `ms`). */
  whenStopped(ms: number): Promise<boolean> {
    if (!this.draining) return Promise.resolve(true);
    return this.#wait("stopped", ms);
  }

  /** The drain is over: the instance stopped, or the eviction gave up. */
  endDrain(): void {
    this.draining = false;
    this.#wake("stopped");
  }

  #wait(what: "idle" | "stopped", ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const list = what === "idle" ? this.#idle : this.#stopped;
      const timer = setTimeout(() => {
        const at = list.indexOf(done);
        if (at !== -1) list.splice(at, 1);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      list.push(done);
    });
  }

  #wake(what: "idle" | "stopped"): void {
    const list = what === "idle" ? this.#idle : this.#stopped;
    if (list.length === 0) return;
    if (what === "idle") this.#idle = [];
    else this.#stopped = [];
    for (const done of list) done();
  }
}
