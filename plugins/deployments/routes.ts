/** /api/v1/deployments: list, shadow, compare, promote, rollback, retire, package, audit, artifacts and the per-model event stream. */
import { stat } from "node:fs/promises";
import { QueryLimit, fileStream, t, textResponses, type CoreIdentityService, type PluginContext, type RolesApp } from "gantry/plugin";
import type { ArtifactFiles } from "./artifacts.ts";
import type { Comparisons } from "./compare.ts";
import type { DeploymentControl } from "./control.ts";
import { DeploymentErrors } from "./errors.ts";
import type { Packager } from "./packager.ts";
import type { ShadowControl } from "./shadow-control.ts";
import type { DeploymentRow, DeploymentStore } from "./store.ts";
import type { TrafficRouter } from "./traffic.ts";
import { ArtifactView, artifactView, DeploymentView, deploymentView, ModelName, PromotionView, promotionView, ShadowStatusView } from "./views.ts";
import type { AuditWriter } from "./audit.ts";

export interface DeploymentRouteParts {
  store: DeploymentStore;
  traffic: TrafficRouter;
  control: DeploymentControl;
  shadow: ShadowControl;
  comparisons: Comparisons;
  packager: Packager;
  audit: AuditWriter;
  files: ArtifactFiles;
  identity: CoreIdentityService;
  instanceStatus: (name: string) => string | null;
  on: PluginContext["on"];
  /** Open event sockets; closed with 1012 when this plugin instance is disposed, so clients reconnect to the next. */
  sockets: Set<{ close(code?: number, reason?: string): void }>;
}

const ModelParam = t.Object({ model: t.String({ maxLength: 256, description: "the served model name, URL-encoded" }) });
const ModelBody = t.Object({ model: ModelName });
const Comment = t.String({ minLength: 1, maxLength: 4000 });

const safeDecode = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
};
/** A model name from a path, URL-decoded; 400 for broken encoding (`%ZZ`). */
const modelOf = (text: string) => {
  const model = safeDecode(text);
  if (model === undefined) throw DeploymentErrors.MODEL_NAME_INVALID([]);
  return model;
};

export function deploymentRoutes(p: DeploymentRouteParts) {
  const actorOf = async (request: Request) => (await p.identity.identify(request))?.subject ?? "unknown";
  const view = async (row: DeploymentRow) => {
    const shadow = p.traffic.shadow(row.model);
    const pending = (await p.store.promotions(row.model)).find((x) => x.status === "pending")?.id ?? null;
    return deploymentView(row, p.traffic.routing(row.model), await p.store.versions(row.model), p.instanceStatus, {
      shadow: shadow ? { shadow_id: shadow.run.id, challenger: shadow.run.challenger, sample_rate: shadow.run.sampleRate } : null, pending,
    });
  };
  const find = async (model: string) => {
    const row = await p.store.deployment(model);
    if (!row) throw DeploymentErrors.DEPLOYMENT_NOT_FOUND([model]);
    return row;
  };

  return (app: RolesApp) =>
    app
      .get("", async () => ({ deployments: await Promise.all((await p.store.deployments()).map(view)) }), {
        role: "viewer", response: t.Object({ deployments: t.Array(DeploymentView) }), detail: { summary: "Served models: versions, which one is live, status and the traffic split" },
      })
      .post("/package", async ({ body, request, set }) => {
        const row = await p.packager.build(body, await actorOf(request));
        set.status = 201;
        return artifactView(row);
      }, {
        role: { min: "operator", rateLimit: "expensive" },
        body: t.Object({
          version: t.Optional(ModelName), run_id: t.Optional(t.String({ minLength: 1, maxLength: 64, description: "an evaluation run: its model is packaged, the run noted in the manifest" })),
          model: t.Optional(ModelName),
        }),
        response: { 201: ArtifactView }, detail: { summary: "Build an OCI image layout (tar) of a version's model files and serving config" },
      })
      .post("/shadow-start", async ({ body, request, set }) => {
        const run = await p.shadow.start(body.model, body.challenger, body.sample_rate, await actorOf(request));
        set.status = 201;
        return p.shadow.status(run.model);
      }, {
        role: "operator",
        body: t.Object({ model: ModelName, challenger: ModelName, sample_rate: t.Number({ exclusiveMinimum: 0, maximum: 1, description: "share of live requests mirrored to the challenger" }) }),
        response: { 201: ShadowStatusView }, detail: { summary: "Start mirroring a share of the model's live requests to a challenger (the client only ever gets the live answer)" },
      })
      .post("/shadow-stop", async ({ body, request }) => {
        await p.shadow.stop(body.model, await actorOf(request));
        return p.shadow.status(body.model);
      }, { role: "operator", body: ModelBody, response: ShadowStatusView, detail: { summary: "Stop the model's shadow run; its figures stay readable" } })
      .get("/:model/shadow-status", ({ params }) => p.shadow.status(modelOf(params.model)), {
        role: "viewer", params: ModelParam, response: ShadowStatusView,
        detail: { summary: "Shadow figures per side (latency, errors, tokens) and answer similarity, with 95% intervals" },
      })
      .post("/compare", async ({ body, request, set }) => {
        const row = await p.comparisons.create(body, await actorOf(request));
        set.status = 201;
        return artifactView(row);
      }, {
        role: { min: "operator", rateLimit: "expensive" },
        body: t.Object({
          model: ModelName, champion: t.Optional(ModelName), challenger: t.Optional(ModelName),
          dataset: t.Optional(t.String({ minLength: 1, maxLength: 128, description: "evaluate both versions on it (needs the evaluations plugin)" })),
          metrics: t.Optional(t.Array(t.Union([t.String({ maxLength: 64 }), t.Object({ type: t.String({ maxLength: 64 }), name: t.Optional(t.String({ maxLength: 64 })) }, { additionalProperties: true })]), {
            minItems: 1, maxItems: 20, description: "evaluation metrics as POST /api/v1/evaluations takes them; default exact_match and contains",
          })),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 100000 })), input_column: t.Optional(t.String({ maxLength: 128 })),
        }),
        response: { 201: ArtifactView }, detail: { summary: "A champion-vs-challenger report from shadow data and, with a dataset, an evaluation of both" },
      })
      .post("/promote", async ({ body, request, set }) => {
        const { promotion, switched } = await p.control.promote(body, await actorOf(request));
        set.status = switched ? 200 : 202;
        return promotionView(promotion);
      }, {
        role: "operator",
        body: t.Object({
          model: ModelName, version: ModelName, comment: Comment,
          traffic: t.Optional(t.Integer({ minimum: 1, maximum: 100, description: "a canary: this percent of requests first; promote the same version again to switch fully" })),
        }),
        response: { 200: PromotionView, 202: PromotionView },
        detail: { summary: "Ask to make a version live: 202 with an approval gate someone else must approve; 200 when it completes an approved canary" },
      })
      .post("/rollback", async ({ body, request }) => view(await p.control.rollback(body.model, await actorOf(request))), {
        role: "operator", body: ModelBody, response: DeploymentView, detail: { summary: "Switch back to the previous live version now (or cancel a canary); recorded, no gate" },
      })
      .post("/retire", async ({ body, request }) => {
        await p.control.retire(body.model, body.version, await actorOf(request));
        return view(await find(body.model));
      }, {
        role: "operator", body: t.Object({ model: ModelName, version: ModelName }), response: DeploymentView,
        detail: { summary: "Stop and archive a version; refused for the live one and a running canary" },
      })
      .post("/audit", async ({ body, request, set }) => {
        const row = await p.audit.write(await find(body.model), await actorOf(request));
        set.status = 201;
        return artifactView(row);
      }, { role: { min: "operator", rateLimit: "expensive" }, body: ModelBody, response: { 201: ArtifactView }, detail: { summary: "A PDF of the model's promotion history, stored as an artifact" } })
      .get("/artifacts", async ({ query }) => {
        const rows = await p.store.artifacts(query.kind, query.model, query.limit ?? 100);
        return { artifacts: (await Promise.all(rows.map((r) => p.comparisons.refresh(r)))).map(artifactView) };
      }, {
        role: "viewer",
        query: t.Object({ kind: t.Optional(t.Union([t.Literal("report"), t.Literal("package"), t.Literal("audit")])), model: t.Optional(t.String({ maxLength: 128 })), limit: QueryLimit(1000) }),
        response: t.Object({ artifacts: t.Array(ArtifactView) }), detail: { summary: "Compare reports, packages and audits, newest first" },
      })
      .get("/artifacts/:id", async ({ params }) => artifactView(await p.comparisons.refresh(await p.files.get(params.id))), {
        role: "viewer", params: t.Object({ id: t.String({ maxLength: 64 }) }), response: ArtifactView, detail: { summary: "One artifact; a report whose evaluations ran is brought up to date" },
      })
      .get("/artifacts/:id/download", async ({ params }) => {
        const row = await p.comparisons.refresh(await p.files.get(params.id));
        const path = p.files.path(row);
        const size = (await stat(path).catch(() => undefined))?.size;
        if (size === undefined) throw DeploymentErrors.ARTIFACT_NOT_FOUND([params.id]);
        return new Response(fileStream(path), {
          headers: { "content-type": row.mediaType, "content-length": String(size), "x-content-sha256": row.sha256, "content-disposition": `attachment; filename="${row.fileName}"` },
        });
      }, {
        role: "viewer", params: t.Object({ id: t.String({ maxLength: 64 }) }),
        detail: { summary: "Download an artifact: a JSON report, an OCI layout tar, a PDF", responses: textResponses("the file, with its media type") },
      })
      .get("/:model", async ({ params }) => {
        const row = await find(modelOf(params.model));
        return { ...(await view(row)), promotions: (await p.store.promotions(row.model)).map(promotionView) };
      }, {
        role: "viewer", params: ModelParam, response: t.Composite([DeploymentView, t.Object({ promotions: t.Array(PromotionView) })]),
        detail: { summary: "One served model with its promotions" },
      })
      .ws("/:model/events", {
        role: "viewer",
        async open(ws) {
          const model = safeDecode((ws.data.params as { model: string }).model);
          if (model === undefined) return ws.close(4400, "the model name is not valid URL encoding");
          const row = await p.store.deployment(model);
          if (!row) return ws.close(4404, "no such deployment");
          p.sockets.add(ws);
          ws.send(JSON.stringify({ type: "deployment.state", data: await view(row) }));
          (ws.data as { off?: () => void }).off = p.on("deployment.*", (event) => {
            if ((event.data as { model?: string }).model === model) ws.send(JSON.stringify({ type: event.type, data: event.data }));
          });
        },
        close(ws) {
          p.sockets.delete(ws);
          (ws.data as { off?: () => void }).off?.();
        },
        detail: { summary: "The model's state, then its events: shadow progress, promotions, canary, rollback, retire, drift alerts" },
      });
}
