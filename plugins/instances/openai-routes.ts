/**
 * OpenAI's API at /v1, routed by `model` (an instance's name or alias): chat, completions,
 * embeddings, responses, rerank, audio and images; model listing and retrieval. Every error,
 * auth included, comes back in OpenAI's shape.
 */
import { t, type RolesApp } from "gantry/plugin";
import { inferenceResponses, rawJsonBody } from "./inference-docs.ts";
import { answerErrors, DIRECT, InferenceErrors, openAiErrorBody, OWN_ERRORS } from "./inference-errors.ts";
import { modelRequest, relay, type Upstream } from "./proxy.ts";
import { SCAN_FROM_BYTES, scanModelRequest } from "./model-scan.ts";
import { loadingStream, openAiErrorEvent } from "./loading-progress.ts";
import { decodeModelId } from "./model-names.ts";
import { Model, Models } from "./schemas.ts";
import type { NodeForwarding } from "./node-forwarding.ts";

const SHAPE = "OpenAI's error shape {error: {message, type, param, code}}";
/** What the model server answered, passed through: no schema can describe every server's answer. */
const passedThrough = inferenceResponses("The model server's answer, naming the model id sent: JSON, server-sent events when the body asks for stream: true, or bytes (audio, images)", ["application/json", "text/event-stream"], SHAPE);
const errors = { 401: passedThrough[401], 404: passedThrough[404] };
const multipartBody = {
  required: true,
  content: { "multipart/form-data": { schema: { type: "object" as const, required: ["model", "file"], properties: { model: { type: "string" as const }, file: { type: "string" as const, format: "binary" } }, additionalProperties: true } } },
};

type InstanceView = { name: string; status: "stopped" | "starting" | "running" | "stopping" | "failed"; created_at: string };

/** A model as OpenAI lists it, with gantry's status. */
function modelView(i: InstanceView, id: string) {
  return { id, object: "model" as const, created: Math.floor(Date.parse(i.created_at) / 1000), owned_by: "gantry", status: i.status, instance: i.name };
}

/** `text` (an object without stream_options) asking for usage: the member goes first, so the body is not re-serialized. */
const withUsageAsked = (text: string, objectStart: number) => `${text.slice(0, objectStart + 1)}"stream_options":{"include_usage":true},${text.slice(objectStart + 1)}`;

export function openAiRoutes(upstream: Upstream, forwarding: NodeForwarding) {
  const m = upstream.manager;
  const requestId = (set: { headers: Record<string, unknown> }) => set.headers["x-request-id"] as string | undefined;

  /** A JSON route: the body forwarded byte for byte, unless gantry asks a stream for its usage. */
  const jsonRoute = (app: RolesApp, path: string, summary: string, required: string[], askUsage: boolean) => {
    const family = path === "/v1/responses" ? "responses" as const : "openai" as const;
    return app.post(path, async ({ body, request, set }) => {
      let text = typeof body === "string" ? body : ""; // parse: "text" hands over a string; no body at all is ""
      // A large body is not parsed whole when a bounded scan is sure of its model and stream (it then has no stream_options or keep_alive).
      const scanned = text.length >= SCAN_FROM_BYTES ? scanModelRequest(text) : undefined;
      const { body: parsed, model } = scanned ? { body: undefined, model: scanned.model } : modelRequest(text);
      const forwarded = forwarding.applies(request) ? await forwarding.forward(request, model, text) : undefined; // cluster: another node's model
      if (forwarded) return forwarded;
      // keep_alive (Ollama's, accepted here as an extra field) is gantry's to read, not the server's.
      const keepAlive = parsed?.keep_alive;
      if (parsed && keepAlive !== undefined) {
        delete parsed.keep_alive;
        text = JSON.stringify(parsed);
      }
      const stream = scanned ? scanned.stream : parsed!.stream === true;
      // Streams report usage only when asked; ask, and take the extra chunk out again for a client that did not.
      const stripUsage = askUsage && stream && (parsed?.stream_options as { include_usage?: unknown } | undefined)?.include_usage !== true;
      if (stripUsage) text = scanned ? withUsageAsked(text, scanned.objectStart) : JSON.stringify({ ...parsed, stream_options: { ...(parsed!.stream_options as object | undefined), include_usage: true } });
      const checked = upstream.vet(model, request, keepAlive);
      const vetted = checked instanceof Promise ? await checked : checked; // a promise only while some key has a scope
      const serve = async () => {
        const { supervisor, o } = await upstream.enter(vetted, "openai", requestId(set), stream);
        const observer = stream ? undefined : upstream.served.observer(model, path);
        const options = { family, model, stream, stripUsage };
        if (!observer) return relay(await upstream.send(supervisor, path, { body: text, signal: request.signal }, o), o, options);
        const started = performance.now();
        const answer = await relay(await upstream.send(supervisor, path, { body: text, signal: request.signal }, o), o, options);
        observer({ path, body: text, instance: supervisor.definition.name, status: answer.status, answer: answer.clone(), latencyMs: performance.now() - started });
        return answer;
      };
      // A stream for a model that must start first begins now, with loading comments (loading-progress.ts).
      if (stream && upstream.cold(vetted)) return loadingStream(model, serve(), openAiErrorBody, openAiErrorEvent);
      return serve();
    }, { role: "inference", parse: "text", detail: { summary, tags: ["openai"], requestBody: rawJsonBody(required), responses: passedThrough, ...OWN_ERRORS, ...DIRECT } });
  };

  /** A multipart route (audio files): the bytes forwarded with their boundary, `model` read from the form. */
  const multipartRoute = (app: RolesApp, path: string, summary: string) =>
    app.post(path, async ({ request, set }) => {
      const type = request.headers.get("content-type") ?? "";
      const bytes = await request.arrayBuffer();
      let model: unknown;
      if (type.startsWith("multipart/form-data")) {
        model = (await new Response(bytes, { headers: { "content-type": type } }).formData().catch(() => undefined))?.get("model");
      }
      if (typeof model !== "string" || model === "") throw InferenceErrors.MODEL_REQUIRED([]);
      const forwarded = await forwarding.forward(request, model, bytes); // cluster: another node's model
      if (forwarded) return forwarded;
      const { supervisor, o } = await upstream.admit(model, request, "openai", requestId(set), false);
      return relay(await upstream.send(supervisor, path, { body: bytes, headers: { "content-type": type }, signal: request.signal }, o), o, { model });
    }, { role: "inference", parse: "none", detail: { summary, tags: ["openai"], requestBody: multipartBody, responses: passedThrough, ...OWN_ERRORS, ...DIRECT } });

  return (app: RolesApp) => {
    app.onError(answerErrors(openAiErrorBody));
    jsonRoute(app, "/v1/chat/completions", "OpenAI chat completions, routed by model", ["model", "messages"], true);
    jsonRoute(app, "/v1/completions", "OpenAI completions, routed by model", ["model", "prompt"], true);
    jsonRoute(app, "/v1/embeddings", "OpenAI embeddings, routed by model", ["model", "input"], false);
    jsonRoute(app, "/v1/responses", "OpenAI Responses API, passed to servers that serve it (llama.cpp, vLLM)", ["model", "input"], false);
    jsonRoute(app, "/v1/rerank", "Rerank documents against a query (llama.cpp, vLLM, Jina/Cohere shape)", ["model", "query", "documents"], false);
    jsonRoute(app, "/v1/reranking", "Rerank, as llama.cpp also names it", ["model", "query", "documents"], false);
    jsonRoute(app, "/v1/audio/speech", "Text to speech; the audio bytes come back as the server sent them", ["model", "input"], false);
    jsonRoute(app, "/v1/images/generations", "Image generation, routed by model", ["model", "prompt"], false);
    multipartRoute(app, "/v1/audio/transcriptions", "Speech to text (multipart upload), routed by the form's model");
    multipartRoute(app, "/v1/audio/translations", "Speech to English text (multipart upload), routed by the form's model");
    const models = async ({ request }: { request: Request }) => {
      const data: ReturnType<typeof modelView>[] = [];
      for (const i of m.list({ stats: false })) if (!i.unlisted) data.push(modelView(i, i.name), ...i.aliases.map((alias) => modelView(i, alias)));
      data.push(...(await forwarding.othersModels<ReturnType<typeof modelView>>(request))); // cluster: every node's models
      return { object: "list" as const, data: data.sort((a, b) => a.id.localeCompare(b.id)) };
    };
    return app
      .post("/api/v1/inference/:model", async ({ params, body, request, set }) => {
        const model = decodeModelId(params.model);
        // cluster: another node's model (the body serialized only when a forward could apply)
        const forwarded = forwarding.applies(request) ? await forwarding.forward(request, model, JSON.stringify(body)) : undefined;
        if (forwarded) return forwarded;
        const { keep_alive: keepAlive, ...rest } = body;
        const { supervisor, o } = await upstream.admit(model, request, "openai", requestId(set), body.stream === true, keepAlive);
        const text = JSON.stringify({ ...rest, model });
        return relay(await upstream.send(supervisor, "/v1/chat/completions", { body: text, signal: request.signal }, o), o, { model, stream: body.stream === true });
      }, {
        role: "operator|inference", body: t.Record(t.String(), t.Unknown()), params: t.Object({ model: t.String({ maxLength: 256, description: "an instance's name or alias, URL-encoded" }) }),
        detail: { summary: "gantry's single-call inference: a chat completion on the named model", tags: ["openai"], responses: passedThrough, ...OWN_ERRORS },
      })
      .get("/v1/models", models, { role: "inference", response: Models, detail: { summary: "Instances (names and aliases) as OpenAI models; unlisted ones are left out", tags: ["openai"], responses: { 401: errors[401] }, ...OWN_ERRORS } })
      // A wildcard, so ids with '/' work sent as they are or URL-encoded.
      .get("/v1/models/*", async ({ params, request }) => {
        const id = decodeModelId(params["*"]);
        const s = m.resolve(id);
        const forwarded = s ? undefined : await forwarding.forward(request, id);
        // The owner node's answer, passed through: the same Model shape (Elysia sends a Response as it is).
        if (forwarded) return forwarded as unknown as ReturnType<typeof modelView>;
        if (!s) throw InferenceErrors.MODEL_NOT_FOUND([id]);
        return modelView(await m.get(s.definition.name), id);
      }, { role: "inference", response: Model, detail: { summary: "One model by id or alias (OpenAI's models.retrieve); unlisted ones too", tags: ["openai"], responses: { 401: errors[401], 404: errors[404] }, ...OWN_ERRORS } })
      // Not an endpoint (hidden from the API document): any other /v1 path answers 404 in OpenAI's shape, not gantry's.
      .all("/v1/*", ({ request }) => {
        throw InferenceErrors.UNKNOWN_ROUTE([request.method, new URL(request.url).pathname]);
      }, { role: "inference", detail: { hide: true, ...OWN_ERRORS } });
  };
}
