/** /api/v1/models: declared models (reconcile, export as TOML), downloads (pull, follow, cancel) and the files in models_dir. */
import { Nullable, t, textResponses, type RolesApp } from "gantry/plugin";
import { exportToml } from "./declared-models.ts";
import type { InstanceManager } from "./instance-manager.ts";
import { listModelFiles } from "./model-files.ts";
import type { ModelPulls, PulledFile, PullView } from "./model-pulls.ts";
import type { ModelReconciler } from "./model-reconciler.ts";

const Names = t.Array(t.String());
const ReconcileResultSchema = t.Object({
  created: Names, updated: Names, removed: Names, unchanged: Names,
  differs: t.Record(t.String(), Names, { description: "running instances → the declared fields they lack (applied when they stop); `removed`: the table is gone" }),
  invalid: t.Record(t.String(), Names, { description: "tables that could not be applied → why" }),
});

const Pull = t.Object({
  id: t.String(), source: t.String(), file: t.String({ description: "what lands in models_dir (a file, or a folder for a repository)" }),
  status: t.Union([t.Literal("downloading"), t.Literal("verifying"), t.Literal("completed"), t.Literal("failed"), t.Literal("cancelled")]),
  bytes_done: t.Number(), bytes_total: Nullable(t.Number()), error: Nullable(t.String()),
  started_at: t.String(), finished_at: Nullable(t.String()),
});
const PullId = t.Object({ id: t.String({ maxLength: 64 }) });
const ModelFile = t.Object({
  name: t.String(), kind: t.Union([t.Literal("file"), t.Literal("folder")]), size: t.Number(), sha256: Nullable(t.String()), source: Nullable(t.String()),
  partial: t.Boolean({ description: "an unfinished download (pull the same source again to resume)" }), used_by: Names,
});

export interface ModelRouteParts {
  manager: InstanceManager;
  reconciler: ModelReconciler;
  pulls: ModelPulls;
  modelsDir: string;
  recorded(): Promise<Map<string, PulledFile>>;
}

/** A pull's changes as server-sent events (`data: <pull>`), from its state now until it finishes or the client leaves. */
function pullEvents(pulls: ModelPulls, id: string, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const close = () => {
        stop();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      const send = (view: PullView) => {
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(view)}\n\n`));
        if (["completed", "failed", "cancelled"].includes(view.status)) close();
      };
      stop = pulls.follow(id, send);
      signal.addEventListener("abort", close, { once: true });
      send(pulls.get(id));
    },
    cancel: () => stop(),
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

export function modelRoutes(p: ModelRouteParts) {
  return (app: RolesApp) =>
    app
      .post("/reconcile", () => p.reconciler.reconcile(), {
        role: "admin", response: ReconcileResultSchema,
        detail: { summary: "Bring the instances in step with [models.<name>] of the running configuration (a config reload does this too)" },
      })
      .get("/export", ({ set }) => {
        set.headers["content-type"] = "application/toml; charset=utf-8";
        return exportToml(p.manager.list());
      }, { role: "viewer", detail: { summary: "Every instance as a [models.<name>] table (TOML) for gantry.toml; env values are left out", responses: textResponses("TOML") } })
      .post("/pull", async ({ body, set }) => {
        set.status = 202;
        return p.pulls.start(body.source);
      }, {
        role: "admin",
        body: t.Object({ source: t.String({ minLength: 4, maxLength: 2048, description: "hf:<org>/<repo>/<file>, hf:<org>/<repo>[/<folder>] or an http(s) URL" }) }),
        response: {
          202: Pull,
          422: t.Object({ error: t.String(), code: t.String(), details: t.Unknown() }, { description: "OUTBOUND_ADDRESS_REFUSED: the source (or the hub) is on a loopback, private or other non-public address that outbound.allow does not list" }),
          502: t.Object({ error: t.String(), code: t.String(), details: t.Unknown() }, { description: "HUB_REFUSED, HUB_UNREACHABLE: the hub did not give the file list; OUTBOUND_HOST_UNRESOLVED: the source's host has no address" }),
          507: t.Object({ error: t.String(), code: t.String(), details: t.Unknown() }, { description: "NO_DISK_SPACE: what is left to fetch does not fit in models_dir" }),
        },
        detail: { summary: "Download a model into models_dir (resumable, SHA-256 checked); 507 when the disk is too small. Follow it at /pulls/{id}/events" },
      })
      .get("/pulls", () => ({ pulls: p.pulls.list() }), { role: "viewer", response: t.Object({ pulls: t.Array(Pull) }), detail: { summary: "Downloads since gantry started, newest first" } })
      .get("/pulls/:id", ({ params }) => p.pulls.get(params.id), { role: "viewer", params: PullId, response: Pull, detail: { summary: "One download" } })
      .get("/pulls/:id/events", ({ params, request }) => {
        p.pulls.get(params.id); // 404 before the stream starts
        return pullEvents(p.pulls, params.id, request.signal);
      }, { role: "viewer", params: PullId, detail: { summary: "The download's progress as server-sent events (data: the pull), until it finishes", responses: textResponses("text/event-stream") } })
      .delete("/pulls/:id", ({ params }) => p.pulls.cancel(params.id), {
        role: "admin", params: PullId, response: Pull,
        detail: { summary: "Cancel a running download (its .partial file stays: pulling again resumes), or forget a finished one" },
      })
      .get("/files", async () => ({ models_dir: p.modelsDir, files: listModelFiles(p.modelsDir, await p.recorded(), p.manager.list()) }), {
        role: "viewer", response: t.Object({ models_dir: t.String(), files: t.Array(ModelFile) }),
        detail: { summary: "The files and folders in models_dir, with size, SHA-256 (when pulled by gantry) and the instances that use them" },
      });
}
