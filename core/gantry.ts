/** Assembles gantry: config, database, logging, registries, the plugin host and the HTTP server. */
import type { DestinationStream } from "pino";
import { ApiKeyAuthenticator } from "./auth.ts";
import { type GantryConfig } from "./config.ts";
import { openDatabase, type DatabaseHandle } from "./db.ts";
import { EventBus } from "./events.ts";
import { FlagRegistry } from "./flags.ts";
import { buildRootApp, type HttpLimits } from "./http-app.ts";
import { LoggerRegistry } from "./logger.ts";
import { MetricsRegistry } from "./metrics.ts";
import { OwnedRegistry } from "./owned-registry.ts";
import type { CoreParts, RegisteredCommand } from "./plugin-context.ts";
import type { PeriodicTask } from "./periodic-tasks.ts";
import { PluginHost } from "./plugin-host.ts";
import { RoutingServer } from "./server.ts";
import { ServiceRegistry } from "./services.ts";
import { messageOf } from "./errors.ts";

export interface GantryOptions {
  /** Where log lines go (tests read them); stdout by default. */
  logDestination?: DestinationStream;
  /** Prints the first-start credentials; defaults to stdout. */
  announce?: (text: string) => void;
}

export interface Gantry {
  readonly config: GantryConfig;
  readonly core: CoreParts;
  readonly host: PluginHost;
  readonly auth: ApiKeyAuthenticator;
  readonly loggers: LoggerRegistry;
  readonly routing: RoutingServer;
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
  const startedAt = Date.now();
  const loggers = new LoggerRegistry({ level: config.log.level, format: config.log.format, destination: options.logDestination });
  const log = loggers.root;
  const database: DatabaseHandle = openDatabase(config.data_dir);
  const events = new EventBus((error, event) => log.warn({ event: event.type, err: messageOf(error) }, "event handler failed"));
  const metrics = new MetricsRegistry();
  const auth = new ApiKeyAuthenticator(database.db);
  const core: CoreParts = {
    database, loggers, events, metrics,
    flags: new FlagRegistry(database.db, events),
    services: new ServiceRegistry(),
    commands: new OwnedRegistry<RegisteredCommand>("Command"),
    tasks: new OwnedRegistry<PeriodicTask>("Periodic task"),
    pluginConfig: (name) => config.plugin[name] ?? {},
  };

  const firstStart = auth.bootstrap(config.auth.bootstrap_admin_key);
  if (firstStart) {
    const announce = options.announce ?? ((text: string) => process.stdout.write(text));
    const adminLine = config.auth.bootstrap_admin_key ? "admin key: (the configured auth.bootstrap_admin_key)" : `admin key:     ${firstStart.admin}`;
    announce(`\nFirst start: API keys created. They are shown only now; store them.\n  ${adminLine}\n  inference key: ${firstStart.inference}\n\n`);
  }

  const routing = new RoutingServer();
  const limits: HttpLimits = {
    bodyLimitBytes: config.server.body_limit_bytes,
    minFreeDiskBytes: config.health.min_free_disk_bytes,
    logRequests: config.log.requests,
    quietPaths: new Set(config.log.quiet_paths),
  };
  const appParts = {
    log, metrics, events, sqlite: database.sqlite, dataDir: config.data_dir, startedAt,
    limits: () => limits,
    identify: (request: Request) => auth.identify(request),
  };
  const host = new PluginHost(core, {
    builtinDir: config.plugins.dir,
    disabled: config.plugins.disabled,
    setupTimeoutMs: config.plugins.setup_timeout_ms,
    disposeTimeoutMs: config.plugins.dispose_timeout_ms,
    log,
    commitRoutes(instances) {
      const { app, routesByPlugin } = buildRootApp(appParts, instances);
      routing.swap(app);
      return routesByPlugin;
    },
  });
  routing.swap(buildRootApp(appParts, []).app);
  await host.start();

  let stopping: Promise<void> | undefined;
  const gantry: Gantry = {
    config, core, host, auth, loggers, routing,
    url: "",
    handle: (request) => routing.app!.handle(request),
    async listen() {
      // gantry answers 413 itself from Content-Length; Bun's own cap (which answers with an empty body)
      // is only a backstop for chunked uploads, so it sits well above the configured limit.
      const server = await routing.listen(config.server.host, config.server.port, Math.max(config.server.body_limit_bytes * 4, 128 * 1024 * 1024));
      gantry.url = `http://${config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host}:${server.port}`;
      log.info({ url: gantry.url, plugins: host.activeInstances().map((i) => i.plugin), startup_ms: Date.now() - startedAt }, "gantry listening");
      return gantry.url;
    },
    stop() {
      stopping ??= (async () => {
        log.info("shutting down");
        const graceful = await routing.stop(config.server.shutdown_timeout_ms);
        if (!graceful) log.warn({ timeout_ms: config.server.shutdown_timeout_ms }, "in-flight requests cut off at shutdown timeout");
        await host.stop();
        database.close();
        log.info("stopped");
        loggers.flush();
      })();
      return stopping;
    },
  };
  return gantry;
}
