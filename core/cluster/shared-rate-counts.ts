/**
 * Rate-limit counts shared by the nodes of a cluster: each node publishes its own count per caller
 * and minute to cluster_rate_counts and reads the others' sums, every `syncMs`. Requests stay free
 * of database round trips; the price is that a burst spread over nodes is seen up to `syncMs` late.
 */
import type postgres from "postgres";
import type { SharedCounts } from "../http/rate-limit.ts";
import { WINDOW_MS } from "../http/rate-limit.ts";

export class SharedRateCounts implements SharedCounts {
  #others = new Map<string, number>();
  readonly #dirty = new Map<string, { id: string; start: number; count: number }>();
  /** Run after each sync (the limiter drops its finished windows). */
  afterSync: () => void = () => {};

  constructor(private readonly pg: postgres.Sql, private readonly node: string) {}

  others(id: string, windowStart: number): number {
    return this.#others.get(`${id}@${windowStart}`) ?? 0;
  }

  report(id: string, windowStart: number, count: number): void {
    this.#dirty.set(`${id}@${windowStart}`, { id, start: windowStart, count });
  }

  /** Publishes this node's new counts and reads the others' for the current and previous minute. */
  async sync(now = Date.now()): Promise<void> {
    const dirty = [...this.#dirty.values()];
    this.#dirty.clear();
    if (dirty.length > 0) {
      const rows = dirty.map((d) => ({ id: d.id, window_start: d.start, node: this.node, count: d.count }));
      await this.pg`
        INSERT INTO cluster_rate_counts ${this.pg(rows, "id", "window_start", "node", "count")}
        ON CONFLICT (id, window_start, node) DO UPDATE SET count = greatest(cluster_rate_counts.count, excluded.count)`;
    }
    const since = Math.floor(now / WINDOW_MS) * WINDOW_MS - WINDOW_MS;
    const sums = await this.pg`
      SELECT id, window_start, sum(count)::bigint AS total FROM cluster_rate_counts
      WHERE node <> ${this.node} AND window_start >= ${since} GROUP BY id, window_start`;
    this.#others = new Map(sums.map((r) => [`${r.id}@${Number(r.window_start)}`, Number(r.total)]));
    this.afterSync();
  }

  /** Deletes counts of windows no estimate reads any more (the leader does it). */
  async prune(now = Date.now()): Promise<void> {
    await this.pg`DELETE FROM cluster_rate_counts WHERE window_start < ${Math.floor(now / WINDOW_MS) * WINDOW_MS - 2 * WINDOW_MS}`;
  }
}
