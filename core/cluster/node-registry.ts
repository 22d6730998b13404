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


interface NodeRow {
  id: string;
  name: string;
  url: string;
  version: string;
  started_at: Date;
  last_heartbeat: Date;
  labels: Record<string, string>;
  resources: Record<string, unknown>;
  down: boolean;
}

export class NodeRegistry {
  constructor(private readonly pg: postgres.Sql, private readonly timeoutS: () => number) {}

  /** Writes this node's row (a restart of the same node id replaces it). */
  async register(self: NodeSelf): Promise<void> {
    const labels = this.pg.json(self.labels);
    const resources = this.pg.json(self.resources as postgres.JSONValue);
    await this.pg`
      INSERT INTO cluster_nodes (id, name, url, version, started_at, last_heartbeat, labels, resources, down_since)
      VALUES (${self.id}, ${self.name}, ${self.url}, ${self.version}, ${self.startedAt}, now(), ${labels}, ${resources}, NULL)
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

  async list(): Promise<NodeView[]> {
    const rows = await this.pg<NodeRow[]>`SELECT *, ${this.#downSql()} AS down FROM cluster_nodes ORDER BY name, id`;
    return rows.map(viewOf);
  }

  async get(id: string): Promise<NodeView | undefined> {
    const [row] = await this.pg<NodeRow[]>`SELECT *, ${this.#downSql()} AS down FROM cluster_nodes WHERE id = ${id}`;
    return row ? viewOf(row) : undefined;
  }

  /** Deletes a down node's row; "alive" when the node is up (it would register again at its next heartbeat anyway). */
  async forget(id: string): Promise<"forgotten" | "alive" | "unknown"> {
    const deleted = await this.pg`DELETE FROM cluster_nodes WHERE id = ${id} AND ${this.#downSql()} RETURNING id`;
    if (deleted.length === 1) return "forgotten";
    return (await this.get(id)) ? "alive" : "unknown";
  }

  #downSql() {
    return this.pg`(down_since IS NOT NULL OR last_heartbeat < now() - make_interval(secs => ${this.timeoutS()}))`;
  }
}

function viewOf(row: NodeRow): NodeView {
  return {
    id: row.id, name: row.name, url: row.url, version: row.version,
    started_at: row.started_at.toISOString(), last_heartbeat: row.last_heartbeat.toISOString(),
    labels: row.labels, resources: row.resources, status: row.down ? "down" : "up",
  };
}
