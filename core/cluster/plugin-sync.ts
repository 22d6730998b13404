/**
 * Plugin changes across a cluster: an install, reload, uninstall, enable or disable on one node is
 * carried out by every node (each loads the plugin from the same path), and each node records how
 * it went in cluster_plugin_status, which GET /api/v1/plugins/{name} reports per node.
 */
import type postgres from "postgres";
import type { CoreClusterService } from "../kernel/cluster-service.ts";
import { messageOf } from "../kernel/errors.ts";
import type { EventBus, GantryEvent } from "../kernel/events.ts";
import type { Logger } from "../kernel/logger.ts";
import type { PluginHost } from "../kernel/plugin-host.ts";

/** How one node carried out the last change of a plugin. */
export interface PluginNodeStatus {
  node: string;
  name: string;
  action: string;
  ok: boolean;
  error: string | null;
  at: string;
}

const ACTIONS: Record<string, string> = {
  plugin_installed: "install", plugin_reloaded: "reload", plugin_uninstalled: "uninstall", plugin_enabled: "enable", plugin_disabled: "disable",
};

export interface PluginSyncParts {
  cluster: CoreClusterService;
  host: PluginHost;
  events: EventBus;
  pg: postgres.Sql;
  log: Logger;
}

/** Subscribes to plugin events; returns the per-node report for a plugin. */
export function syncPlugins(parts: PluginSyncParts): (plugin: string) => Promise<PluginNodeStatus[]> {
  const { cluster, host, events, pg, log } = parts;
  const record = async (plugin: string, action: string, error: string | null) => {
    await pg`
      INSERT INTO cluster_plugin_status (plugin, node, action, ok, error, at) VALUES (${plugin}, ${cluster.nodeId}, ${action}, ${error === null}, ${error}, now())
      ON CONFLICT (plugin, node) DO UPDATE SET action = excluded.action, ok = excluded.ok, error = excluded.error, at = excluded.at`
      .catch((failure) => log.warn({ plugin, err: messageOf(failure) }, "plugin status not recorded"));
  };
  const apply = async (event: GantryEvent) => {
    const action = ACTIONS[event.type]!;
    const { name } = event.data as { name: string };
    try {
      if (action === "install") {
        if (!host.list().some((p) => p.name === name)) {
          const [row] = await pg`SELECT path FROM plugins WHERE name = ${name}`;
          if (!row) throw new Error(`plugin '${name}' is not recorded in the database`);
          await host.install(String(row.path), { replica: true });
        }
      } else if (action === "reload") await host.reload(name, { replica: true });
      else if (action === "uninstall") {
        if (host.list().some((p) => p.name === name)) await host.uninstall(name, { force: true, replica: true });
      } else await host.setEnabled(name, action === "enable", { force: true, replica: true });
      await record(name, action, null);
    } catch (error) {
      log.warn({ plugin: name, action, from: event.node, err: messageOf(error) }, "plugin change from another node failed here");
      await record(name, action, messageOf(error));
    }
  };
  for (const type of Object.keys(ACTIONS)) {
    events.subscribe(type, (event) => {
      const { name, replica } = event.data as { name: string; replica?: boolean };
      if (replica) return; // carried out because of another node's change: not carried out again
      if (event.node === cluster.nodeId) return record(name, ACTIONS[type]!, null); // done here first
      if (event.node !== undefined) return apply(event);
    });
  }
  return async (plugin) => {
    const rows = await pg`
      SELECT s.node, coalesce(n.name, s.node) AS name, s.action, s.ok, s.error, (extract(epoch FROM s.at) * 1000)::bigint AS at_ms
      FROM cluster_plugin_status s LEFT JOIN cluster_nodes n ON n.id = s.node WHERE s.plugin = ${plugin} ORDER BY name`;
    return rows.map((r) => ({
      node: String(r.node), name: String(r.name), action: String(r.action), ok: r.ok === true || r.ok === "t" || r.ok === "true",
      error: r.error === null ? null : String(r.error), at: new Date(Number(r.at_ms)).toISOString(),
    }));
  };
}
