/** Assembles gantry: config, database, logging, registries, the plugin host and the HTTP server. */
import type { DestinationStream } from "pino";
import { createSecurity, type Security } from "./auth/security.ts";
import { OutboundGuard } from "./kernel/outbound-guard.ts";
import { coreRoutes } from "./http/core-routes.ts";
import { featureRoutes } from "./http/feature-routes.ts";
import { pluginRoutes } from "./http/plugin-routes.ts";
import { loadConfig, type GantryConfig } from "./kernel/config.ts";
import { ConfigManager, changedKeys } from "./kernel/config-manager.ts";
import { CORE_OWNER, provideCoreServices, type CoreIdentityService, type CorePluginsService, type CoreSecretsService } from "./kernel/core-services.ts";
import { ProcessRegistry } from "./kernel/processes.ts";
import { KeepRegistry } from "./kernel/keeps.ts";
import { databaseSettings, openDatabase, type DatabaseHandle } from "./storage/db.ts";
import { lockDataDir, type DataDirLock } from "./storage/data-dir-lock.ts";
import { logDataDirNarrowing } from "./storage/private-files.ts";
import { EventBus } from "./kernel/events.ts";
import { FlagRegistry } from "./kernel/flags.ts";
import { buildRootApp, type AppParts, type HttpLimits } from "./http/http-app.ts";
import { LoggerRegistry } from "./kernel/logger.ts";
import { MetricsRegistry } from "./kernel/metrics.ts";
import { OwnedRegistry } from "./kernel/owned-registry.ts";
import type { CoreParts, RegisteredAgent, RegisteredCommand, RegisteredHook, RegisteredSkill } from "./kernel/plugin-context.ts";
import type { PeriodicTask } from "./kernel/periodic-tasks.ts";
import { PluginHost, type PluginHostOptions } from "./kernel/plugin-host.ts";
import { corsPolicy } from "./http/cors.ts";
import { RoutingServer } from "./http/server.ts";
import { ServiceRegistry } from "./kernel/services.ts";
import { Errors, messageOf } from "./kernel/errors.ts";
import { createCluster, type ClusterRuntime } from "./cluster/cluster.ts";
import { syncAcrossNodes } from "./cluster/cluster-sync.ts";
import { syncPlugins, type PluginNodeStatus } from "./cluster/plugin-sync.ts";
import { assertSharedSecretKey } from "./cluster/shared-secret-key.ts";
import { clusterRoutes } from "./http/cluster-routes.ts";
import { invalidateEverything } from "./kernel/core-services.ts";
import { PathGuard } from "./kernel/path-guard.ts";
import pkg from "../package.json" with { type: "json" };

export interface GantryOptions {
  /** Where log lines go (tests read them); stdout by default. */
  logDestination?: DestinationStream;
  /** Prints the first-start credentials; defaults to stdout. */
  announce?: (text: string) => void;
  /** Re-reads the configuration sources for a live reload; defaults to gantry.toml + environment. */
  reloadConfig?: () => GantryConfig;
}

export interface Gantry {
  /** The running configuration (replaced by a successful reload). */
  readonly config: GantryConfig;
  readonly configManager: ConfigManager;
  readonly core: CoreParts;
  readonly host: PluginHost;
  readonly security: Security;
  readonly loggers: LoggerRegistry;
  readonly routing: RoutingServer;
  readonly cluster: ClusterRuntime;
  /** Base URL once listening, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Handles one request without a socket (tests). */
  handle(request: Request): Promise<Response>;
  listen(): Promise<string>;
  /** Graceful shutdown: stop accepting, finish in-flight requests, dispose plugins in reverse order, close the DB. */
  stop(): Promise<void>;
}

/** Builds a gantry from a validated config; call `listen()` to serve. */
export async function createGantry(config: GantryConfig, options: GantryOptions = {}): Promise<Gantry> {
  // Before anything reads or writes the folder: a second gantry on it would reap the first's model servers.
  const dataDirLock = lockDataDir(config.data_dir, "gantry serve");
  try {
    return await assemble(config, options, dataDirLock);
  } catch (error) {
    dataDirLock.release();
    throw error;
  }
}

async function assemble(config: GantryConfig, options: GantryOptions, dataDirLock: DataDirLock): Promise<Gantry> {
  const startedAt = Date.now();
  const loggers = new LoggerRegistry({ level: config.log.level, format: config.log.format, destination: options.logDestination });
  const log = loggers.root;
  logDataDirNarrowing(log, config.data_dir, dataDirLock.narrowing);
  const database: DatabaseHandle = await openDatabase(databaseSettings(config));
  const events = new EventBus((error, event) => log.warn({ event: event.type, err: messageOf(error) }, "event handler failed"));
  const metrics = new MetricsRegistry();
  const configManager = new ConfigManager(config, options.reloadConfig ?? (() => loadConfig()));
  const flags = new FlagRegistry(database.db, events);
  await flags.reload();
  const processes = new ProcessRegistry();
  const core: CoreParts = {
    database, loggers, events, metrics, flags,
    services: new ServiceRegistry(),
    commands: new OwnedRegistry<RegisteredCommand>("Command"),
    agents: new OwnedRegistry<RegisteredAgent>("Agent"),
    mcpServers: new OwnedRegistry("MCP server"),
    skills: new OwnedRegistry<RegisteredSkill>("Skill"),
    hooks: new OwnedRegistry<RegisteredHook>("Hook"),
    tasks: new OwnedRegistry<PeriodicTask>("Periodic task"),
    invalidators: new OwnedRegistry<() => void | Promise<void>>("Cache invalidator"),
    processes,
    keeps: new KeepRegistry(processes, log, () => configManager.current.plugins.dispose_timeout_ms),
    pluginConfig: (name) => configManager.current.plugin[name] ?? {},
    dataDir: config.data_dir,
    paths: new PathGuard(config.data_dir),
  };

  // Cluster mode (PostgreSQL + cluster.enabled) or one node that always leads; it joins once listening.
  const cluster = createCluster({ config, database, events, log, version: pkg.version });

  // One guard for every URL gantry fetches on someone's word (outbound.allow applies at each check).
  const outbound = new OutboundGuard(() => ({ allow: configManager.current.outbound.allow, maxRedirects: configManager.current.outbound.max_redirects }));
  const security = await createSecurity({
    database, config: configManager, adminPassword: process.env.GANTRY_ADMIN_PASSWORD, log, outbound,
    announce: options.announce ?? ((text: string) => process.stdout.write(text)),
    sharedRateCounts: cluster.rateCounts,
  });
  if (cluster.rateCounts) cluster.rateCounts.afterSync = () => void security.limiter.sweep();
  // Values one node seals (OIDC client secret, instance env values) must open on every node.
  if (cluster.service.enabled) await assertSharedSecretKey(database.db, security.secrets.keyId);

  const routing = new RoutingServer(() => limits);
  const limitsOf = (c: GantryConfig): HttpLimits => ({
    bodyLimitBytes: c.server.body_limit_bytes,
    headerLimitBytes: c.server.header_limit_bytes,
    maxJsonDepth: c.server.max_json_depth,
    minFreeDiskBytes: c.health.min_free_disk_bytes,
    logRequests: c.log.requests,
    quietPaths: new Set(c.log.quiet_paths),
    cors: corsPolicy(c.server.cors),
    publicDocs: c.server.public_docs,
  });
  let limits = limitsOf(config);
  const clientIp = (request: Request) => routing.clientIp(request);
  const appParts: AppParts = {
    log, metrics,
    limits: () => limits,
    auth: security.authenticator,
    guards: security.guards,
    clientIp,
    coreRoutes: [
      coreRoutes({ metrics, events, database, dataDir: config.data_dir, startedAt, minFreeDiskBytes: () => limits.minFreeDiskBytes }),
      security.routes(clientIp),
      clusterRoutes(cluster),
    ],
  };
  const hostOptions: PluginHostOptions = {
    builtinDir: config.plugins.dir,
    disabled: config.plugins.disabled,
    setupTimeoutMs: config.plugins.setup_timeout_ms,
    disposeTimeoutMs: config.plugins.dispose_timeout_ms,
    log,
    commitRoutes(instances) {
      const { app, routesByPlugin, direct } = buildRootApp(appParts, instances);
      routing.swap(app, direct);
      return routesByPlugin;
    },
  };
  const host = new PluginHost(core, hostOptions);
  const pluginNodes: { report?: (plugin: string) => Promise<PluginNodeStatus[]> } = {};
  appParts.coreRoutes.push(
    pluginRoutes({ host, commands: core.commands, agents: core.agents, skills: core.skills, services: core.services, identify: (request) => security.authenticator.identify(request), nodes: pluginNodes }),
    featureRoutes(flags, (request) => security.authenticator.identify(request)),
  );

  // What a config reload can change in the running process.
  configManager.onChange((next, previous) => {
    limits = limitsOf(next);
    if (next.log.level !== previous.log.level) loggers.setLevel("gantry", next.log.level);
    hostOptions.setupTimeoutMs = next.plugins.setup_timeout_ms;
    hostOptions.disposeTimeoutMs = next.plugins.dispose_timeout_ms;
    // Routes are compiled with or without the rate-limit check: turning it on or off rebuilds them.
    if (next.rate_limit.enabled !== previous.rate_limit.enabled) host.rebuildRoutes();
    // Plugins that read a section of their own at each use (instances: [models]) hear of the change.
    core.events.publish("config_reloaded", { changed: changedKeys(previous, next) });
  });
  // Hot-path values core caches; POST /api/v1/infra/cache-invalidate drops them.
  for (const [key, invalidate] of Object.entries(security.invalidators)) core.invalidators.add(key, CORE_OWNER, invalidate);
  core.invalidators.add("http_limits", CORE_OWNER, () => {
    limits = limitsOf(configManager.current);
  });
  core.invalidators.add("feature_flags", CORE_OWNER, () => flags.reload());
  const sync = syncAcrossNodes({
    cluster: cluster.service, security, flags, config: configManager, events, log,
    invalidateLocal: () => invalidateEverything(core.invalidators),
  });
  provideCoreServices({ ...core, config: configManager, audit: security.audit, startedAt: new Date(startedAt), cacheInvalidated: sync.cacheInvalidated, outbound });
  core.services.provide(CORE_OWNER, "core.cluster", cluster.service);
  core.services.provide(CORE_OWNER, "core.identity", {
    identify: async (request: Request) => {
      const identity = await security.authenticator.identify(request);
      return identity ? { subject: identity.subject, role: identity.role, ...(identity.scope ? { scope: identity.scope } : {}) } : undefined;
    },
    scoped: () => security.keys.scoped,
  } satisfies CoreIdentityService);
  core.services.provide(CORE_OWNER, "core.secrets", security.secrets satisfies CoreSecretsService);
  core.services.provide(CORE_OWNER, "core.plugins", {
    list: () => host.list().map((p) => ({ name: p.name, version: p.version, status: p.status, source: p.source })),
    whenStarted: () => host.whenStarted(),
  } satisfies CorePluginsService);

  // Cluster mode: plugin changes on one node are carried out by all, and reported per node.
  if (cluster.service.enabled && database.pg) pluginNodes.report = syncPlugins({ cluster: cluster.service, host, events, pg: database.pg, log });

  const bare = buildRootApp(appParts, []);
  routing.swap(bare.app, bare.direct);
  await host.start();

  let stopping: Promise<void> | undefined;
  const gantry: Gantry = {
    get config() {
      return configManager.current;
    },
    configManager, core, host, security, loggers, routing, cluster,
    url: "",
    handle: (request) => routing.handle(request),
    async listen() {
      // gantry answers 413 itself (from Content-Length, or counting a chunked body); Bun's own cap is
      // fixed at listen and answers with an empty body, so it is only a backstop well above the limit.
      const server = await routing.listen(config.server.host, config.server.port, Math.max(config.server.body_limit_bytes * 4, 128 * 1024 * 1024))
        .catch((error) => {
          throw Errors.LISTEN_FAILED([`${config.server.host}:${config.server.port}`, messageOf(error)]);
        });
      gantry.url = `http://${config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host}:${server.port}`;
      await cluster.start(gantry.url);
      log.info({ url: gantry.url, plugins: host.activeInstances().map((i) => i.plugin), startup_ms: Date.now() - startedAt }, "gantry listening");
      loggers.flush(); // at once, not with the next block of lines: supervisors wait for this one
      return gantry.url;
    },
    stop() {
      stopping ??= (async () => {
        log.info("shutting down");
        const timeoutMs = configManager.current.server.shutdown_timeout_ms;
        const graceful = await routing.stop(timeoutMs);
        if (!graceful) log.warn({ timeout_ms: timeoutMs }, "in-flight requests cut off at shutdown timeout");
        await cluster.stop();
        await host.stop();
        await database.close();
        dataDirLock.release();
        log.info("stopped");
        loggers.flush();
      })();
      return stopping;
    },
  };
  return gantry;
}
