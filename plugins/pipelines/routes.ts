/** The pipelines routes (/api/v1/pipelines…) and chat (/api/v1/chat). */
import { stat } from "node:fs/promises";
import { QueryCursor, QueryLimit, QueryOffset, fileStream, mayInvoke, Nullable, t, textResponses, type AgentRunsService, type CommandRole, type CoreIdentityService, type PluginContext, type RolesApp } from "gantry/plugin";
import type { PipelineEngine } from "./engine.ts";
import { queryJournal } from "./journal-query.ts";
import type { PipelineLauncher } from "./launcher.ts";
import type { PipelineStore, RunStarter } from "./store.ts";
import type { Loaded } from "./templates.ts";
import { artifactView, ArtifactView, EventView, eventView, PipelineErrors, RunStateSchema, RunView, templateView, TemplateView } from "./views.ts";

export interface PipelineRouteParts {
  launcher: PipelineLauncher;
  engine: PipelineEngine;
  store: PipelineStore;
  templates: () => Promise<Map<string, Loaded>>;
  agentRuns: () => AgentRunsService | undefined;
  identity: CoreIdentityService;
  on: PluginContext["on"];
  settings: () => { queryTimeoutMs: number; queryMaxRows: number };
}

const RunId = t.Object({ run_id: t.String({ maxLength: 64 }) });
const QueryResult = t.Object({ run_id: t.String(), columns: t.Array(t.String()), rows: t.Array(t.Array(t.Unknown())), truncated: t.Boolean() });

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → inclusive offsets; undefined when it does not fit. */
function byteRange(header: string, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  const start = m[1] === "" ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = m[1] === "" || m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start <= end && start < size ? { start, end } : undefined;
}

/** A route's caller role as a command role (a role name this version does not know acts as a viewer). */
const asCommandRole = (role: string | undefined): CommandRole => (role === "admin" || role === "operator" ? role : "viewer");

export function pipelineRoutes(p: PipelineRouteParts) {
  const actorOf = async (request: Request) => (await p.identity.identify(request))?.subject ?? "unknown";
  const starterOf = async (request: Request): Promise<RunStarter> => {
    const who = await p.identity.identify(request);
    return { actor: who?.subject ?? "unknown", role: asCommandRole(who?.role) };
  };
  return (app: RolesApp) =>
    app
      .get("/api/v1/pipelines", async ({ query }) => {
        const { runs, total } = await p.store.runs({ state: query.state, template: query.template, compliance: query.compliance, limit: query.limit ?? 50, offset: query.offset ?? 0 });
        const views = await Promise.all(runs.map(async (r) => p.launcher.view(r.id)));
        return { runs: views, total, limit: query.limit ?? 50, offset: query.offset ?? 0 };
      }, {
        role: "viewer",
        query: t.Object({
          state: t.Optional(RunStateSchema), template: t.Optional(t.String({ maxLength: 64 })), compliance: t.Optional(t.String({ maxLength: 64, description: "runs of templates with this compliance tag" })),
          limit: QueryLimit(500), offset: QueryOffset(),
        }),
        response: t.Object({ runs: t.Array(RunView), total: t.Integer(), limit: t.Integer(), offset: t.Integer() }),
        detail: { summary: "Pipeline runs, newest first (filter by state, template, compliance; paged)", tags: ["pipelines"] },
      })
      .get("/api/v1/pipelines/templates", async () => ({ templates: [...(await p.templates()).values()].map(templateView) }), {
        role: "viewer", response: t.Object({ templates: t.Array(TemplateView) }), detail: { summary: "Pipeline templates, with the problems of invalid ones", tags: ["pipelines"] },
      })
      .post("/api/v1/pipelines", async ({ body, request, set }) => {
        const run = await p.launcher.start(body.template, body.inputs ?? {}, await starterOf(request));
        set.status = 201;
        return p.launcher.view(run.id);
      }, {
        role: { min: "operator", rateLimit: "expensive" },
        body: t.Object({ template: t.String({ maxLength: 64 }), inputs: t.Optional(t.Record(t.String(), t.Unknown())) }),
        response: { 201: RunView }, detail: { summary: "Start a run of a template", tags: ["pipelines"] },
      })
      .get("/api/v1/pipelines/artifacts/:id", async ({ params, request }) => {
        const artifact = await p.store.artifact(params.id);
        if (!artifact) throw PipelineErrors.PIPELINE_ARTIFACT_NOT_FOUND([params.id]);
        const size = (await stat(artifact.path).catch(() => undefined))?.size;
        if (size === undefined) throw PipelineErrors.PIPELINE_ARTIFACT_NOT_FOUND([params.id]);
        const headers: Record<string, string> = {
          "content-type": artifact.mediaType, "accept-ranges": "bytes", "x-content-sha256": artifact.sha256,
          "content-disposition": `attachment; filename="${artifact.name}"`,
        };
        const range = request.headers.get("range");
        if (!range) return new Response(fileStream(artifact.path), { headers: { ...headers, "content-length": String(size) } });
        const fits = byteRange(range, size);
        if (!fits) throw PipelineErrors.PIPELINE_RANGE_INVALID([range.slice(0, 60), size], { details: { size } });
        return new Response(fileStream(artifact.path, fits.start, fits.end), {
          status: 206, headers: { ...headers, "content-range": `bytes ${fits.start}-${fits.end}/${size}`, "content-length": String(fits.end - fits.start + 1) },
        });
      }, {
        role: "viewer", params: t.Object({ id: t.String({ maxLength: 64 }) }),
        detail: { summary: "Download an artifact (Range requests answer 206)", tags: ["pipelines"], responses: textResponses("the file, with its media type") },
      })
      .get("/api/v1/pipelines/:run_id", ({ params }) => p.launcher.view(params.run_id), {
        role: "viewer", params: RunId, response: RunView, detail: { summary: "Run status: state, current phases, active agent, inputs, outputs so far", tags: ["pipelines"] },
      })
      .get("/api/v1/pipelines/:run_id/events", async ({ params, query }) => {
        await p.launcher.find(params.run_id);
        if (query.sql === undefined) {
          const events = await p.store.events(params.run_id, {
            kind: query.kind, phase: query.phase, sinceSeq: query.since_seq, from: query.from ? new Date(query.from) : undefined, to: query.to ? new Date(query.to) : undefined, limit: query.limit ?? 1000,
          });
          return { run_id: params.run_id, events: events.map(eventView) };
        }
        const all = await p.store.events(params.run_id, { limit: 1_000_000 });
        const settings = p.settings();
        const outcome = await queryJournal(all, query.sql, { timeoutMs: settings.queryTimeoutMs, maxRows: settings.queryMaxRows });
        if (outcome.ok) return { run_id: params.run_id, columns: outcome.columns, rows: outcome.rows, truncated: outcome.truncated };
        if (outcome.reason === "timeout") throw PipelineErrors.PIPELINE_QUERY_TIMEOUT([outcome.message]);
        throw PipelineErrors.PIPELINE_QUERY_REFUSED([outcome.message]);
      }, {
        role: "viewer", params: RunId,
        query: t.Object({
          kind: t.Optional(t.String({ maxLength: 64 })), phase: t.Optional(t.String({ maxLength: 64 })),
          since_seq: QueryCursor(0, "events after this seq (tailing)"),
          from: t.Optional(t.String({ format: "date-time" })), to: t.Optional(t.String({ format: "date-time" })),
          limit: QueryLimit(10000),
          sql: t.Optional(t.String({ maxLength: 4000, description: "one SELECT over the table run_events (run_id, seq, time, phase, kind, data as JSON text) holding this run's journal only" })),
        }),
        response: t.Union([t.Object({ run_id: t.String(), events: t.Array(EventView) }), QueryResult]),
        detail: { summary: "The run's journal (filter by kind, phase, time, since_seq), or a read-only SQL query over it", tags: ["pipelines"] },
      })
      .get("/api/v1/pipelines/:run_id/artifacts", async ({ params }) => {
        await p.launcher.find(params.run_id);
        return { run_id: params.run_id, artifacts: (await p.store.artifacts(params.run_id)).map(artifactView) };
      }, {
        role: "viewer", params: RunId, response: t.Object({ run_id: t.String(), artifacts: t.Array(ArtifactView) }), detail: { summary: "Files the run's phases produced", tags: ["pipelines"] },
      })
      .post("/api/v1/pipelines/:run_id/cancel", async ({ params, request, set }) => {
        set.status = 202;
        return p.launcher.cancel(params.run_id, await actorOf(request));
      }, {
        role: "operator", params: RunId, response: { 202: RunView },
        detail: { summary: "Soft-cancel: no phase starts any more; a running step finishes, gates stop waiting; the run ends cancelled", tags: ["pipelines"] },
      })
      .post("/api/v1/pipelines/:run_id/resume", async ({ params, request, set }) => {
        set.status = 202;
        return p.launcher.resume(params.run_id, await actorOf(request));
      }, {
        role: "operator", params: RunId, response: { 202: RunView },
        detail: { summary: "Resume an interrupted, failed or cancelled run from its last completed phase", tags: ["pipelines"] },
      })
      .post("/api/v1/chat", async ({ body, request }) => {
        const run = await p.launcher.find(body.run_id);
        if (!run.definition.chat) throw PipelineErrors.PIPELINE_CHAT_DISABLED([run.id, run.template]);
        const phase = (await p.store.phases(run.id)).find((ph) => ph.state === "running" && ph.agent);
        const runs = p.agentRuns();
        if (run.state !== "running" || !phase?.agent || !runs) throw PipelineErrors.PIPELINE_NO_ACTIVE_AGENT([run.id, run.state]);
        const sender = await starterOf(request);
        await p.engine.journal(run.id, "message", phase.name, { from: sender.actor, to: phase.agent, text: body.message });
        // The agent acts with the lesser of the run's role and the sender's.
        const role = mayInvoke(sender.role, run.role) ? run.role : sender.role;
        const answer = await runs.run(phase.agent, body.message, `pipeline:${run.id}:chat`, { role });
        const text = answer.status === "succeeded" ? answer.output : null;
        await p.engine.journal(run.id, "message", phase.name, { from: phase.agent, to: sender.actor, text, agent_run_id: answer.id, error: answer.error });
        return { run_id: run.id, phase: phase.name, agent: phase.agent, agent_run_id: answer.id, status: answer.status, answer: text, error: answer.error };
      }, {
        role: "operator",
        body: t.Object({ run_id: t.String({ maxLength: 64 }), message: t.String({ minLength: 1, maxLength: 100_000 }) }),
        response: t.Object({
          run_id: t.String(), phase: t.String(), agent: t.String(), agent_run_id: t.String(), status: t.String(), answer: Nullable(t.String()), error: Nullable(t.String()),
        }),
        detail: { summary: "Send a message to the active agent of a run whose template enables chat mode; answers the agent's reply", tags: ["pipelines"] },
      })
      .ws("/api/v1/pipelines/:run_id/stream", {
        role: "viewer",
        async open(ws) {
          const runId = (ws.data.params as { run_id: string }).run_id;
          const run = await p.store.run(runId);
          if (!run) return ws.close(4404, "no such pipeline run");
          // Events that happen while the state is read wait, so the state always comes first.
          let held: string[] | undefined = [];
          const off = p.on("pipeline_event", (event) => {
            if ((event.data as { run_id?: string }).run_id !== runId) return;
            const message = JSON.stringify({ type: "pipeline_event", data: event.data });
            if (held) held.push(message);
            else ws.send(message);
          });
          (ws.data as { off?: () => void }).off = off;
          ws.send(JSON.stringify({ type: "pipeline_state", data: await p.launcher.view(runId) }));
          for (const message of held) ws.send(message);
          held = undefined;
        },
        close(ws) {
          (ws.data as { off?: () => void }).off?.();
        },
      });
}
