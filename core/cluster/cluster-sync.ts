/**
 * Keeps what each node caches in memory the same across the cluster: session revocations, API keys,
 * users, feature flags, the configuration and POST /api/v1/infra/cache-invalidate reach every node.
 */
import type { Security } from "../auth/security.ts";
import type { ConfigManager } from "../kernel/config-manager.ts";
import { messageOf } from "../kernel/errors.ts";
import type { EventBus } from "../kernel/events.ts";
import type { FlagRegistry } from "../kernel/flags.ts";
import type { Logger } from "../kernel/logger.ts";
import type { CoreClusterService } from "../kernel/cluster-service.ts";

export interface ClusterSyncParts {
  cluster: CoreClusterService;
  security: Security;
  flags: FlagRegistry;
  config: ConfigManager;
  events: EventBus;
  log: Logger;
  /** Runs this node's cache invalidators (not broadcasting again). */
  invalidateLocal: () => Promise<unknown>;
}

/** Wires the messages; returns the function that broadcasts a cache invalidation to the other nodes. */
export function syncAcrossNodes(parts: ClusterSyncParts): { cacheInvalidated: () => void } {
  const { cluster, security, flags, config, log } = parts;
  if (!cluster.enabled) return { cacheInvalidated: () => {} };
  const send = (kind: string, data: unknown = null) => void cluster.broadcast(kind, data);
  const guarded = (what: string, work: () => unknown) => async () => {
    try {
      await work();
    } catch (error) {
      log.warn({ what, err: messageOf(error) }, "change from another node not applied");
    }
  };

  // Awaited: when logout answers, the other nodes have been told (they refuse the token as soon as the notification lands).
  security.sessions.onRevoked = (familyId) => cluster.broadcast("sessions.revoked", { family_id: familyId });
  cluster.onMessage("sessions.revoked", (data) => security.sessions.markRevoked((data as { family_id: string }).family_id));
  security.keys.onChanged = () => send("api_keys.changed");
  cluster.onMessage("api_keys.changed", guarded("api_keys", () => security.keys.reload()));
  security.users.onChanged = () => send("users.changed");
  cluster.onMessage("users.changed", guarded("users", () => security.users.reload()));

  // feature_flag_changed is an event, so it already reaches every node: one from another node re-reads the values.
  parts.events.subscribe("feature_flag_changed", (event) => {
    if (event.node !== undefined && event.node !== cluster.nodeId) return guarded("feature_flags", () => flags.reload())();
  });

  // Each node re-reads its own gantry.toml and environment: a reload on one node reloads all.
  let applyingRemote = false;
  config.onChange(() => {
    if (!applyingRemote) send("config.reloaded");
  });
  cluster.onMessage("config.reloaded", guarded("config", () => {
    applyingRemote = true;
    try {
      config.reload();
    } finally {
      applyingRemote = false;
    }
  }));

  cluster.onMessage("cache.invalidated", guarded("cache", parts.invalidateLocal));
  return { cacheInvalidated: () => send("cache.invalidated") };
}
