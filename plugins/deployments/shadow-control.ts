/** Starting, stopping and reading shadow runs: figures per side with 95% intervals. */
import type { PluginContext } from "gantry/plugin";
import type { DeploymentControl } from "./control.ts";
import { DeploymentErrors } from "./errors.ts";
import { resumedCounts, ShadowSession, type ShadowCounts } from "./shadow.ts";
import { meanInterval, rate } from "./stats.ts";
import type { DeploymentStore, ShadowRunRow, ShadowSampleRow } from "./store.ts";
import type { TrafficRouter } from "./traffic.ts";

export interface ShadowDeps {
  store: DeploymentStore;
  traffic: TrafficRouter;
  control: DeploymentControl;
  ctx: PluginContext;
  samplesKept: () => number;
}

export class ShadowControl {
  constructor(private readonly d: ShadowDeps) {}

  async start(model: string, challenger: string, sampleRate: number, actor: string): Promise<ShadowRunRow> {
    this.d.control.instance(challenger);
    const deployment = await this.d.control.adopt(model, actor);
    if (!deployment.liveVersion) throw DeploymentErrors.NO_CHAMPION([model]);
    if (deployment.liveVersion === challenger) throw DeploymentErrors.SAME_VERSION([challenger]);
    const running = this.d.traffic.shadow(model);
    if (running) throw DeploymentErrors.SHADOW_RUNNING([model, running.run.challenger]);
    const run = await this.d.store.addShadowRun({
      id: `shadow_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`, model, champion: deployment.liveVersion, challenger, sampleRate, actor, startedAt: new Date(),
    });
    if (!(await this.d.store.version(model, challenger))) await this.d.store.setVersion(model, challenger, "candidate");
    this.d.traffic.startShadow(model, new ShadowSession(run, 0));
    await this.d.store.record(model, "shadow_started", actor, challenger, { shadow_id: run.id, champion: run.champion, sample_rate: sampleRate });
    this.d.ctx.emit("deployment.shadow_started", { model, shadow_id: run.id, champion: run.champion, challenger, sample_rate: sampleRate });
    return run;
  }

  async stop(model: string, actor: string): Promise<ShadowRunRow> {
    const session = this.d.traffic.stopShadow(model);
    if (!session) throw DeploymentErrors.NO_SHADOW([model]);
    await this.d.traffic.flushSamples();
    await this.d.store.stopShadowRun(session.run.id, session.counts);
    await this.d.store.record(model, "shadow_stopped", actor, session.run.challenger, { shadow_id: session.run.id, ...session.counts });
    this.d.ctx.emit("deployment.shadow_stopped", { model, shadow_id: session.run.id, ...session.counts });
    return (await this.d.store.latestShadowRun(model))!;
  }

  /** Shadow runs left running by a previous process go on, their counts restored from what was saved and the samples stored. */
  async resume(): Promise<void> {
    for (const run of await this.d.store.activeShadowRuns()) {
      if (this.d.traffic.shadow(run.model)) continue;
      const [last] = await this.d.store.samples(run.id, 1);
      const seq = last?.seq ?? 0;
      this.d.traffic.startShadow(run.model, new ShadowSession(run, seq, resumedCounts(run.counts, seq)));
    }
  }

  /** The newest shadow run of the model (or of these two versions), with its figures. */
  async status(model: string, champion?: string, challenger?: string) {
    const run = await this.d.store.latestShadowRun(model, champion, challenger);
    if (!run) throw DeploymentErrors.NO_SHADOW([model]);
    await this.d.traffic.flushSamples();
    const live = this.d.traffic.shadow(model);
    const session = live?.run.id === run.id ? live : null;
    const counts: ShadowCounts = session ? { ...session.counts } : run.counts ?? { seen: 0, sampled: 0, mirrored: 0, dropped: 0 };
    return shadowFigures(run, counts, session?.inFlight ?? 0, await this.d.store.samples(run.id, this.d.samplesKept()));
  }
}

/** What shadow-status answers and compare reports store. */
export function shadowFigures(run: ShadowRunRow, counts: ShadowCounts, inFlight: number, samples: ShadowSampleRow[]) {
  const side = (ms: number[], errors: boolean[], tokens: (number | null)[]) => ({
    latency_ms: meanInterval(ms),
    error_rate: rate(errors.filter(Boolean).length, errors.length),
    completion_tokens: meanInterval(tokens.filter((t): t is number => t !== null)),
  });
  const cosines = samples.map((s) => s.cosine).filter((c): c is number => c !== null);
  const compared = samples.filter((s) => !s.championError && !s.challengerError);
  return {
    model: run.model, shadow_id: run.id, champion: run.champion, challenger: run.challenger, sample_rate: run.sampleRate,
    running: run.stoppedAt === null, started_at: run.startedAt.toISOString(), stopped_at: run.stoppedAt?.toISOString() ?? null,
    counts: { ...counts, in_flight: inFlight },
    observed_rate: rate(counts.sampled, counts.seen),
    samples: samples.length,
    figures: {
      champion: side(samples.map((s) => s.championMs), samples.map((s) => s.championError), samples.map((s) => s.championTokens)),
      challenger: side(samples.map((s) => s.challengerMs), samples.map((s) => s.challengerError), samples.map((s) => s.challengerTokens)),
    },
    similarity: {
      exact: rate(compared.filter((s) => s.exact).length, compared.length),
      normalized: rate(compared.filter((s) => s.normalized).length, compared.length),
      cosine: cosines.length > 0 ? meanInterval(cosines) : null,
    },
  };
}
