/** The batch routes: submit JSONL, status and progress, resume, results as JSONL, tool-usage stats. */
import { createError, defineErrors, t, textResponses, type AgentRunsService, type CommandCaller, type CoreIdentityService, type PluginContext, type RolesApp } from "gantry/plugin";
import type { BatchStore, ItemRow, Line, RunRow } from "./batch-store.ts";
import type { BatchRunner } from "./batch-runner.ts";

const BatchErrors = defineErrors("batch", {
  BATCH_NOT_FOUND: createError("BATCH_NOT_FOUND", 404, (id: string) => `No batch run '${id}'`),
  BATCH_EXISTS: createError("BATCH_EXISTS", 409, (id: string) => `Batch run '${id}' exists; pick another run_id`),
  BATCH_NOT_RESUMABLE: createError("BATCH_NOT_RESUMABLE", 409, (id: string, status: string) => `Batch run '${id}' is ${status}; only an interrupted run resumes`),
  BATCH_INVALID: createError("BATCH_INVALID", 400, (count: number) => `${count} line${count === 1 ? "" : "s"} of the batch cannot run; nothing was started`),
});

export interface BatchRouteParts {
  store: BatchStore;
  runner: BatchRunner;
  agents: AgentRunsService;
  identity: CoreIdentityService;
  on: PluginContext["on"];
  settings: () => { maxLines: number; maxLineBytes: number };
}

const RunId = t.Object({ run_id: t.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description: "chosen by the submitter" }) });
const StatusView = t.Object({
  run_id: t.String(), status: t.Union([t.Literal("running"), t.Literal("completed"), t.Literal("interrupted")]), actor: t.String(),
  total: t.Integer(), pending: t.Integer(), running: t.Integer(), succeeded: t.Integer(), failed: t.Integer(), progress_percent: t.Number(),
  created_at: t.String(), finished_at: t.Union([t.String(), t.Null()]),
});

/** Every line parsed and checked before anything runs; the problems by line number. */
function parseLines(text: string, agents: AgentRunsService, limits: { maxLines: number; maxLineBytes: number }): { lines: Line[]; problems: { line: number; error: string }[] } {
  const raw = text.split("\n").map((l, i) => ({ n: i + 1, text: l.trim() })).filter((l) => l.text !== "");
  const problems: { line: number; error: string }[] = [];
  if (raw.length === 0) problems.push({ line: 0, error: "the body has no JSONL lines" });
  if (raw.length > limits.maxLines) problems.push({ line: 0, error: `${raw.length} lines; at most ${limits.maxLines} (plugin.batch.max_lines)` });
  const lines: Line[] = [];
  for (const { n, text: lineText } of raw.slice(0, limits.maxLines)) {
    if (Buffer.byteLength(lineText) > limits.maxLineBytes) {
      problems.push({ line: n, error: `longer than ${limits.maxLineBytes} bytes` });
      continue;
    }
    let value: { agent?: unknown; input?: unknown; custom_id?: unknown };
    try {
      value = JSON.parse(lineText);
    } catch {
      problems.push({ line: n, error: "not JSON" });
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) problems.push({ line: n, error: "not a JSON object" });
    else if (typeof value.agent !== "string" || !agents.has(value.agent)) problems.push({ line: n, error: `unknown agent ${JSON.stringify(value.agent ?? null)}` });
    else if (typeof value.input !== "string" || value.input === "") problems.push({ line: n, error: "input must be a non-empty string" });
    else if (value.custom_id !== undefined && (typeof value.custom_id !== "string" || value.custom_id.length > 200)) problems.push({ line: n, error: "custom_id must be a string of at most 200 characters" });
    else lines.push({ agent: value.agent, input: value.input, custom_id: (value.custom_id as string | undefined) ?? null });
  }
  return { lines, problems };
}

const resultOf = (i: ItemRow) => ({ line: i.line, custom_id: i.customId, agent: i.agent, status: i.status, output: i.output, error: i.error, agent_run_id: i.agentRunId });

export function batchRoutes(p: BatchRouteParts) {
  const find = async (id: string): Promise<RunRow> => {
    const run = await p.store.run(id);
    if (!run) throw BatchErrors.BATCH_NOT_FOUND([id]);
    return run;
  };
  const statusOf = async (run: RunRow) => {
    const counts = await p.store.counts(run.id);
    const done = counts.succeeded + counts.failed;
    return {
      run_id: run.id, status: run.status, actor: run.actor, total: run.total, ...counts,
      progress_percent: run.total === 0 ? 100 : Math.round((done / run.total) * 1000) / 10,
      created_at: run.createdAt.toISOString(), finished_at: run.finishedAt?.toISOString() ?? null,
    };
  };
  return (app: RolesApp) =>
    app
      .get("", async () => ({ runs: await Promise.all((await p.store.runs(200)).map(statusOf)) }), {
        role: "viewer", response: t.Object({ runs: t.Array(StatusView) }), detail: { summary: "Batch runs, newest first" },
      })
      .post("/:run_id", async ({ params, body, request, set }) => {
        if (await p.store.run(params.run_id)) throw BatchErrors.BATCH_EXISTS([params.run_id]);
        const { lines, problems } = parseLines(typeof body === "string" ? body : "", p.agents, p.settings());
        if (problems.length > 0) throw BatchErrors.BATCH_INVALID([problems.length], { details: { problems: problems.slice(0, 100) } });
        const identity = await p.identity.identify(request);
        const run = await p.store.create(params.run_id, identity?.subject ?? "unknown", identity?.role as CommandCaller["role"], lines);
        p.runner.start(run.id);
        set.status = 202;
        return statusOf(run);
      }, {
        role: { min: "operator", rateLimit: "expensive" }, params: RunId, parse: "text",
        response: { 202: StatusView },
        detail: {
          summary: "Submit a batch: one JSON object per line, {agent, input, custom_id?}; every line is checked before any runs",
          requestBody: { content: { "application/x-ndjson": { schema: { type: "string" as const } }, "text/plain": { schema: { type: "string" as const } } } },
        },
      })
      .get("/:run_id/status", async ({ params }) => statusOf(await find(params.run_id)), {
        role: "viewer", params: RunId, response: StatusView, detail: { summary: "Status and progress" },
      })
      .post("/:run_id/resume", async ({ params, request, set }) => {
        const run = await find(params.run_id);
        if (run.status !== "interrupted" || p.runner.isActive(run.id)) throw BatchErrors.BATCH_NOT_RESUMABLE([run.id, p.runner.isActive(run.id) ? "running" : run.status]);
        await p.store.requeue(run.id);
        await p.store.setStatus(run.id, "running");
        await p.store.setRole(run.id, (await p.identity.identify(request))?.role as CommandCaller["role"]);
        p.runner.start(run.id);
        set.status = 202;
        return statusOf(await find(run.id));
      }, {
        role: { min: "operator", rateLimit: "expensive" }, params: RunId, response: { 202: StatusView },
        detail: { summary: "Resume an interrupted run (gantry stopped while it ran): lines left running run again" },
      })
      .get("/:run_id/results", async ({ params }) => {
        await find(params.run_id);
        const encoder = new TextEncoder();
        let after = 0;
        // Paged from the database as the client reads, in line order.
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const page = await p.store.finished(params.run_id, after, 500);
            if (page.length === 0) return controller.close();
            after = page.at(-1)!.line;
            controller.enqueue(encoder.encode(page.map((i) => `${JSON.stringify(resultOf(i))}\n`).join("")));
          },
        });
        return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
      }, {
        role: "viewer", params: RunId,
        detail: { summary: "Finished lines as JSONL: {line, custom_id, agent, status, output, error, agent_run_id}", responses: textResponses("application/x-ndjson, one result per line") },
      })
      .get("/:run_id/stats", async ({ params }) => {
        await find(params.run_id);
        const tools: Record<string, Record<string, number>> = {};
        let total = 0;
        let after = 0;
        for (let page = await p.store.finished(params.run_id, 0, 500); page.length > 0; page = await p.store.finished(params.run_id, after, 500)) {
          after = page.at(-1)!.line;
          for (const call of page.flatMap((i) => i.toolCalls ?? [])) {
            tools[call.tool] ??= {};
            tools[call.tool]![call.outcome] = (tools[call.tool]![call.outcome] ?? 0) + 1;
            total++;
          }
        }
        return { run_id: params.run_id, lines: await p.store.counts(params.run_id), tool_calls_total: total, tool_calls: tools };
      }, {
        role: "viewer", params: RunId,
        response: t.Object({
          run_id: t.String(), lines: t.Object({ pending: t.Integer(), running: t.Integer(), succeeded: t.Integer(), failed: t.Integer() }),
          tool_calls_total: t.Integer(), tool_calls: t.Record(t.String(), t.Record(t.String(), t.Integer()), { description: "tool → outcome (ran, denied, rejected, expired, error) → count" }),
        }),
        detail: { summary: "Tool usage aggregated over the run's agent runs" },
      })
      .ws("/:run_id/stream", {
        role: "viewer",
        async open(ws) {
          const runId = (ws.data.params as { run_id: string }).run_id;
          const state = ws.data as { off?: () => void; closed?: boolean };
          // Subscribed first, so no progress between the first status and the subscription is missed.
          state.off = p.on("batch_progress", (event) => {
            if ((event.data as { run_id?: string }).run_id === runId) ws.send(JSON.stringify({ type: event.type, data: event.data }));
          });
          const run = await p.store.run(runId);
          if (state.closed) return;
          if (!run) {
            state.off();
            return ws.close(4404, "no such batch run");
          }
          ws.send(JSON.stringify({ type: "batch_progress", data: await statusOf(run) }));
        },
        close(ws) {
          const state = ws.data as { off?: () => void; closed?: boolean };
          state.closed = true;
          state.off?.();
        },
      });
}
