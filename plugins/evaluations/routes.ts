/** /api/v1/evaluations: start (operator), list and read reports, rows, compare, resume, progress stream. */
import { QueryCursor, QueryLimit, createError, defineErrors, Nullable, t, type CoreIdentityService, type DatasetsService, type PluginContext, type RolesApp } from "gantry/plugin";
import { checkMetric, METRIC_TYPES, type MetricSpec, type MetricType } from "./metrics.ts";
import { compare } from "./report.ts";
import type { EvaluationRunner } from "./runner.ts";
import type { EvaluationSpec } from "./schema.ts";
import type { EvaluationRow, EvaluationStore, RowResult } from "./store.ts";

const EvaluationErrors = defineErrors("evaluations", {
  EVALUATION_NOT_FOUND: createError("EVALUATION_NOT_FOUND", 404, (id: string) => `No evaluation '${id}'; list them at GET /api/v1/evaluations`),
  EVALUATION_INVALID: createError("EVALUATION_INVALID", 400, (count: number) => `The evaluation cannot run: ${count} problem${count === 1 ? "" : "s"}; nothing was started`),
  EVALUATION_NOT_RESUMABLE: createError("EVALUATION_NOT_RESUMABLE", 409, (id: string, status: string) => `Evaluation '${id}' is ${status}; only an interrupted evaluation resumes`),
  EVALUATION_NOT_COMPARABLE: createError("EVALUATION_NOT_COMPARABLE", 409, (why: string) => `These evaluations cannot be compared: ${why}`),
});

export interface EvaluationRouteParts {
  store: EvaluationStore;
  runner: EvaluationRunner;
  datasets: DatasetsService;
  identity: CoreIdentityService;
  on: PluginContext["on"];
  /** Open progress sockets; closed with 1012 when this plugin instance is disposed, so clients reconnect to the next. */
  sockets: Set<{ close(code?: number, reason?: string): void }>;
  settings: () => { maxRows: number };
}

const Id = t.Object({ id: t.String({ maxLength: 64 }) });
const Metric = t.Union([
  t.Union(METRIC_TYPES.map((m) => t.Literal(m))),
  t.Object({ type: t.Union(METRIC_TYPES.map((m) => t.Literal(m))), name: t.Optional(t.String({ minLength: 1, maxLength: 64 })) }, {
    additionalProperties: true,
    description: "options: ignore_case (exact_match, contains); pattern, flags (regex; default: expected as the pattern); schema (json_schema); tolerance, relative (numeric); model, an embeddings instance (embedding_similarity); rubric (llm_judge)",
  }),
]);
const StartBody = t.Object({
  model: t.String({ minLength: 1, maxLength: 64, description: "the instance to evaluate" }),
  dataset: t.String({ minLength: 1, maxLength: 128 }),
  metrics: t.Array(Metric, { minItems: 1, maxItems: 20 }),
  judge: t.Optional(t.Object({ model: t.String({ minLength: 1, maxLength: 64 }), rubric: t.Optional(t.String({ maxLength: 8000 })), scale: t.Optional(t.Number({ exclusiveMinimum: 0, default: 10 })) })),
  name: t.Optional(t.String({ maxLength: 200 })),
  input_column: t.Optional(t.String({ default: "input" })),
  expected_column: t.Optional(Nullable(t.String({ description: "default 'expected' when the dataset has it; null for none" }))),
  system_prompt: t.Optional(t.String({ maxLength: 20000 })),
  parameters: t.Optional(t.Record(t.String(), t.Unknown(), { description: "extra chat-completion fields (temperature, max_tokens, ...)" })),
  limit: t.Optional(t.Integer({ minimum: 1, description: "the first N rows; capped at plugin.evaluations.max_rows" })),
});
const MetricSummary = t.Object({ type: t.String(), n: t.Integer(), mean: t.Number(), ci95: t.Tuple([t.Number(), t.Number()]), passes: t.Optional(t.Integer()) });
const Summary = t.Object({
  rows: t.Integer(), failed_rows: t.Integer(), metrics: t.Record(t.String(), MetricSummary),
  latency_ms: t.Object({ mean: t.Number(), p50: t.Number(), p95: t.Number(), max: t.Number() }),
  tokens: t.Object({ prompt: t.Integer(), completion: t.Integer() }), elapsed_ms: t.Integer(),
});
const ReportView = t.Object({
  id: t.String(), name: Nullable(t.String()), model: t.String(), dataset: t.String(), dataset_sha256: t.String(),
  status: t.Union([t.Literal("running"), t.Literal("completed"), t.Literal("interrupted")]), actor: t.String(),
  total: t.Integer(), pending: t.Integer(), running: t.Integer(), succeeded: t.Integer(), failed: t.Integer(),
  metrics: t.Array(t.Object({ name: t.String(), type: t.String() }, { additionalProperties: true })), judge_model: Nullable(t.String()),
  summary: Nullable(Summary), created_at: t.String(), finished_at: Nullable(t.String()),
});
const RowView = t.Object({
  row: t.Integer(), input: t.String(), expected: Nullable(t.String()), status: t.String(), output: Nullable(t.String()), error: Nullable(t.String()),
  latency_ms: Nullable(t.Number()), prompt_tokens: Nullable(t.Integer()), completion_tokens: Nullable(t.Integer()),
  scores: t.Record(t.String(), t.Number()), notes: t.Record(t.String(), t.String()),
});

const cell = (value: unknown) => (value === null || value === undefined ? null : typeof value === "string" ? value : JSON.stringify(value));
const rowView = (r: RowResult) => ({
  row: r.row, input: r.input, expected: r.expected, status: r.status, output: r.output, error: r.error, latency_ms: r.latencyMs,
  prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, scores: r.scores ?? {}, notes: r.notes ?? {},
});

export type StartRequest = typeof StartBody.static;

/** An evaluation as the API shows it. */
export async function reportOfRun(store: EvaluationStore, run: EvaluationRow) {
  return {
    id: run.id, name: run.name, model: run.model, dataset: run.dataset, dataset_sha256: run.datasetSha256, status: run.status, actor: run.actor,
    total: run.total, ...(await store.counts(run.id)), metrics: run.spec.metrics, judge_model: run.spec.judge?.model ?? null,
    summary: (run.summary ?? null) as never, created_at: run.createdAt.toISOString(), finished_at: run.finishedAt?.toISOString() ?? null,
  };
}

/** Starts an evaluation (the API's POST, and the evaluations service other plugins call). */
export function evaluationStarter(p: Pick<EvaluationRouteParts, "store" | "runner" | "datasets" | "settings">) {
  /** Checks the request against the dataset and reads its rows; problems are listed, not thrown one by one. */
  const prepare = async (body: StartRequest) => {
    const problems: string[] = [];
    const dataset = await p.datasets.get(body.dataset);
    const columns = dataset.schema.map((c) => c.name);
    const inputColumn = body.input_column ?? "input";
    const expectedColumn = body.expected_column === undefined ? (columns.includes("expected") ? "expected" : null) : body.expected_column;
    if (!columns.includes(inputColumn)) problems.push(`the dataset has no column '${inputColumn}' (columns: ${columns.join(", ")}); set input_column`);
    if (expectedColumn !== null && !columns.includes(expectedColumn)) problems.push(`the dataset has no column '${expectedColumn}'; set expected_column`);
    const judge = body.judge ? { model: body.judge.model, rubric: body.judge.rubric ?? "Score how well the answer matches the reference and answers the question.", scale: body.judge.scale ?? 10 } : null;
    const metrics: MetricSpec[] = body.metrics.map((m) => (typeof m === "string" ? { type: m as MetricType, name: m } : { ...m, type: m.type as MetricType, name: m.name ?? m.type }));
    const names = new Set<string>();
    for (const m of metrics) {
      if (names.has(m.name)) problems.push(`two metrics are named '${m.name}'; give one a name`);
      names.add(m.name);
      const problem = await checkMetric(m, expectedColumn !== null, judge);
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) throw EvaluationErrors.EVALUATION_INVALID([problems.length], { details: { problems } });
    const limit = Math.min(body.limit ?? Infinity, p.settings().maxRows);
    const rows = (await p.datasets.rows(body.dataset, limit)).map((r) => ({ input: cell(r[inputColumn]) ?? "", expected: expectedColumn ? cell(r[expectedColumn]) : null }));
    const spec: EvaluationSpec = {
      metrics, judge, input_column: inputColumn, expected_column: expectedColumn, system_prompt: body.system_prompt ?? null, parameters: body.parameters ?? {},
    };
    return { dataset, rows, spec };
  };
  return async (body: StartRequest, actor: string): Promise<EvaluationRow> => {
    const { dataset, rows, spec } = await prepare(body);
    const run = await p.store.create({
      id: crypto.randomUUID(), name: body.name ?? null, model: body.model, dataset: dataset.name, datasetSha256: dataset.sha256, spec, actor, total: rows.length, createdAt: new Date(),
    }, rows);
    p.runner.start(run);
    return run;
  };
}

export function evaluationRoutes(p: EvaluationRouteParts) {
  const find = async (id: string): Promise<EvaluationRow> => {
    const run = await p.store.get(id);
    if (!run) throw EvaluationErrors.EVALUATION_NOT_FOUND([id]);
    return run;
  };
  const reportOf = (run: EvaluationRow) => reportOfRun(p.store, run);
  const start = evaluationStarter(p);

  return (app: RolesApp) =>
    app
      .get("", async ({ query }) => ({ evaluations: await Promise.all((await p.store.list(200)).filter((r) => !query.dataset || r.dataset === query.dataset).map(reportOf)) }), {
        role: "viewer", query: t.Object({ dataset: t.Optional(t.String({ maxLength: 128 })) }),
        response: t.Object({ evaluations: t.Array(ReportView) }), detail: { summary: "Evaluation reports, newest first" },
      })
      .post("", async ({ body, request, set }) => {
        const run = await start(body, (await p.identity.identify(request))?.subject ?? "unknown");
        set.status = 202;
        return reportOf(run);
      }, {
        role: { min: "operator", rateLimit: "expensive" }, body: StartBody, response: { 202: ReportView },
        detail: { summary: "Run a model on every row of a dataset and score the answers; progress as evaluation_progress events" },
      })
      .get("/:id", async ({ params }) => reportOf(await find(params.id)), {
        role: "viewer", params: Id, response: ReportView, detail: { summary: "A report: progress, and once completed the aggregates" },
      })
      .get("/:id/rows", async ({ params, query }) => {
        await find(params.id);
        return { rows: (await p.store.finished(params.id, query.after ?? 0, query.limit ?? 100)).map(rowView) };
      }, {
        role: "viewer", params: Id,
        query: t.Object({ after: QueryCursor(0, "row number to start after"), limit: QueryLimit(1000) }),
        response: t.Object({ rows: t.Array(RowView) }), detail: { summary: "Per-row results: answer, latency, tokens, scores and notes" },
      })
      .get("/:id/compare/:other", async ({ params }) => {
        const [a, b] = [await find(params.id), await find(params.other)];
        if (a.datasetSha256 !== b.datasetSha256) throw EvaluationErrors.EVALUATION_NOT_COMPARABLE([`they ran on different data ('${a.dataset}' ${a.datasetSha256.slice(0, 12)} vs '${b.dataset}' ${b.datasetSha256.slice(0, 12)})`]);
        if (a.status !== "completed" || b.status !== "completed") throw EvaluationErrors.EVALUATION_NOT_COMPARABLE(["both must be completed"]);
        return { a: { id: a.id, model: a.model }, b: { id: b.id, model: b.model }, dataset: a.dataset, ...(await compare(p.store, a, b)) };
      }, {
        role: "viewer", params: t.Object({ id: t.String({ maxLength: 64 }), other: t.String({ maxLength: 64 }) }),
        response: t.Object({
          a: t.Object({ id: t.String(), model: t.String() }), b: t.Object({ id: t.String(), model: t.String() }), dataset: t.String(), rows_compared: t.Integer(),
          metrics: t.Record(t.String(), t.Object({
            a_mean: t.Number(), b_mean: t.Number(), delta: t.Number({ description: "b − a" }), delta_ci95: t.Tuple([t.Number(), t.Number()]),
            improved: t.Integer(), regressed: t.Integer(), unchanged: t.Integer(),
          })),
        }),
        detail: { summary: "Compare two completed evaluations on the same data, row by row, per shared metric" },
      })
      .post("/:id/resume", async ({ params, set }) => {
        const run = await find(params.id);
        if (run.status !== "interrupted" || p.runner.isActive(run.id)) throw EvaluationErrors.EVALUATION_NOT_RESUMABLE([run.id, p.runner.isActive(run.id) ? "running" : run.status]);
        await p.store.requeue(run.id);
        await p.store.setStatus(run.id, "running");
        const resumed = await find(run.id);
        p.runner.start(resumed);
        set.status = 202;
        return reportOf(resumed);
      }, {
        role: { min: "operator", rateLimit: "expensive" }, params: Id, response: { 202: ReportView },
        detail: { summary: "Resume an interrupted evaluation (gantry stopped while it ran): rows left running run again" },
      })
      .ws("/:id/stream", {
        role: "viewer",
        async open(ws) {
          const id = (ws.data.params as { id: string }).id;
          const run = await p.store.get(id);
          if (!run) return ws.close(4404, "no such evaluation");
          p.sockets.add(ws);
          ws.send(JSON.stringify({ type: "evaluation_progress", data: { evaluation_id: id, status: run.status, total: run.total, ...(await p.store.counts(id)) } }));
          (ws.data as { off?: () => void }).off = p.on("evaluation_progress", (event) => {
            if ((event.data as { evaluation_id?: string }).evaluation_id === id) ws.send(JSON.stringify({ type: event.type, data: event.data }));
          });
        },
        close(ws) {
          p.sockets.delete(ws);
          (ws.data as { off?: () => void }).off?.();
        },
        detail: { summary: "Progress: the current counts, then an evaluation_progress event per finished row" },
      });
}
