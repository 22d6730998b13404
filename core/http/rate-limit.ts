/** Fixed-window rate limits per caller and route class, with llamactl's X-RateLimit-* headers. */

export type RateClass = "regular" | "expensive" | "login";

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix time (seconds) when the window resets. */
  resetAt: number;
  retryAfterS: number;
}

const WINDOW_MS = 60_000;

export class RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAtMs: number }>();

  constructor(private readonly limits: () => Record<RateClass, number>) {}

  /** Counts one request of `key` in `rateClass` and says whether it may proceed. */
  hit(key: string, rateClass: RateClass, now = Date.now()): RateDecision {
    const limit = this.limits()[rateClass];
    const id = `${rateClass}\u0000${key}`;
    let window = this.#windows.get(id);
    if (!window || window.resetAtMs <= now) {
      window = { count: 0, resetAtMs: now + WINDOW_MS };
      this.#windows.set(id, window);
    }
    window.count++;
    const allowed = window.count <= limit;
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - window.count),
      resetAt: Math.ceil(window.resetAtMs / 1000),
      retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((window.resetAtMs - now) / 1000)),
    };
  }

  /** Drops finished windows; returns how many remain. */
  sweep(now = Date.now()): number {
    for (const [id, window] of this.#windows) if (window.resetAtMs <= now) this.#windows.delete(id);
    return this.#windows.size;
  }

  reset(): void {
    this.#windows.clear();
  }
}
