/** Promises and timers started on behalf of an owner (a plugin generation or a kept resource): aborted, cleared and awaited when it goes. */

export interface Timers {
  /** Like setTimeout; returns the function that cancels it. The callback's promise, if any, is tracked. */
  setTimeout(fn: () => unknown, ms: number): () => void;
  /** Like setInterval; returns the function that cancels it. Each run's promise, if any, is tracked. */
  setInterval(fn: () => unknown, ms: number): () => void;
}

export class BackgroundWork implements Timers {
  readonly #promises = new Set<Promise<unknown>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #intervals = new Set<ReturnType<typeof setInterval>>();

  /** `assertOpen` throws when the owner no longer takes new work (it names the call refused). */
  constructor(private readonly assertOpen: (what: string) => void, private readonly onError: (error: unknown) => void) {}

  /** Keeps `promise` in the set that disposal waits for; returns it unchanged. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.assertOpen("track");
    this.#add(promise);
    return promise;
  }

  #add(promise: Promise<unknown>): void {
    const settled: Promise<unknown> = promise.then(() => undefined, () => undefined).finally(() => this.#promises.delete(settled));
    this.#promises.add(settled);
  }

  setTimeout(fn: () => unknown, ms: number): () => void {
    this.assertOpen("setTimeout");
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#run(fn);
    }, ms);
    this.#timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
  }

  setInterval(fn: () => unknown, ms: number): () => void {
    this.assertOpen("setInterval");
    const timer = setInterval(() => this.#run(fn), ms);
    this.#intervals.add(timer);
    return () => {
      clearInterval(timer);
      this.#intervals.delete(timer);
    };
  }

  /** Promises not settled yet and timers not fired or cleared yet. */
  get pending(): { promises: number; timers: number } {
    return { promises: this.#promises.size, timers: this.#timers.size + this.#intervals.size };
  }

  /** Clears every timer, then waits for the tracked promises; true when they all settled within `timeoutMs`. */
  async settle(timeoutMs: number): Promise<boolean> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const timer of this.#intervals) clearInterval(timer);
    this.#timers.clear();
    this.#intervals.clear();
    if (this.#promises.size === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const all = Promise.all([...this.#promises]).then(() => true);
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #run(fn: () => unknown): void {
    try {
      const result = fn();
      if (result instanceof Promise) this.#add(result.catch((error) => this.onError(error)));
    } catch (error) {
      this.onError(error);
    }
  }
}
