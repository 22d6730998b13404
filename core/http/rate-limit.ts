/**
 * Rate limits per caller and route class, with llamactl's X-RateLimit-* headers: fixed one-minute
 * windows on a single node; in a cluster, a sliding window over minute-aligned counts that every
 * node shares (core/cluster/shared-rate-counts.ts), so a caller's limit holds across nodes.
 */

export type RateClass = "regular" | "expensive" | "login";

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix time (seconds) when the window resets. */
  resetAt: number;
  retryAfterS: number;
}

export const WINDOW_MS = 60_000;

/** The other nodes' counts per minute-aligned window (cluster mode); the limiter reports this node's. */
export interface SharedCounts {
  /** What the other nodes counted for `id` in the window starting at `windowStart` (as last read). */
  others(id: string, windowStart: number): number;
  /** This node's count for `id` in that window, to publish. */
  report(id: string, windowStart: number, count: number): void;
}

export class RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAtMs: number }>();
  /** Cluster mode: this node's count per `id` and aligned window start. */
  readonly #aligned = new Map<string, number>();
  /** Finished windows are dropped once a minute, on a request (no timer: an idle gantry does nothing). */
  #nextSweepAt = 0;

  constructor(private readonly limits: () => Record<RateClass, number>, private readonly shared?: SharedCounts) {}

  /** Counts one request of `key` in `rateClass` and says whether it may proceed. */
  hit(key: string, rateClass: RateClass, now = Date.now()): RateDecision {
    const limit = this.limits()[rateClass];
    if (this.shared) return this.#slidingHit(this.shared, `${rateClass}:${key}`, limit, now);
    const id = `${rateClass}\u0000${key}`;
    if (now >= this.#nextSweepAt) {
      this.sweep(now);
      this.#nextSweepAt = now + WINDOW_MS;
    }
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

  /** The sliding-window estimate: this window's count plus the previous one's, weighted by how much of it still overlaps. */
  #slidingHit(shared: SharedCounts, id: string, limit: number, now: number): RateDecision {
    const start = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const current = (this.#aligned.get(`${id}@${start}`) ?? 0) + 1;
    this.#aligned.set(`${id}@${start}`, current);
    shared.report(id, start, current);
    const previous = (this.#aligned.get(`${id}@${start - WINDOW_MS}`) ?? 0) + shared.others(id, start - WINDOW_MS);
    const estimate = current + shared.others(id, start) + previous * (1 - (now - start) / WINDOW_MS);
    const allowed = estimate <= limit;
    return {
      allowed, limit,
      remaining: Math.max(0, Math.floor(limit - estimate)),
      resetAt: Math.ceil((start + WINDOW_MS) / 1000),
      retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000)),
    };
  }

  /** Windows held now (one per caller and route class that was heard within about two minutes). */
  get size(): number {
    return this.#windows.size + this.#aligned.size;
  }

  /** Drops finished windows; returns how many remain. */
  sweep(now = Date.now()): number {
    for (const [id, window] of this.#windows) if (window.resetAtMs <= now) this.#windows.delete(id);
    const oldest = Math.floor(now / WINDOW_MS) * WINDOW_MS - WINDOW_MS;
    for (const id of this.#aligned.keys()) if (Number(id.slice(id.lastIndexOf("@") + 1)) < oldest) this.#aligned.delete(id);
    return this.#windows.size + this.#aligned.size;
  }

  reset(): void {
    this.#windows.clear();
    this.#aligned.clear();
  }
}
