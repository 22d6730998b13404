/** Runs, approval gates and denials in the plugin's tables. */
import { randomBytes } from "node:crypto";
import { and, desc, eq, gte, inArray, lt } from "drizzle-orm";
import type { PluginContext } from "gantry/plugin";
import { agentRuns, approvals, denials } from "./schema.ts";

export type RunRow = typeof agentRuns.$inferSelect;
export type ApprovalRow = typeof approvals.$inferSelect;
export type DenialRow = typeof denials.$inferSelect;

const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString("hex")}`;

export class AgentStore {
  constructor(private readonly db: PluginContext["db"]) {}

  startRun(agent: string, actor: string, input: string): RunRow {
    return this.db.insert(agentRuns).values({ id: newId("run"), agent, actor, status: "running", input, steps: [], startedAt: new Date() }).returning().get();
  }

  updateRun(id: string, change: Partial<Pick<RunRow, "status" | "output" | "error" | "steps" | "finishedAt">>): void {
    this.db.update(agentRuns).set(change).where(eq(agentRuns.id, id)).run();
  }

  run(id: string): RunRow | undefined {
    return this.db.select().from(agentRuns).where(eq(agentRuns.id, id)).get();
  }

  runs(agent: string | undefined, limit: number): RunRow[] {
    return this.db.select().from(agentRuns).where(agent ? eq(agentRuns.agent, agent) : undefined).orderBy(desc(agentRuns.startedAt)).limit(limit).all();
  }

  /** Keeps the newest `keep` runs. */
  pruneRuns(keep: number): void {
    const oldestKept = this.db.select({ at: agentRuns.startedAt }).from(agentRuns).orderBy(desc(agentRuns.startedAt)).limit(1).offset(keep - 1).get();
    if (oldestKept) this.db.delete(agentRuns).where(lt(agentRuns.startedAt, oldestKept.at)).run();
  }

  openGate(runId: string, agent: string, tool: string, args: Record<string, unknown>, rule: string | null): ApprovalRow {
    return this.db.insert(approvals).values({ id: newId("gate"), runId, agent, tool, arguments: args, rule, status: "pending", requestedAt: new Date() }).returning().get();
  }

  /** Decides a pending gate; undefined when it does not exist or was decided already. */
  decideGate(id: string, status: "approved" | "rejected" | "expired", by: string | null, note: string | null): ApprovalRow | undefined {
    return this.db.update(approvals).set({ status, decidedAt: new Date(), decidedBy: by, note })
      .where(and(eq(approvals.id, id), eq(approvals.status, "pending"))).returning().get();
  }

  gate(id: string): ApprovalRow | undefined {
    return this.db.select().from(approvals).where(eq(approvals.id, id)).get();
  }

  gates(status: ApprovalRow["status"] | undefined, limit: number): ApprovalRow[] {
    return this.db.select().from(approvals).where(status ? eq(approvals.status, status) : undefined).orderBy(desc(approvals.requestedAt)).limit(limit).all();
  }

  deny(entry: Omit<DenialRow, "id" | "at">): void {
    this.db.insert(denials).values({ ...entry, at: new Date() }).run();
  }

  denials(filter: { agent?: string; tool?: string; source?: DenialRow["source"]; since?: Date; limit: number }): DenialRow[] {
    const where = [];
    if (filter.agent) where.push(eq(denials.agent, filter.agent));
    if (filter.tool) where.push(eq(denials.tool, filter.tool));
    if (filter.source) where.push(eq(denials.source, filter.source));
    if (filter.since) where.push(gte(denials.at, filter.since));
    return this.db.select().from(denials).where(where.length > 0 ? and(...where) : undefined).orderBy(desc(denials.id)).limit(filter.limit).all();
  }

  /** Runs and gates a previous gantry process left open end as failed / expired. */
  closeInterrupted(before: Date): { runs: number; gates: number } {
    const runs = this.db.update(agentRuns).set({ status: "failed", error: "interrupted: gantry stopped during the run", finishedAt: new Date() })
      .where(and(inArray(agentRuns.status, ["running", "waiting_approval"]), lt(agentRuns.startedAt, before))).returning({ id: agentRuns.id }).all();
    const gates = this.db.update(approvals).set({ status: "expired", decidedAt: new Date(), note: "gantry stopped while the gate was open" })
      .where(and(eq(approvals.status, "pending"), lt(approvals.requestedAt, before))).returning({ id: approvals.id }).all();
    return { runs: runs.length, gates: gates.length };
  }
}
