/**
 * The recache daemon: every tick it takes as many due queue entries as the render service has tabs
 * for beyond the online reserve (high first, then normal, then autorecache) and renders them in the
 * background; a rendered page of a host with autorecache_s is queued again for then. With nothing
 * due it says when to look next (`nextTickAt`): the scheduler sleeps until then or until an entry
 * is queued, so an idle gantry does not read the queues every tick.
 */
import type { PluginContext } from "gantry/plugin";
import type { CacheStore, QueueItem } from "./cache-store.ts";
import type { Dimension, RenderService } from "./render-service.ts";

export interface HostConfig {
  id: number;
  name: string;
  dimensions: Dimension[];
  /** Seconds after a render when the page is rendered again (0: never). */
  autorecache_s?: number;
  /** The origins (https://shop.example) its URLs must be on; required (a host without them is refused). */
  origins: string[];
  /** Resource types not loaded while rendering (Chromium's names: image, media, font, stylesheet, ...). */
  block_resource_types?: string[];
  /** Skip subresources from other origins than the page's (analytics, ads, widgets). */
  block_third_party?: boolean;
}

/**
 * With nothing due, the queues are still read this often: entries written by another process on
 * the same database (a second gantry on one PostgreSQL) do not wake this one.
 */
const OUTSIDE_WRITES_RECHECK_MS = 30_000;

export class CacheDaemon {
  #paused = false;
  /** Set by the plugin: makes the scheduler tick at `at` (ms; now by default) if it sleeps past then. */
  wakeScheduler: (at?: number) => void = () => {};
  lastTick: Date | null = null;
  readonly startedAt = new Date();
  /** Entries taken off the queues and not rendered yet (the cache daemon API's internal queue). */
  inFlight = 0;
  readonly #renders;
  /** True while queue entries are being claimed: one claim at a time, so tabs are not promised twice. */
  #claiming = false;
  /** When the last tick found nothing more due: the earliest queued entry's due time (ms), null for none. Undefined: look every tick. */
  #idleUntil: number | null | undefined;
  #renewedAt = Date.now();

  constructor(
    private readonly ctx: PluginContext,
    private readonly store: CacheStore,
    private readonly renderer: RenderService,
    private readonly hosts: () => HostConfig[],
    private readonly settings: () => { queueMaxSize: number; retryAfterS: number; blockResourceTypes: string[]; claimMs: number },
    /** Who claims queue entries: this process of this node (a restarted node does not renew its dead process's claims). */
    private readonly claimer: string,
  ) {
    this.#renders = ctx.metrics.counter({ name: "gantry_cache_renders_total", help: "Page renders by kind and outcome", labelNames: ["kind", "outcome"] });
  }

  get paused(): boolean {
    return this.#paused;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.wakeScheduler();
  }

  host(id: number): HostConfig | undefined {
    return this.hosts().find((h) => h.id === id);
  }

  /** One scheduler tick: renews this process's claims while it renders, then claims more; returns how many renders it started. */
  async tick(): Promise<number> {
    this.lastTick = new Date();
    this.#idleUntil = undefined;
    const claimMs = this.settings().claimMs;
    if (this.inFlight > 0 && Date.now() - this.#renewedAt >= claimMs / 3) {
      this.#renewedAt = Date.now();
      await this.store.renewClaims(this.claimer, claimMs);
    }
    const room = this.#room();
    const started = await this.#fill();
    // Fewer due entries than room for them: the queues hold nothing more claimable now.
    if (room > 0 && started < room && this.hosts().length > 0 && !this.#paused) this.#idleUntil = (await this.store.nextDueAt())?.getTime() ?? null;
    return started;
  }

  /**
   * When the scheduler should tick next: undefined, after its interval (there may be more to do, or
   * claims to renew while renders run); null, only when woken (no host, or paused); else a time in ms
   * (the next entry's due time, or the recheck for entries other processes queue).
   */
  nextTickAt(now = Date.now()): number | null | undefined {
    if (this.inFlight > 0) return undefined;
    if (this.hosts().length === 0 || this.#paused) return null;
    if (this.#idleUntil === undefined) return undefined;
    return Math.min(this.#idleUntil ?? Infinity, now + OUTSIDE_WRITES_RECHECK_MS);
  }

  #room(): number {
    return Math.min(this.renderer.availableForRecache, this.settings().queueMaxSize - this.inFlight);
  }

  /** Starts renders for due entries while tabs are free; also called as each render ends, so no tab waits for the next tick. */
  async #fill(): Promise<number> {
    // A generation being disposed claims nothing more: the next one drains the queues.
    if (this.#paused || this.#claiming || this.ctx.signal.aborted) return 0;
    // No host configured: nothing queued could be rendered, so the queues are not read (an idle gantry stays idle).
    if (this.hosts().length === 0) return 0;
    const room = this.#room();
    if (room <= 0) return 0;
    this.#claiming = true;
    let items: QueueItem[];
    try {
      items = await this.store.claimDue(room, this.claimer, this.settings().claimMs);
    } finally {
      this.#claiming = false;
    }
    for (const item of items) void this.ctx.track(this.#recache(item));
    return items.length;
  }

  async #recache(item: QueueItem): Promise<void> {
    const host = this.host(item.hostId);
    const dimension = host?.dimensions.find((d) => d.id === item.dimensionId);
    if (!host || !dimension) return void (await this.store.complete(item, this.claimer)); // configuration changed since it was queued
    this.inFlight++;
    try {
      await this.render(host, item.url, dimension, "recache", this.ctx.signal);
    } catch (error) {
      // Nothing is dropped. Abandoned because this generation is going away: the next one renders it now.
      if (this.ctx.signal.aborted) return void (await this.store.enqueue(host.id, [item.url], [dimension.id], "high", new Date()));
      // Failed: queued again at normal priority for a later try.
      await this.store.enqueue(host.id, [item.url], [dimension.id], "normal", new Date(Date.now() + this.settings().retryAfterS * 1000));
      this.ctx.log.warn({ host: host.id, url: item.url, dimension: dimension.id, err: (error as Error).message, retry_in_s: this.settings().retryAfterS }, "recache render failed");
    } finally {
      // Rendered: off the queue. Queued again above (or by a client meanwhile): it stays, unclaimed.
      await this.store.complete(item, this.claimer).catch((error) => this.ctx.log.warn({ url: item.url, err: (error as Error).message }, "recache claim not released; it lapses"));
      this.inFlight--;
      void this.#fill().catch((error) => this.ctx.log.warn({ err: (error as Error).message }, "recache queue could not be read"));
    }
  }

  /** Renders and stores a page; queues it for autorecache when the host asks for that. */
  async render(host: HostConfig, url: string, dimension: Dimension, kind: "online" | "recache", signal?: AbortSignal) {
    try {
      const result = await this.renderer.render(url, dimension, kind, {
        resourceTypes: host.block_resource_types ?? this.settings().blockResourceTypes, thirdParty: host.block_third_party ?? false,
      }, signal);
      const entry = await this.store.save(host.id, url, dimension.id, result.html, result.status, result.ms);
      if ((host.autorecache_s ?? 0) > 0) await this.store.enqueue(host.id, [url], [dimension.id], "autorecache", new Date(Date.now() + host.autorecache_s! * 1000));
      this.#renders.inc({ kind, outcome: "ok" });
      return { entry, html: result.html };
    } catch (error) {
      this.#renders.inc({ kind, outcome: "failed" });
      throw error;
    }
  }
}
