/** The nodes of the cluster: list, one, forget a dead one. A single node (SQLite, or cluster mode off) lists itself. */
import { t } from "elysia";
import type { RolesApp } from "../auth/roles.ts";
import type { ClusterRuntime } from "../cluster/cluster.ts";
import { Errors } from "../kernel/errors.ts";

const NodeSchema = t.Object({
  id: t.String(), name: t.String(), url: t.String({ description: "advertised base URL other nodes reach it at" }), version: t.String(),
  started_at: t.String(), last_heartbeat: t.String(),
  labels: t.Record(t.String(), t.String()), resources: t.Record(t.String(), t.Unknown()),
  status: t.Union([t.Literal("up"), t.Literal("down")]),
  leader: t.Boolean({ description: "holds the leadership lease (singleton work runs there)" }),
  self: t.Boolean({ description: "the node that answered this request" }),
});
const NodeId = t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) });

export function clusterRoutes(cluster: ClusterRuntime) {
  const { service } = cluster;
  return (app: RolesApp) =>
    app
      .get("/api/v1/nodes", async () => ({
        cluster: service.enabled, node: service.nodeId,
        leader: { is_self: service.isLeader, generation: service.generation },
        nodes: await service.nodes(),
      }), {
        role: "viewer",
        response: t.Object({
          cluster: t.Boolean({ description: "true in cluster mode; false for a single node" }),
          node: t.String({ description: "id of the node that answered" }),
          leader: t.Object({ is_self: t.Boolean(), generation: t.Union([t.Integer(), t.Null()], { description: "fencing generation of the lease this node holds" }) }),
          nodes: t.Array(NodeSchema),
        }),
        detail: { summary: "Nodes of the cluster with their status; a node without heartbeats for cluster.node_timeout_s is down", tags: ["cluster"] },
      })
      .get("/api/v1/nodes/:id", async ({ params }) => {
        const node = await service.node(params.id);
        if (!node) throw Errors.NODE_NOT_FOUND([params.id]);
        return node;
      }, { role: "viewer", params: NodeId, response: NodeSchema, detail: { summary: "One node", tags: ["cluster"] } })
      .delete("/api/v1/nodes/:id", async ({ params }) => {
        const outcome = await cluster.forget(params.id);
        if (outcome === "unknown") throw Errors.NODE_NOT_FOUND([params.id]);
        if (outcome === "alive") throw Errors.NODE_ALIVE([params.id]);
        return { message: "Node forgotten", id: params.id };
      }, {
        role: "admin", params: NodeId, response: t.Object({ message: t.String(), id: t.String() }),
        detail: { summary: "Forget a node that is down (409 while it is up)", tags: ["cluster"] },
      });
}
