/** Runs, approval gates and denials in the plugin's tables. */
import { randomBytes } from "node:crypto";
import { and, desc, eq, gte, inArray, lt } from "drizzle-orm";
import { pickTables, type PluginContext } from "gantry/plugin";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";
import type { agentRuns, approvals, denials } from "./schema.ts";

export type RunRow = typeof agentRuns.$inferSelect;
export type ApprovalRow = typeof approvals.$inferSelect;
export type DenialRow = typeof denials.$inferSelect;

const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString("hex")}`;

/** PostgreSQL stores no NUL character (text or jsonb): caller and model text keeps U+FFFD in its place, on either store alike. */
function withoutNul<T>(value: T): T {
  if (typeof value === "string") return (value.includes("\0") ? value.replaceAll("\0", "\uFFFD") : value) as T;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  if (value && typeof value === "object" && !(value instanceof Date)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [withoutNul(k), withoutNul(v)])) as T;
  return value;
}

export class AgentStore {
  readonly #t: typeof sqliteTables;

  constructor(private readonly db: PluginContext["db"]) {
    this.#t = pickTables(db, { sqlite: sqliteTables, pg: pgTables });
  }

  async startRun(agent: string, actor: string, input: string): Promise<RunRow> {
    const [row] = await this.db.insert(this.#t.agentRuns).values({ id: newId("run"), agent, actor, status: "running", input: withoutNul(input), steps: [], startedAt: new Date() }).returning();
    return row!;
  }

  async updateRun(id: string, change: Partial<Pick<RunRow, "status" | "output" | "error" | "steps" | "finishedAt">>): Promise<void> {
    await this.db.update(this.#t.agentRuns).set(withoutNul(change)).where(eq(this.#t.agentRuns.id, id));
  }

  async run(id: string): Promise<RunRow | undefined> {
    const [row] = await this.db.select().from(this.#t.agentRuns).where(eq(this.#t.agentRuns.id, id));
    return row;
  }

  async runs(agent: string | undefined, limit: number): Promise<RunRow[]> {
    const { agentRuns } = this.#t;
    return this.db.select().from(agentRuns).where(agent ? eq(agentRuns.agent, agent) : undefined).orderBy(desc(agentRuns.startedAt)).limit(limit);
  }

  /** Keeps the newest `keep` runs. */
  async pruneRuns(keep: number): Promise<void> {
    const { agentRuns } = this.#t;
    const [oldestKept] = await this.db.select({ at: agentRuns.startedAt }).from(agentRuns).orderBy(desc(agentRuns.startedAt)).limit(1).offset(keep - 1);
    if (oldestKept) await this.db.delete(agentRuns).where(lt(agentRuns.startedAt, oldestKept.at));
  }

  /** `requestedBy`: the subject who asked for the gate; it may not approve it. */
  async openGate(runId: string, agent: string, tool: string, args: Record<string, unknown>, rule: string | null, requestedBy: string | null = null): Promise<ApprovalRow> {
    const [row] = await this.db.insert(this.#t.approvals).values({ id: newId("gate"), runId, agent, tool, arguments: withoutNul(args), rule, status: "pending", requestedAt: new Date(), requestedBy }).returning();
    return row!;
  }

  /** Decides a pending gate; undefined when it does not exist or was decided already. */
  async decideGate(id: string, status: "approved" | "rejected" | "expired", by: string | null, note: string | null): Promise<ApprovalRow | undefined> {
    const { approvals } = this.#t;
    const [row] = await this.db.update(approvals).set({ status, decidedAt: new Date(), decidedBy: by, note })
      .where(and(eq(approvals.id, id), eq(approvals.status, "pending"))).returning();
    return row;
  }

  async gate(id: string): Promise<ApprovalRow | undefined> {
    const [row] = await this.db.select().from(this.#t.approvals).where(eq(this.#t.approvals.id, id));
    return row;
  }

  async gates(status: ApprovalRow["status"] | undefined, limit: number): Promise<ApprovalRow[]> {
    const { approvals } = this.#t;
    return this.db.select().from(approvals).where(status ? eq(approvals.status, status) : undefined).orderBy(desc(approvals.requestedAt)).limit(limit);
  }

  async deny(entry: Omit<DenialRow, "id" | "at">): Promise<void> {
    await this.db.insert(this.#t.denials).values({ ...withoutNul(entry), at: new Date() });
  }

  async denials(filter: { agent?: string; tool?: string; source?: DenialRow["source"]; since?: Date; limit: number }): Promise<DenialRow[]> {
    const { denials } = this.#t;
    const where = [];
    if (filter.agent) where.push(eq(denials.agent, filter.agent));
    if (filter.tool) where.push(eq(denials.tool, filter.tool));
    if (filter.source) where.push(eq(denials.source, filter.source));
    if (filter.since) where.push(gte(denials.at, filter.since));
    return this.db.select().from(denials).where(where.length > 0 ? and(...where) : undefined).orderBy(desc(denials.id)).limit(filter.limit);
  }

  /** Runs and gates a previous gantry process left open end as failed / expired. */
  async closeInterrupted(before: Date): Promise<{ runs: number; gates: number }> {
    const { agentRuns, approvals } = this.#t;
    const runs = await this.db.update(agentRuns).set({ status: "failed", error: "interrupted: gantry stopped during the run", finishedAt: new Date() })
      .where(and(inArray(agentRuns.status, ["running", "waiting_approval"]), lt(agentRuns.startedAt, before))).returning({ id: agentRuns.id });
    const gates = await this.db.update(approvals).set({ status: "expired", decidedAt: new Date(), note: "gantry stopped while the gate was open" })
      .where(and(eq(approvals.status, "pending"), lt(approvals.requestedAt, before))).returning({ id: approvals.id });
    return { runs: runs.length, gates: gates.length };
  }
}
