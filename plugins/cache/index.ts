/** cache: the prerender cache daemon (its documented API) with a headless-Chromium render service. */
import { join } from "node:path";
import { definePlugin, type PeriodicTask } from "gantry/plugin";
import { CacheStore } from "./cache-store.ts";
import { CacheDaemon, type HostConfig } from "./daemon.ts";
import { RenderService } from "./render-service.ts";
import { cacheRoutes } from "./routes.ts";

interface CacheConfig {
  claim_timeout_s: number;
  hosts: HostConfig[];
  chromium_path: string;
  tabs: number;
  reserve_online_percent: number;
  tick_s: number;
  render_timeout_ms: number;
  recycle_after_renders: number;
  queue_max_size: number;
  retry_after_s: number;
  block_resource_types: string[];
  max_urls: number;
  scheduler_control_api: boolean;
  daemon_id: string;
}

/** Every problem of plugin.cache.hosts, so a bad configuration fails the plugin with all of them named. */
function hostProblems(hosts: unknown): string[] {
  if (!Array.isArray(hosts)) return ["plugin.cache.hosts must be a list of {id, name, origins, dimensions}"];
  const problems: string[] = [];
  const ids = new Set<number>();
  hosts.forEach((host: Partial<HostConfig>, i) => {
    const at = `plugin.cache.hosts[${i}]`;
    if (!Number.isInteger(host.id)) problems.push(`${at}.id must be an integer`);
    else if (ids.has(host.id!)) problems.push(`${at}.id ${host.id} is used twice`);
    else ids.add(host.id!);
    // Required: without them any URL (an internal one included) could be queued for Chromium to render.
    if (!Array.isArray(host.origins) || host.origins.length === 0) problems.push(`${at}.origins must list the origins its pages are on, such as ["https://shop.example"] (a host without origins is refused)`);
    else if (host.origins.some((o) => !URL.canParse(o) || new URL(o).origin !== o)) problems.push(`${at}.origins must list origins such as https://shop.example`);
    if (!Array.isArray(host.dimensions) || host.dimensions.length === 0) problems.push(`${at}.dimensions must list {id, name, width, height, user_agent}`);
    else host.dimensions.forEach((d, j) => {
      if (!Number.isInteger(d.id) || !Number.isInteger(d.width) || !Number.isInteger(d.height) || typeof d.user_agent !== "string") problems.push(`${at}.dimensions[${j}] needs integer id, width, height and a user_agent`);
    });
  });
  return problems;
}

export default definePlugin({
  name: "cache",
  setup(ctx) {
    const config = ctx.config as unknown as CacheConfig;
    const problems = hostProblems(config.hosts);
    if (problems.length > 0) throw new Error(problems.join("; "));
    // Queuing an entry wakes the scheduler (it sleeps while nothing is due), at once or when the entry is due;
    // a fleet's other nodes sleep too and hear of the entries through the event bus.
    const cluster = ctx.services.consume("core.cluster");
    const store = new CacheStore(ctx.db, join(ctx.dataDir, "pages"), (dueAt) => {
      daemon.wakeScheduler(dueAt.getTime());
      if (cluster.enabled) ctx.emit("cache_queued", { due_at: dueAt.getTime() });
    });
    ctx.on("cache_queued", (event) => {
      if (event.node !== undefined && event.node !== cluster.nodeId) daemon.wakeScheduler((event.data as { due_at: number }).due_at);
    });
    const outbound = ctx.services.consume("core.outbound");
    const settings = () => ({
      chromiumPath: config.chromium_path, tabs: config.tabs, reserveOnlinePercent: config.reserve_online_percent,
      timeoutMs: config.render_timeout_ms, recycleAfter: config.recycle_after_renders, checkAddress: (url: string) => outbound.check(url),
    });
    // Chromium starts on the first render, not with gantry; the browser and its tabs outlive reloads.
    const renderer = ctx.keep("renderer", (scope) => new RenderService(settings, (pid, options) => scope.adopt(pid, options)), (kept) => kept.close());
    renderer.configure(settings);
    // Claims are renewed while their renders run, so only the claims of a process that died lapse.
    const claimer = `${cluster.nodeId}@${ctx.services.consume("core.info").startedAt.getTime()}`;
    const daemon = new CacheDaemon(ctx, store, renderer, () => config.hosts, () => ({ queueMaxSize: config.queue_max_size, retryAfterS: config.retry_after_s, blockResourceTypes: config.block_resource_types, claimMs: Math.max(1000, config.claim_timeout_s * 1000) }), claimer);
    ctx.routes(cacheRoutes({
      store, daemon, renderer,
      settings: () => ({ daemonId: config.daemon_id, queueMaxSize: config.queue_max_size, schedulerControlApi: config.scheduler_control_api, maxUrls: config.max_urls }),
    }), { prefix: "" });
    const scheduler: PeriodicTask = ctx.every("cache-scheduler", { interval: config.tick_s, level: "high", initWait: config.tick_s }, async () => {
      const started = await daemon.tick();
      const next = daemon.nextTickAt();
      if (next !== undefined) scheduler.sleepUntil(next);
      if (config.hosts.length === 0) return "no hosts configured: sleeping";
      return daemon.paused ? "paused" : `${started} renders started, ${daemon.inFlight} in flight`;
    });
    daemon.wakeScheduler = (at) => scheduler.wake(at);
  },
});
