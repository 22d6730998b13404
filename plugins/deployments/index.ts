/** deployments: ship a model version safely — shadow traffic, champion vs challenger, gated promotion, instant rollback, drift alerts, packages and audits. */
import { definePlugin } from "gantry/plugin";
import { ArtifactFiles } from "./artifacts.ts";
import { AuditWriter } from "./audit.ts";
import { Comparisons } from "./compare.ts";
import { DeploymentControl } from "./control.ts";
import { Packager } from "./packager.ts";
import { deploymentRoutes } from "./routes.ts";
import { ShadowControl } from "./shadow-control.ts";
import { DeploymentStore } from "./store.ts";
import { TrafficRouter } from "./traffic.ts";

interface DeploymentsConfig {
  check_interval_s: number;
  keep_warm_s: number;
  shadow_max_in_flight: number;
  shadow_timeout_s: number;
  shadow_samples_kept: number;
  similarity_embeddings_model: string;
  drift_enabled: boolean;
  drift_baseline_requests: number;
  drift_window_requests: number;
  drift_latency_factor: number;
  drift_latency_min_increase_ms: number;
  drift_error_rate_increase: number;
  drift_output_length_factor: number;
  package_max_bytes: number;
}

export default definePlugin({
  name: "deployments",
  async setup(ctx) {
    const config = ctx.config as unknown as DeploymentsConfig;
    const store = new DeploymentStore(ctx.db);
    const instances = ctx.services.consume("instances");
    const optional = <K extends "approvals" | "evaluations">(name: K) => () => ctx.services.get(name);
    // The served names stay routed across a reload: requests never see a gap.
    const traffic = ctx.keep("traffic", (scope) => new TrafficRouter(scope), (kept) => kept.close());
    traffic.configure({
      served: ctx.services.consume("served-models"), inference: ctx.services.consume("inference"), store,
      mirror: () => ({ maxInFlight: config.shadow_max_in_flight, timeoutS: config.shadow_timeout_s, embeddingsModel: config.similarity_embeddings_model }),
      drift: () => ({
        enabled: config.drift_enabled, baselineRequests: config.drift_baseline_requests, windowRequests: config.drift_window_requests,
        latencyFactor: config.drift_latency_factor, latencyMinIncreaseMs: config.drift_latency_min_increase_ms, errorRateIncrease: config.drift_error_rate_increase, outputLengthFactor: config.drift_output_length_factor,
      }),
    });
    const cluster = ctx.services.consume("core.cluster");
    let checks: { wake(): void } | undefined;
    const control = new DeploymentControl({ store, traffic, instances, approvals: optional("approvals"), ctx, keepWarmS: () => config.keep_warm_s, pendingWork: () => checks?.wake() });
    const shadow = new ShadowControl({ store, traffic, control, ctx, samplesKept: () => config.shadow_samples_kept });
    const files = new ArtifactFiles(ctx.dataDir, store);
    await control.restore();
    await shadow.resume();

    // A gate decided at /api/v1/approvals switches at once; the periodic check catches decisions made while this plugin
    // was away, and switches made by another node of a fleet (the routing is re-read from the database).
    ctx.on("approval_decided", (event) => void ctx.track(control.settleGates((event.data as { gate_id?: string }).gate_id).catch((error) => {
      ctx.log.error({ err: (error as Error).message }, "applying an approved promotion failed");
    })));
    const task = ctx.every("deployments-gates-and-warm", { interval: config.check_interval_s, level: "medium" }, async () => {
      await control.restore();
      await control.settleGates();
      const stopped = await control.expireWarm();
      // A gantry alone changes its deployments only through this plugin: with no gate waiting, the check sleeps until
      // the next keep-warm end or a change wakes it (a fleet's nodes re-read the routing every interval instead).
      if (!cluster.enabled && (await store.pendingPromotions()).length === 0) {
        const warmEnds = (await store.deployments()).flatMap((d) => (d.warmUntil ? [d.warmUntil.getTime()] : []));
        task.sleepUntil(warmEnds.length > 0 ? Math.min(...warmEnds) : null);
      }
      return stopped.length > 0 ? `stopped after keep_warm_s: ${stopped.join(", ")}` : "ok";
    });
    checks = task;

    // From the CLI, cron or an agent: gantry /deployments:rollback chat
    ctx.command("list", {
      description: "Served models: the live version, a canary, the previous version", role: "viewer",
      run: async () => (await store.deployments()).map((d) => ({ model: d.model, live: d.liveVersion, canary: d.canaryVersion ? `${d.canaryVersion} (${d.canaryTraffic}%)` : null, previous: d.previousVersion })),
    });
    ctx.command("rollback", {
      description: "Switch a served model back to its previous version now (or cancel its canary)", argumentHint: "<model>", role: "operator",
      run: async ({ argv }) => {
        const row = await control.rollback(argv[0] ?? "", "command:/deployments:rollback");
        return { model: row.model, live: row.liveVersion, previous: row.previousVersion };
      },
    });

    const sockets = new Set<{ close(code?: number, reason?: string): void }>();
    ctx.routes(deploymentRoutes({
      store, traffic, control, shadow, files, sockets, on: ctx.on.bind(ctx), identity: ctx.services.consume("core.identity"),
      comparisons: new Comparisons({ store, control, shadow, files, evaluations: optional("evaluations") }),
      packager: new Packager({ store, files, instances, evaluations: optional("evaluations"), maxBytes: () => config.package_max_bytes, paths: ctx.paths, log: ctx.log }),
      audit: new AuditWriter(store, files),
      instanceStatus: (name) => (instances.list() as { name: string; status: string }[]).find((i) => i.name === name)?.status ?? null,
    }));
    return () => {
      for (const ws of sockets) ws.close(1012, "the deployments plugin was reloaded or removed; reconnect");
    };
  },
});
