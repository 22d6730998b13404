/** What plugins see of the cluster (`core.cluster`): this node, leadership for singleton work, the other nodes, messages between nodes. */
/** A node's row in the registry. */
export interface NodeView {
  id: string;
  name: string;
  url: string;
  version: string;
  started_at: string;
  last_heartbeat: string;
  labels: Record<string, string>;
  resources: Record<string, unknown>;
  status: "up" | "down";
}

/** One node as GET /api/v1/nodes lists it. */
export interface ClusterNodeView extends NodeView {
  /** Whether this node holds the leadership lease. */
  leader: boolean;
  /** Whether it is the node that answered. */
  self: boolean;
}

export interface CoreClusterService {
  /** True in cluster mode (PostgreSQL and cluster.enabled); false for a single node, which is always leader. */
  readonly enabled: boolean;
  readonly nodeId: string;
  readonly nodeName: string;
  /** Whether this node may do singleton work now (by its own clock; no query). */
  readonly isLeader: boolean;
  /** The fencing generation of the lease this node holds; null when it is not leader (1 for a single node). */
  readonly generation: number | null;
  /** Asks the database whether this node still leads with the same generation: call it right before a write only the leader may make. */
  confirmLeadership(): Promise<boolean>;
  /** Calls `fn(true)` when this node becomes leader (at once if it already is) and `fn(false)` when it stops; returns the unsubscribe function. */
  onLeadership(fn: (leader: boolean) => void): () => void;
  /** Every node that joined (this one included), with its status. */
  nodes(): Promise<ClusterNodeView[]>;
  node(id: string): Promise<ClusterNodeView | undefined>;
  /** Sends `data` (JSON) to every other node; a no-op on a single node. */
  broadcast(kind: string, data: unknown): Promise<void>;
  /** Runs `fn` for each message of `kind` another node broadcast; returns the unsubscribe function. */
  onMessage(kind: string, fn: (data: unknown, from: string) => void | Promise<void>): () => void;
}
