/**
 * Leadership by a lease in one row of cluster_leases. A node takes the lease when it is free or
 * expired (`UPDATE ... WHERE holder = me OR expires_at < now()`); every change of holder raises
 * `generation`, the fencing token that writes which matter check. The database's clock decides
 * expiry; the holder trusts its lease only until its own clock says the lease it asked for has run
 * out (counted from before it asked), so it stops acting before another node can take over.
 */
import type postgres from "postgres";

export class LeaderLease {
  #generation: number | null = null;
  /** performance.now() until which this node may act as the holder. */
  #until = 0;

  constructor(private readonly pg: postgres.Sql, readonly name: string, private readonly holder: string, private readonly leaseMs: () => number) {}

  /** Whether this node holds the lease now (by its own clock: no query). */
  get held(): boolean {
    return this.#generation !== null && performance.now() < this.#until;
  }

  /** The fencing generation while held, else null. */
  get generation(): number | null {
    return this.held ? this.#generation : null;
  }

  /** Takes or renews the lease; returns whether this node holds it. A database error counts as not renewed. */
  async tryAcquire(): Promise<boolean> {
    const asked = performance.now();
    const leaseMs = this.leaseMs();
    const interval = `${leaseMs} milliseconds`;
    const rows = await this.pg`
      INSERT INTO cluster_leases AS l (name, holder, generation, expires_at)
      VALUES (${this.name}, ${this.holder}, 1, now() + ${interval}::interval)
      ON CONFLICT (name) DO UPDATE SET
        holder = excluded.holder,
        generation = CASE WHEN l.holder = excluded.holder AND l.expires_at >= now() THEN l.generation ELSE l.generation + 1 END,
        expires_at = excluded.expires_at
      WHERE l.holder = excluded.holder OR l.expires_at < now()
      RETURNING generation`;
    if (rows.length === 0) {
      this.#generation = null;
      return false;
    }
    this.#generation = Number(rows[0]!.generation);
    this.#until = asked + leaseMs;
    return true;
  }

  /** Asks the database whether this node still holds the lease with the same generation (before a write that matters). */
  async confirm(): Promise<boolean> {
    const generation = this.generation;
    if (generation === null) return false;
    const rows = await this.pg`
      SELECT 1 FROM cluster_leases WHERE name = ${this.name} AND holder = ${this.holder} AND generation = ${generation} AND expires_at > now()`;
    return rows.length === 1;
  }

  /** Gives the lease up at once (graceful stop), so another node need not wait for it to expire. */
  async release(): Promise<void> {
    if (this.#generation === null) return;
    this.#generation = null;
    await this.pg`UPDATE cluster_leases SET expires_at = now() - interval '1 millisecond' WHERE name = ${this.name} AND holder = ${this.holder}`;
  }

  /** Forgets the lease locally (after a failed renewal that may still be pending in the database). */
  drop(): void {
    this.#generation = null;
  }
}
