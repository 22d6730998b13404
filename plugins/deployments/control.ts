/**
 * Changes to what a served name answers with: promotion through a four-eyes approval gate (a full
 * switch, or a canary share first), instant rollback, retirement, and the end of the window in
 * which the previous version is kept running. Every change is written to the model's history.
 */
import type { ApprovalsService, InstancesService, PluginContext } from "gantry/plugin";
import { DeploymentErrors } from "./errors.ts";
import type { DeploymentRow, DeploymentStore, PromotionRow } from "./store.ts";
import type { Routing, TrafficRouter } from "./traffic.ts";

export interface ControlDeps {
  store: DeploymentStore;
  traffic: TrafficRouter;
  instances: InstancesService;
  approvals: () => ApprovalsService | undefined;
  ctx: PluginContext;
  keepWarmS: () => number;
  /** A promotion now waits at its gate, or a previous version is now kept warm: the periodic check has work again. */
  pendingWork: () => void;
}

type InstanceView = { name: string; status: string };

export interface PromoteRequest {
  model: string;
  version: string;
  comment: string;
  traffic?: number;
}

export class DeploymentControl {
  constructor(private readonly d: ControlDeps) {}

  /** The instance behind a version name; 404 when there is none. */
  instance(version: string): InstanceView {
    const found = (this.d.instances.list() as InstanceView[]).find((i) => i.name === version);
    if (!found) throw DeploymentErrors.VERSION_NOT_FOUND([version]);
    return found;
  }

  /**
   * The deployment of a served name, created on first use: a name that is an instance's name starts
   * with that instance live (it already answers to it), any other name with no live version.
   */
  async adopt(model: string, actor: string): Promise<DeploymentRow> {
    const existing = await this.d.store.deployment(model);
    if (existing) return existing;
    await this.d.store.ensure(model);
    const own = (this.d.instances.list() as InstanceView[]).some((i) => i.name === model);
    if (!own) return (await this.d.store.deployment(model))!;
    const row = await this.d.store.update(model, { liveVersion: model });
    await this.d.store.setVersion(model, model, "live", { promotedAt: new Date() });
    await this.d.store.record(model, "adopted", actor, model, {});
    this.d.traffic.set(model, routingOf(row));
    return row;
  }

  /**
   * Puts every deployment's routing in the proxy: at setup (after a restart, or a reload that kept
   * it), and periodically, so each node of a fleet follows switches made on another.
   */
  async restore(): Promise<void> {
    for (const row of await this.d.store.deployments()) this.d.traffic.set(row.model, routingOf(row), row.baseline ?? null);
  }

  /**
   * Opens a gate for the switch, or (the version being the model's canary and no `traffic` given)
   * completes an approved canary without a second gate.
   */
  async promote(request: PromoteRequest, actor: string): Promise<{ promotion: PromotionRow; switched: boolean }> {
    const { model, version } = request;
    this.instance(version);
    const deployment = await this.adopt(model, actor);
    if (deployment.canaryVersion === version && request.traffic === undefined) {
      const canary = (await this.d.store.promotions(model)).findLast((p) => p.version === version && p.status === "canary");
      if (canary) return { promotion: await this.#switch(canary, actor, `canary completed: ${request.comment}`), switched: true };
    }
    if (deployment.liveVersion === version) throw DeploymentErrors.VERSION_IS_LIVE([model, version, "already live"]);
    const pending = (await this.d.store.promotions(model)).find((p) => p.status === "pending");
    if (pending) throw DeploymentErrors.PROMOTION_PENDING([model, pending.id]);
    const approvals = this.d.approvals();
    if (!approvals) throw DeploymentErrors.APPROVALS_UNAVAILABLE([]);
    const id = `prom_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const traffic = request.traffic !== undefined && request.traffic < 100 ? request.traffic : null;
    const gate = await approvals.open({
      runId: id, agent: `deployments:${model}`, tool: traffic === null ? "promote" : "promote-canary", requestedBy: actor,
      arguments: { model, version, from_version: deployment.liveVersion, traffic, comment: request.comment, requested_by: actor },
    });
    const reportId = (await this.d.store.artifacts("report", model, 50)).find((a) => a.version === version)?.id ?? null;
    if (!(await this.d.store.version(model, version))) await this.d.store.setVersion(model, version, "candidate");
    const promotion = await this.d.store.addPromotion({
      id, model, version, fromVersion: deployment.liveVersion, traffic, comment: request.comment, requestedBy: actor, gateId: gate.id,
      status: "pending", decidedBy: null, note: null, reportId, requestedAt: new Date(), decidedAt: null,
    });
    await this.d.store.record(model, "promotion_requested", actor, version, { promotion_id: id, gate_id: gate.id, from_version: deployment.liveVersion, traffic, comment: request.comment });
    this.d.ctx.emit("deployment.promotion_requested", { model, version, promotion_id: id, gate_id: gate.id, traffic, requested_by: actor });
    this.d.pendingWork();
    return { promotion, switched: false };
  }

  /** Reads the gates of pending promotions and acts on decided ones (an approval_decided event, or the periodic check). */
  async settleGates(gateId?: string): Promise<void> {
    const approvals = this.d.approvals();
    if (!approvals) return;
    for (const promotion of await this.d.store.pendingPromotions()) {
      if (gateId && promotion.gateId !== gateId) continue;
      const gate = await approvals.status(promotion.gateId);
      if (!gate || gate.status === "pending") continue;
      if (gate.status === "approved") {
        await this.#switch(promotion, gate.decidedBy ?? "unknown", gate.note);
        continue;
      }
      const decided = await this.d.store.movePromotion(promotion.id, "pending", { status: gate.status, decidedBy: gate.decidedBy, note: gate.note, decidedAt: new Date() });
      if (!decided) continue;
      await this.d.store.record(promotion.model, `promotion_${gate.status}`, gate.decidedBy ?? "gantry", promotion.version, { promotion_id: promotion.id, note: gate.note });
      this.d.ctx.emit("deployment.promotion_decided", { model: promotion.model, version: promotion.version, promotion_id: promotion.id, status: gate.status, by: gate.decidedBy });
    }
  }

  /** The approved switch: the new version is started (if it is not running) before any request goes to it. */
  async #switch(promotion: PromotionRow, by: string, note: string | null): Promise<PromotionRow> {
    const { model, version } = promotion;
    const from = promotion.status;
    // Started before the promotion is claimed, so it never shows as switched while its server starts.
    await this.#ensureRunning(version);
    const moved = await this.d.store.movePromotion(promotion.id, from, { status: from === "pending" && promotion.traffic !== null ? "canary" : "live", decidedBy: from === "pending" ? by : promotion.decidedBy, note: from === "pending" ? note : promotion.note, decidedAt: promotion.decidedAt ?? new Date() });
    if (!moved) return (await this.d.store.promotion(promotion.id))!;
    const deployment = (await this.d.store.deployment(model))!;
    await this.#supersedeCanary(deployment, promotion.id);
    if (moved.status === "canary") {
      const row = await this.d.store.update(model, { canaryVersion: version, canaryTraffic: promotion.traffic });
      this.d.traffic.set(model, routingOf(row), row.baseline ?? null);
      await this.d.store.setVersion(model, version, "canary");
      await this.d.store.record(model, "canary_started", by, version, { promotion_id: promotion.id, traffic: promotion.traffic, approved_by: by, note });
      this.d.ctx.emit("deployment.canary_started", { model, version, traffic: promotion.traffic, promotion_id: promotion.id, approved_by: by });
      return moved;
    }
    const previous = deployment.liveVersion;
    const warmUntil = previous ? new Date(Date.now() + this.d.keepWarmS() * 1000) : null;
    const row = await this.d.store.update(model, { liveVersion: version, previousVersion: previous, warmUntil, canaryVersion: null, canaryTraffic: null, baseline: null });
    this.d.traffic.set(model, routingOf(row));
    await this.d.store.setVersion(model, version, "live", { promotedAt: new Date() });
    if (previous) await this.d.store.setVersion(model, previous, "warm");
    for (const p of await this.d.store.promotions(model)) if (p.status === "live" && p.id !== promotion.id) await this.d.store.movePromotion(p.id, "live", { status: "superseded" });
    await this.d.store.record(model, "promoted", by, version, { promotion_id: promotion.id, from_version: previous, requested_by: promotion.requestedBy, approved_by: moved.decidedBy, note, warm_until: warmUntil?.toISOString() ?? null });
    this.d.ctx.emit("deployment.promoted", { model, version, from_version: previous, promotion_id: promotion.id, approved_by: moved.decidedBy });
    if (warmUntil) this.d.pendingWork();
    return (await this.d.store.promotion(promotion.id))!;
  }

  /** A canary of another promotion ends when this one switches: its version goes back to candidate. */
  async #supersedeCanary(deployment: DeploymentRow, promotionId: string): Promise<void> {
    for (const p of await this.d.store.promotions(deployment.model)) {
      if (p.status !== "canary" || p.id === promotionId) continue;
      await this.d.store.movePromotion(p.id, "canary", { status: "superseded" });
      if (deployment.canaryVersion === p.version) await this.d.store.setVersion(deployment.model, p.version, "candidate");
    }
  }

  /** Back to the previous live version at once (a canary is cancelled instead, when one runs); no gate, recorded. */
  async rollback(model: string, actor: string): Promise<DeploymentRow> {
    const deployment = await this.d.store.deployment(model);
    if (!deployment) throw DeploymentErrors.DEPLOYMENT_NOT_FOUND([model]);
    if (deployment.canaryVersion) {
      const canary = deployment.canaryVersion;
      const row = await this.d.store.update(model, { canaryVersion: null, canaryTraffic: null });
      this.d.traffic.set(model, routingOf(row), row.baseline ?? null);
      await this.d.store.setVersion(model, canary, "candidate");
      for (const p of await this.d.store.promotions(model)) if (p.status === "canary") await this.d.store.movePromotion(p.id, "canary", { status: "rolled_back" });
      await this.d.store.record(model, "rolled_back", actor, deployment.liveVersion, { cancelled_canary: canary });
      this.d.ctx.emit("deployment.rolled_back", { model, version: deployment.liveVersion, cancelled_canary: canary, by: actor });
      return row;
    }
    const back = deployment.previousVersion;
    if (!back) throw DeploymentErrors.NOTHING_TO_ROLL_BACK([model]);
    await this.#ensureRunning(back);
    const from = deployment.liveVersion;
    const row = await this.d.store.update(model, { liveVersion: back, previousVersion: from, warmUntil: new Date(Date.now() + this.d.keepWarmS() * 1000), baseline: null });
    this.d.traffic.set(model, routingOf(row));
    await this.d.store.setVersion(model, back, "live");
    if (from) await this.d.store.setVersion(model, from, "warm");
    for (const p of await this.d.store.promotions(model)) if (p.status === "live") await this.d.store.movePromotion(p.id, "live", { status: "rolled_back" });
    await this.d.store.record(model, "rolled_back", actor, back, { from_version: from });
    this.d.ctx.emit("deployment.rolled_back", { model, version: back, from_version: from, by: actor });
    this.d.pendingWork();
    return row;
  }

  /** Stops a version and archives it; the live version and a running canary are refused. */
  async retire(model: string, version: string, actor: string): Promise<void> {
    const deployment = await this.d.store.deployment(model);
    if (!deployment || !(await this.d.store.version(model, version))) throw DeploymentErrors.DEPLOYMENT_NOT_FOUND([`${model}/${version}`]);
    if (deployment.liveVersion === version) throw DeploymentErrors.VERSION_IS_LIVE([model, version, "live"]);
    if (deployment.canaryVersion === version) throw DeploymentErrors.VERSION_IS_LIVE([model, version, "the canary"]);
    if (this.d.traffic.shadow(model)?.run.challenger === version) throw DeploymentErrors.VERSION_IS_LIVE([model, version, "being shadowed"]);
    await this.#stop(version);
    if (deployment.previousVersion === version) await this.d.store.update(model, { previousVersion: null, warmUntil: null });
    await this.d.store.setVersion(model, version, "retired", { retiredAt: new Date() });
    await this.d.store.record(model, "retired", actor, version, {});
    this.d.ctx.emit("deployment.retired", { model, version, by: actor });
  }

  /** Previous versions past their keep-warm time are stopped (they can still be rolled back to, after a start). */
  async expireWarm(now = Date.now()): Promise<string[]> {
    const stopped: string[] = [];
    for (const row of await this.d.store.deployments()) {
      if (!row.previousVersion || !row.warmUntil || row.warmUntil.getTime() > now) continue;
      const busy = row.liveVersion === row.previousVersion || row.canaryVersion === row.previousVersion || this.d.traffic.shadow(row.model)?.run.challenger === row.previousVersion;
      if (!busy) await this.#stop(row.previousVersion);
      await this.d.store.update(row.model, { warmUntil: null });
      await this.d.store.setVersion(row.model, row.previousVersion, "standby");
      await this.d.store.record(row.model, "warm_expired", "gantry", row.previousVersion, { stopped: !busy });
      stopped.push(`${row.model}/${row.previousVersion}`);
    }
    return stopped;
  }

  async #ensureRunning(version: string): Promise<void> {
    if (this.instance(version).status !== "running") await this.d.instances.start(version);
  }

  async #stop(version: string): Promise<void> {
    const instance = (this.d.instances.list() as InstanceView[]).find((i) => i.name === version);
    if (instance && instance.status !== "stopped") await this.d.instances.stop(version);
  }
}

export function routingOf(row: DeploymentRow): Routing {
  return { live: row.liveVersion, canary: row.canaryVersion && row.canaryTraffic !== null ? { version: row.canaryVersion, traffic: row.canaryTraffic } : null, stamp: row.updatedAt.getTime() };
}
