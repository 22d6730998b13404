/**
 * The served names this plugin answers, kept across reloads: per model the live version, a canary
 * and its share, a shadow run and a drift watch. Each model is one route in the instances plugin's
 * served-models table; a switch replaces the model's state object in one assignment, so a request
 * already sent finishes on its version and the next goes to the new one.
 */
import type { ExchangeObserver, InferenceService, KeepScope, ObservedExchange, ServedModelsService } from "gantry/plugin";
import { parseAnswer } from "./answers.ts";
import { DriftMonitor, type DriftSettings } from "./drift.ts";
import type { DriftBaseline } from "./schema.ts";
import { ShadowSession, type MirrorSettings } from "./shadow.ts";
import type { DeploymentStore, ShadowSampleRow } from "./store.ts";

/** Who answers a served name now. Replaced whole on every change, never edited in place. */
export interface Routing {
  live: string | null;
  canary: { version: string; traffic: number } | null;
  /** When the deployment row it comes from was written (ms): an older routing never replaces a newer one. */
  stamp: number;
}

interface ServedModel {
  routing: Routing;
  shadow: ShadowSession | null;
  drift: DriftMonitor | null;
  unroute: () => void;
}

export interface TrafficDeps {
  served: ServedModelsService;
  inference: InferenceService;
  store: DeploymentStore;
  mirror: () => MirrorSettings;
  drift: () => DriftSettings & { enabled: boolean };
}

/** Samples are written in batches and progress is announced at most this often: a mirror per request must stay cheap. */
const BATCH_MS = 200;
/** What a shadow run mirrors: the challenger is asked through the inference service's chat completion. */
const MIRRORED_PATH = "/v1/chat/completions";

export class TrafficRouter {
  readonly #models = new Map<string, ServedModel>();
  #deps: TrafficDeps | undefined;
  #unwritten: ShadowSampleRow[] = [];
  #flushing: Promise<void> | undefined;
  #flushScheduled = false;
  /** Shadow run id → the counts last saved (as JSON), to write only what changed. */
  readonly #savedCounts = new Map<string, string>();
  readonly #announced = new Map<string, number>();

  constructor(private readonly scope: KeepScope) {}

  /** Called by each generation at setup: the services and settings of the newest one. */
  configure(deps: TrafficDeps): void {
    this.#deps = deps;
  }

  routing(model: string): Routing | undefined {
    return this.#models.get(model)?.routing;
  }

  shadow(model: string): ShadowSession | null {
    return this.#models.get(model)?.shadow ?? null;
  }

  /** Points the served name at `routing` (registering the name on first use); a new live version gets a new drift watch. */
  set(model: string, routing: Routing, baseline: DriftBaseline | null = null): void {
    const entry = this.#entry(model);
    if (routing.stamp < entry.routing.stamp) return; // read before a switch this node made since
    if (routing.live !== entry.routing.live) entry.drift = routing.live ? new DriftMonitor(routing.live, baseline, () => this.#deps!.drift()) : null;
    entry.routing = routing;
  }

  startShadow(model: string, session: ShadowSession): void {
    this.#entry(model).shadow = session;
  }

  stopShadow(model: string): ShadowSession | null {
    const entry = this.#models.get(model);
    const session = entry?.shadow ?? null;
    if (entry) entry.shadow = null;
    return session;
  }

  /** Writes the samples not written yet and the running shadow runs' counts (before they are read, when a run stops, at shutdown). */
  async flushSamples(): Promise<void> {
    await this.#flushing;
    const rows = this.#unwritten;
    this.#unwritten = [];
    this.#flushScheduled = false;
    await this.#deps!.store.addSamples(rows);
    await this.#saveCounts();
  }

  /** Counts saved with the samples, so that a restart resumes a run where it was rather than at zero. */
  async #saveCounts(): Promise<void> {
    for (const { shadow } of this.#models.values()) {
      if (!shadow) continue;
      const counts = JSON.stringify(shadow.counts);
      if (this.#savedCounts.get(shadow.run.id) === counts) continue;
      this.#savedCounts.set(shadow.run.id, counts);
      await this.#deps!.store.saveShadowCounts(shadow.run.id, { ...shadow.counts });
    }
  }

  #queueSample(sample: ShadowSampleRow): void {
    this.#unwritten.push(sample);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.scope.setTimeout(() => (this.#flushing = this.flushSamples().finally(() => (this.#flushing = undefined))), BATCH_MS);
  }

  /** Every served name leaves the proxy (the plugin goes away); samples not written yet are. */
  async close(): Promise<void> {
    for (const entry of this.#models.values()) entry.unroute();
    await this.flushSamples().catch(() => undefined);
    this.#models.clear();
  }

  #entry(model: string): ServedModel {
    let entry = this.#models.get(model);
    if (entry) return entry;
    const created: ServedModel = { routing: { live: null, canary: null, stamp: 0 }, shadow: null, drift: null, unroute: () => {} };
    created.unroute = this.#deps!.served.route(model, {
      target: () => {
        const { live, canary } = created.routing;
        if (canary && Math.random() * 100 < canary.traffic) return canary.version;
        return live ?? model;
      },
      observe: (path) => this.#observer(model, path, created),
    });
    this.#models.set(model, created);
    return created;
  }

  /** On the client's path: an observer when this request is mirrored (chat completions) or the live version is watched for drift. */
  #observer(model: string, path: string, entry: ServedModel): ExchangeObserver | undefined {
    const mirrored = path === MIRRORED_PATH && entry.shadow?.sample() === true;
    if (path === MIRRORED_PATH && entry.shadow) this.#scheduleFlush(); // its counts changed
    const watched = entry.drift !== null && this.#deps!.drift().enabled;
    if (!mirrored && !watched) return undefined;
    const shadow = mirrored ? entry.shadow : null;
    // The client is answered first: the work is a timer away.
    return (exchange) => void this.scope.setTimeout(() => this.#handle(model, entry, exchange, shadow).catch((error) => {
      this.scope.ctx.log.warn({ model, err: (error as Error).message }, "a shadow or drift observation failed");
    }), 0);
  }

  async #handle(model: string, entry: ServedModel, exchange: ObservedExchange, shadow: ShadowSession | null): Promise<void> {
    const answer = parseAnswer(exchange.status, await exchange.answer.text().catch(() => ""));
    const drift = entry.drift;
    if (drift && drift.version === exchange.instance && this.#deps!.drift().enabled) {
      const outcome = drift.observe({ latencyMs: exchange.latencyMs, error: answer.error, outputLength: answer.text?.length ?? null });
      if (outcome.baseline) {
        await this.#deps!.store.update(model, { baseline: outcome.baseline });
        this.scope.ctx.emit("deployment.drift_baseline", { model, version: drift.version, baseline: outcome.baseline });
      }
      for (const alert of outcome.alerts) {
        await this.#deps!.store.record(model, "drift_alert", "gantry", drift.version, { ...alert, window: outcome.window });
        this.scope.ctx.emit("deployment.drift_alert", { model, version: drift.version, ...alert });
        this.scope.ctx.log.warn({ model, version: drift.version, ...alert }, "deployment drift alert");
      }
    }
    if (!shadow) return;
    if (exchange.instance === shadow.run.challenger) return void shadow.counts.dropped++; // a canary request the challenger answered itself
    const sample = await shadow.mirror(exchange, answer, this.#deps!.inference, this.#deps!.mirror(), this.scope.signal);
    if (sample) this.#queueSample(sample);
    const now = performance.now();
    if (now - (this.#announced.get(model) ?? 0) < BATCH_MS) return;
    this.#announced.set(model, now);
    this.scope.ctx.emit("deployment.shadow_progress", { model, shadow_id: shadow.run.id, challenger: shadow.run.challenger, ...shadow.counts });
  }
}
