/** The nodes of a cluster in cluster_nodes: each registers and heartbeats; the leader marks silent ones down. */
import type postgres from "postgres";
import type { NodeView } from "../kernel/cluster-service.ts";

export interface NodeSelf {
  id: string;
  name: string;
  url: string;
  version: string;
  startedAt: Date;
  labels: Record<string, string>;
  resources: Record<string, unknown>;
}


/** Times as epoch milliseconds and JSON as text: drizzle's client hands every value back as PostgreSQL wrote it. */
interface NodeRow {
  id: string;
  name: string;
  url: string;
  version: string;
  started_ms: string | number;
  heartbeat_ms: string | number;
  labels: string;
  resources: string;
  down: boolean;
  leader: boolean;
}

export class NodeRegistry {
  constructor(private readonly pg: postgres.Sql, private readonly timeoutS: () => number, private readonly leaseName: string) {}

  /** Writes this node's row (a restart of the same node id replaces it). */
  async register(self: NodeSelf): Promise<void> {
    // As text cast in SQL: drizzle's postgres.js client sends every parameter as text.
    const labels = JSON.stringify(self.labels);
    const resources = JSON.stringify(self.resources);
    await this.pg`
      INSERT INTO cluster_nodes (id, name, url, version, started_at, last_heartbeat, labels, resources, down_since)
      VALUES (${self.id}, ${self.name}, ${self.url}, ${self.version}, ${self.startedAt.toISOString()}::timestamptz, now(), ${labels}::jsonb, ${resources}::jsonb, NULL)
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url, version = excluded.version, started_at = excluded.started_at,
        last_heartbeat = now(), labels = excluded.labels, resources = excluded.resources, down_since = NULL`;
  }

  /** Records a heartbeat; returns "revived" when the node had been marked down, "missing" when its row was forgotten. */
  async heartbeat(id: string): Promise<"ok" | "revived" | "missing"> {
    const rows = await this.pg`
      WITH previous AS (SELECT down_since FROM cluster_nodes WHERE id = ${id})
      UPDATE cluster_nodes SET last_heartbeat = now(), down_since = NULL WHERE id = ${id}
      RETURNING (SELECT down_since IS NOT NULL FROM previous) AS was_down`;
    if (rows.length === 0) return "missing";
    return rows[0]!.was_down ? "revived" : "ok";
  }

  /** Marks nodes whose heartbeat is older than node_timeout_s as down; returns the ones newly marked. */
  async markSilentDown(): Promise<{ id: string; name: string; url: string }[]> {
    const rows = await this.pg`
      UPDATE cluster_nodes SET down_since = now()
      WHERE down_since IS NULL AND last_heartbeat < now() - make_interval(secs => ${this.timeoutS()})
      RETURNING id, name, url`;
    return rows.map((r) => ({ id: r.id as string, name: r.name as string, url: r.url as string }));
  }

  /** Marks this node down at once (graceful stop). */
  async leave(id: string): Promise<void> {
    await this.pg`UPDATE cluster_nodes SET down_since = now() WHERE id = ${id}`;
  }

  async list(): Promise<(NodeView & { leader: boolean })[]> {
    const rows = await this.pg<NodeRow[]>`SELECT ${this.#columnsSql()}, ${this.#downSql()} AS down, ${this.#leaderSql()} AS leader FROM cluster_nodes ORDER BY name, id`;
    return rows.map(viewOf);
  }

  async get(id: string): Promise<(NodeView & { leader: boolean }) | undefined> {
    const [row] = await this.pg<NodeRow[]>`SELECT ${this.#columnsSql()}, ${this.#downSql()} AS down, ${this.#leaderSql()} AS leader FROM cluster_nodes WHERE id = ${id}`;
    return row ? viewOf(row) : undefined;
  }

  /** Deletes a down node's row; "alive" when the node is up (it would register again at its next heartbeat anyway). */
  async forget(id: string): Promise<"forgotten" | "alive" | "unknown"> {
    const deleted = await this.pg`DELETE FROM cluster_nodes WHERE id = ${id} AND ${this.#downSql()} RETURNING id`;
    if (deleted.length === 1) return "forgotten";
    return (await this.get(id)) ? "alive" : "unknown";
  }

  /** Whether the node holds an unexpired leadership lease. */
  #leaderSql() {
    return this.pg`EXISTS (SELECT 1 FROM cluster_leases l WHERE l.name = ${this.leaseName} AND l.holder = cluster_nodes.id AND l.expires_at > now())`;
  }

  #columnsSql() {
    return this.pg`id, name, url, version, (extract(epoch FROM started_at) * 1000)::bigint AS started_ms,
      (extract(epoch FROM last_heartbeat) * 1000)::bigint AS heartbeat_ms, labels::text AS labels, resources::text AS resources`;
  }

  #downSql() {
    return this.pg`(down_since IS NOT NULL OR last_heartbeat < now() - make_interval(secs => ${this.timeoutS()}))`;
  }
}

function viewOf(row: NodeRow): NodeView & { leader: boolean } {
  return {
    id: row.id, name: row.name, url: row.url, version: row.version,
    started_at: new Date(Number(row.started_ms)).toISOString(), last_heartbeat: new Date(Number(row.heartbeat_ms)).toISOString(),
    labels: JSON.parse(row.labels), resources: JSON.parse(row.resources), status: row.down ? "down" : "up", leader: row.leader,
  };
}
