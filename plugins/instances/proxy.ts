/** The OpenAI-compatible proxy: /v1/* routed by the body's `model` (= instance name), streamed through untouched. */
import { t, type RolesApp } from "gantry/plugin";
import type { InstanceManager } from "./instance-manager.ts";

/** OpenAI's error shape, which OpenAI clients parse. */
function openAiError(status: number, message: string, param: string | null = null, type = "invalid_request_error"): Response {
  return Response.json({ error: { message, type, param, code: null } }, { status });
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]);

export function proxyRoutes(m: InstanceManager) {
  const forward = async (path: string, body: Record<string, unknown> | null | undefined, request: Request): Promise<Response> => {
    const model = body?.model;
    if (typeof model !== "string" || model === "") return openAiError(400, "You must provide a model parameter", "model");
    const supervisor = m.lookup(model);
    if (!supervisor) return openAiError(400, `The model '${model}' does not exist`, "model");
    if (supervisor.status !== "running") {
      if (!supervisor.definition.onDemandStart) return openAiError(503, `The model '${model}' is ${supervisor.status}; start it first`, null, "server_error");
      try {
        await m.start(model);
      } catch (error) {
        const status = (error as { code?: string }).code === "MAX_RUNNING" ? 409 : 503;
        return openAiError(status, `The model '${model}' could not be started: ${(error as Error).message}`, null, "server_error");
      }
    }
    supervisor.lastUsedAt = Date.now();
    let upstream: Response;
    try {
      // request.signal aborts when the client leaves, which cancels the upstream request too.
      upstream = await fetch(`http://127.0.0.1:${supervisor.definition.port}${path}`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: request.signal,
      });
    } catch (error) {
      return openAiError(502, `The model server for '${model}' did not answer: ${(error as Error).message}`, null, "server_error");
    }
    const headers = new Headers();
    upstream.headers.forEach((value, key) => !HOP_BY_HOP.has(key) && headers.set(key, value));
    return new Response(upstream.body, { status: upstream.status, headers });
  };
  const Body = t.Record(t.String(), t.Unknown());
  return (app: RolesApp) =>
    app
      .post("/v1/chat/completions", ({ body, request }) => forward("/v1/chat/completions", body, request), { role: "inference", body: Body, detail: { summary: "OpenAI chat completions, routed by model", tags: ["openai"] } })
      .post("/v1/completions", ({ body, request }) => forward("/v1/completions", body, request), { role: "inference", body: Body, detail: { summary: "OpenAI completions, routed by model", tags: ["openai"] } })
      .post("/v1/embeddings", ({ body, request }) => forward("/v1/embeddings", body, request), { role: "inference", body: Body, detail: { summary: "OpenAI embeddings, routed by model", tags: ["openai"] } })
      .post("/api/v1/inference/:model", ({ params, body, request }) => forward("/v1/chat/completions", { ...body, model: params.model }, request), {
        role: "inference", body: Body, params: t.Object({ model: t.String({ maxLength: 64 }) }),
        detail: { summary: "gantry's single-call inference (seed 004): a chat completion on the named model", tags: ["openai"] },
      })
      .get("/v1/models", () => ({
        object: "list",
        data: m.list().map((i) => ({ id: i.name, object: "model", created: Math.floor(Date.parse(i.created_at) / 1000), owned_by: "gantry", status: i.status })),
      }), { role: "inference", detail: { summary: "Instances as OpenAI models", tags: ["openai"] } });
}
