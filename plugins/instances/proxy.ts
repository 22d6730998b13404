/**
 * The OpenAI-compatible proxy: /v1/* routed by the body's `model` (= instance name). The request
 * body is forwarded as the client sent it (read as text, parsed only to find `model`), and the
 * response is streamed back untouched.
 */
import { capEcho, GantryError, t, type InferenceService, type RolesApp } from "gantry/plugin";
import { InstanceErrors, type InstanceManager } from "./instance-manager.ts";
import { Models } from "./schemas.ts";

/** OpenAI's error shape, which OpenAI clients parse. */
function openAiError(status: number, message: string, param: string | null = null, type = "invalid_request_error"): Response {
  return Response.json({ error: { message: capEcho(message, 1024), type, param, code: null } }, { status });
}

/** The `model` a request body names, or the OpenAI error to answer with. */
export function modelOf(text: string): string | Response {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return openAiError(400, "We could not parse the JSON body of your request: the API expects a JSON object");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return openAiError(400, "The request body must be a JSON object");
  const model = (body as { model?: unknown }).model;
  if (typeof model !== "string" || model === "") return openAiError(400, "You must provide a model parameter", "model");
  return model;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]);

/** What the model server answered, passed through; documented here since no schema can describe every server's answer. */
const passedThrough = {
  200: {
    description: "The model server's answer as it sent it: JSON, or server-sent events when the body asks for stream: true",
    content: { "application/json": { schema: { type: "object" as const } }, "text/event-stream": { schema: { type: "string" as const } } },
  },
  400: {
    description: "OpenAI's error shape {error: {message, type, param, code}}: body not a JSON object, no model, unknown model (gantry's own validation of /api/v1/inference bodies answers in gantry's shape)",
    content: { "application/json": { schema: { anyOf: [{
      type: "object" as const, required: ["error"],
      properties: { error: { type: "object" as const, required: ["message", "type"], properties: { message: { type: "string" as const }, type: { type: "string" as const }, param: {}, code: {} } } },
    }, { $ref: "#/components/schemas/Error" }] } } },
  },
};

/** The OpenAPI description of a raw JSON body (the route reads text, so there is no TypeBox body to derive it from). */
const openAiBody = (required: string[]) => ({
  required: true,
  content: { "application/json": { schema: {
    type: "object" as const, required, additionalProperties: true,
    properties: { ...Object.fromEntries(required.map((name) => [name, { description: "as OpenAI's API defines it" }])), model: { type: "string" as const, description: "The instance name" } },
  } } },
});

/** Sends a body to the instance `model` names (starting it on demand), answering what it answered or an OpenAI error. */
export function forwarder(m: InstanceManager) {
  return async (path: string, model: string, body: string, signal?: AbortSignal): Promise<Response> => {
    const supervisor = m.lookup(model);
    if (!supervisor) return openAiError(400, `The model '${capEcho(model)}' does not exist`, "model");
    if (supervisor.status !== "running") {
      if (!supervisor.definition.onDemandStart) return openAiError(503, `The model '${model}' is ${supervisor.status}; start it first`, null, "server_error");
      try {
        await m.start(model);
      } catch (error) {
        const status = error instanceof GantryError && error.code === InstanceErrors.MAX_RUNNING.code ? 409 : 503;
        return openAiError(status, `The model '${model}' could not be started: ${(error as Error).message}`, null, "server_error");
      }
    }
    supervisor.lastUsedAt = Date.now();
    let upstream: Response;
    try {
      // A client's request.signal aborts when it leaves, which cancels the upstream request too.
      upstream = await fetch(`http://127.0.0.1:${supervisor.definition.port}${path}`, {
        method: "POST", headers: { "content-type": "application/json" }, body, signal,
      });
    } catch (error) {
      return openAiError(502, `The model server for '${model}' did not answer: ${(error as Error).message}`, null, "server_error");
    }
    const headers = new Headers();
    upstream.headers.forEach((value, key) => !HOP_BY_HOP.has(key) && headers.set(key, value));
    return new Response(upstream.body, { status: upstream.status, headers });
  };
}

/** Chat completions and embeddings for other plugins (agents, knowledge, evaluations): the proxy's path without HTTP in front. */
export function inferenceService(m: InstanceManager): InferenceService {
  const forward = forwarder(m);
  const call = async (path: string, body: Record<string, unknown>, signal?: AbortSignal) => {
    const res = await forward(path, String(body.model ?? ""), JSON.stringify(body), signal);
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw new Error((answer.error as { message?: string } | undefined)?.message ?? `the model answered ${res.status}`);
    return answer;
  };
  return {
    chatCompletion: (body, signal) => call("/v1/chat/completions", body, signal),
    embeddings: (body, signal) => call("/v1/embeddings", body, signal),
  };
}

export function proxyRoutes(m: InstanceManager) {
  const forward = forwarder(m);
  /** One OpenAI route: the body read as text, so what reaches the model server is byte for byte what the client sent. */
  const openAiRoute = (app: RolesApp, path: string, summary: string, required: string[]) =>
    app.post(path, ({ body, request }) => {
      const text = typeof body === "string" ? body : ""; // parse: "text" hands over a string; no body at all is ""
      const model = modelOf(text);
      return typeof model === "string" ? forward(path, model, text, request.signal) : model;
    }, { role: "inference", parse: "text", detail: { summary, tags: ["openai"], requestBody: openAiBody(required), responses: passedThrough } });
  const Body = t.Record(t.String(), t.Unknown());
  return (app: RolesApp) => {
    openAiRoute(app, "/v1/chat/completions", "OpenAI chat completions, routed by model", ["model", "messages"]);
    openAiRoute(app, "/v1/completions", "OpenAI completions, routed by model", ["model", "prompt"]);
    openAiRoute(app, "/v1/embeddings", "OpenAI embeddings, routed by model", ["model", "input"]);
    return app
      .post("/api/v1/inference/:model", ({ params, body, request }) => forward("/v1/chat/completions", params.model, JSON.stringify({ ...body, model: params.model }), request.signal), {
        role: "operator|inference", body: Body, params: t.Object({ model: t.String({ maxLength: 64 }) }),
        detail: { summary: "gantry's single-call inference: a chat completion on the named model", tags: ["openai"], responses: passedThrough },
      })
      .get("/v1/models", () => ({
        object: "list" as const,
        data: m.list().map((i) => ({ id: i.name, object: "model" as const, created: Math.floor(Date.parse(i.created_at) / 1000), owned_by: "gantry", status: i.status })),
      }), { role: "inference", response: Models, detail: { summary: "Instances as OpenAI models", tags: ["openai"] } });
  };
}
