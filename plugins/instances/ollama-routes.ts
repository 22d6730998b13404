/**
 * Ollama's API on gantry's port (/api/tags, /api/ps, /api/show, /api/version, /api/chat,
 * /api/generate, /api/embed, /api/embeddings), translated onto the instances' OpenAI API, so
 * Ollama clients (the `ollama` npm client, Open WebUI) work unchanged. Streams are NDJSON, as Ollama's.
 */
import { t, type RolesApp } from "gantry/plugin";
import { inferenceResponses, rawJsonBody } from "./inference-docs.ts";
import { answerErrors, InferenceErrors, ollamaErrorBody, DIRECT, OWN_ERRORS } from "./inference-errors.ts";
import { chatRequestOfOllamaChat, ollamaAnswer, OllamaLines, requestOfGenerate, streams } from "./ollama-translate.ts";
import { modelRequest, upstreamMessage, type Upstream } from "./proxy.ts";
import type { NodeForwarding } from "./node-forwarding.ts";
import { relayEvents } from "./relay.ts";
import { ndjsonLine } from "./sse.ts";
import type { InstanceSupervisor } from "./supervisor.ts";
import type { Observation } from "./inference-metrics.ts";
import { keepAliveMs } from "./keep-alive.ts";
import { placeOf } from "./placement.ts";

/** The Ollama API version these routes follow (clients such as Open WebUI read it to detect Ollama). */
const OLLAMA_API_VERSION = "0.12.0";

const answered = (what: string) => inferenceResponses(what, ["application/json", "application/x-ndjson"], "{error, code}");
const unauthorized = { 401: { description: "{error, code}: no key, or one that is not valid" } };

const Details = t.Object({ parent_model: t.String(), format: t.String(), family: t.String(), families: t.Null(), parameter_size: t.String(), quantization_level: t.String() });
const ModelEntry = t.Object({ name: t.String(), model: t.String(), modified_at: t.String(), size: t.Integer(), digest: t.String(), details: Details });
const RunningEntry = t.Object({ name: t.String(), model: t.String(), size: t.Integer(), digest: t.String(), details: Details, expires_at: t.String(), size_vram: t.Integer() });

/** gantry knows no file details of a model; these fields are present, as clients expect them, and empty. */
const details = (backend: string) => ({ parent_model: "", format: backend === "llama_cpp" ? "gguf" : "", family: "", families: null, parameter_size: "", quantization_level: "" });

export function ollamaRoutes(upstream: Upstream, forwarding: NodeForwarding) {
  const m = upstream.manager;
  type View = Awaited<ReturnType<typeof m.list>>[number];
  const entries = (i: View) => [i.name, ...i.aliases].map((id) => ({ name: id, model: id, modified_at: i.updated_at, size: 0, digest: "", details: details(i.backend) }));

  /** A translated request: one JSON answer, or NDJSON lines while the server streams. */
  async function translate(kind: "chat" | "generate", supervisor: InstanceSupervisor, o: Observation, client: Record<string, unknown>, model: string, request: Request): Promise<Response> {
    const { path, request: openAi } = kind === "chat" ? { path: "/v1/chat/completions", request: chatRequestOfOllamaChat(client) } : requestOfGenerate(client);
    const stream = streams(client);
    // Ollama sends tool calls whole, in one line: ask for the whole answer and send it as a stream of one.
    const toolsWhole = stream && Array.isArray(openAi.tools);
    if (toolsWhole) {
      delete openAi.stream;
      delete openAi.stream_options;
    }
    const startedAt = performance.now();
    const res = await upstream.send(supervisor, path, { body: JSON.stringify(openAi), signal: request.signal }, o);
    if (!res.ok || !res.body) {
      o.end(res.status);
      return Response.json({ error: upstreamMessage(await res.json().catch(() => null), res.status) }, { status: res.status });
    }
    if (stream && !toolsWhole && (res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      const lines = relayEvents(res.body, new OllamaLines(kind, model, startedAt, o), (outcome) => {
        o.outcome = outcome;
        o.end(200);
      });
      return new Response(lines, { headers: { "content-type": "application/x-ndjson" } });
    }
    // A whole answer: asked for, or what a server sent to a stream request (then one closing line, as for tool calls).
    const whole = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!whole?.choices) {
      o.end(502);
      return Response.json({ error: "The model server answered with a body that is not a completion" }, { status: 502 });
    }
    const answer = ollamaAnswer(kind, whole, model, startedAt);
    // Usage before the end: the end charges the key's token window and writes the tokens to the metrics.
    o.setUsage(answer.prompt_eval_count, answer.eval_count);
    o.end(200);
    if (!stream) return Response.json(answer);
    return new Response(ndjsonLine(answer), { headers: { "content-type": "application/x-ndjson" } });
  }

  /** Embeddings for /api/embed (many inputs) and /api/embeddings (one prompt, older clients). */
  async function embed(client: Record<string, unknown>, model: string, input: unknown, request: Request, requestId: string | undefined) {
    const startedAt = performance.now();
    const { supervisor, o } = await upstream.admit(model, request, "ollama", requestId, false, client.keep_alive);
    const res = await upstream.send(supervisor, "/v1/embeddings", { body: JSON.stringify({ model: supervisor.definition.name, input }), signal: request.signal }, o);
    const answer = (await res.json().catch(() => ({}))) as { data?: { embedding: number[] }[]; usage?: { prompt_tokens?: number } };
    o.setUsage(answer.usage?.prompt_tokens, 0);
    o.end(res.status);
    if (!res.ok) return { error: Response.json({ error: upstreamMessage(answer, res.status) }, { status: res.status }) };
    return { vectors: (answer.data ?? []).map((d) => d.embedding), tokens: answer.usage?.prompt_tokens ?? 0, ns: Math.round((performance.now() - startedAt) * 1e6) };
  }

  /** When the model unloads (its request's keep_alive, else idle_timeout, from its last use; a year when never) and what it takes on a GPU. */
  const loadedFor = (name: string) => {
    const s = m.lookup(name)!;
    const keepMs = s.keepAliveMs ?? (s.definition.idleTimeout > 0 ? s.definition.idleTimeout * 1000 : Infinity);
    const since = Math.max(s.lastUsedAt, s.startedAt?.getTime() ?? 0);
    const place = placeOf(s, m.placement().devices);
    return {
      expires_at: new Date(keepMs === Infinity ? Date.now() + 365 * 86_400_000 : since + keepMs).toISOString(),
      size_vram: place && place.device !== "cpu" ? place.mib * 2 ** 20 : 0,
    };
  };

  const requestId = (set: { headers: Record<string, unknown> }) => set.headers["x-request-id"] as string | undefined;
  const generation = (kind: "chat" | "generate") => async ({ body, request, set }: { body: unknown; request: Request; set: { headers: Record<string, unknown> } }) => {
    const { body: client, model } = modelRequest(typeof body === "string" ? body : "", "model|name");
    // An empty generate (or chat without messages) loads the model, and keep_alive: 0 unloads it, as Ollama's does.
    const empty = kind === "generate" ? !client.prompt && !client.images : Array.isArray(client.messages) && client.messages.length === 0;
    if (empty) {
      const keepMs = client.keep_alive === undefined ? null : keepAliveMs(client.keep_alive);
      const supervisor = keepMs === 0 ? upstream.manager.resolve(upstream.served.target(model)) : await upstream.instance(model, request);
      if (!supervisor) throw InferenceErrors.MODEL_NOT_FOUND([model]);
      if (keepMs === 0) {
        await upstream.assertScope(model, supervisor, request); // a scoped key unloads only what it may use
        await m.unload(supervisor.definition.name);
      } else m.keepAlive(supervisor, keepMs);
      const answer = { model, created_at: new Date().toISOString(), done: true, done_reason: keepMs === 0 ? "unload" : "load" };
      return kind === "generate" ? { ...answer, response: "" } : { ...answer, message: { role: "assistant", content: "" } };
    }
    const { supervisor, o } = await upstream.admit(model, request, "ollama", requestId(set), streams(client), client.keep_alive);
    // A failure before the answer is under way ends the request (and frees its slot); end is idempotent.
    return translate(kind, supervisor, o, client, model, request).catch((error) => {
      o.end(502);
      throw error;
    });
  };

  return (app: RolesApp) =>
    app
      .onError(answerErrors(ollamaErrorBody))
      .onBeforeHandle(({ request, body }) => forwarding.forwardByBody(request, body)) // cluster: another node's model
      .get("/api/version", () => ({ version: OLLAMA_API_VERSION }), { role: "inference", response: t.Object({ version: t.String() }), detail: { summary: "The Ollama API version these routes follow", tags: ["ollama"], responses: unauthorized, ...OWN_ERRORS } })
      .get("/api/tags", async ({ request }) => ({
        // Cluster mode: every node's models.
        models: [...m.list({ stats: false }).filter((i) => !i.unlisted).flatMap(entries), ...(await forwarding.othersModels<ReturnType<typeof entries>[number]>(request, "models"))],
      }), {
        role: "inference", response: t.Object({ models: t.Array(ModelEntry) }), detail: { summary: "Instances (names and aliases) as Ollama's local models", tags: ["ollama"], responses: unauthorized, ...OWN_ERRORS },
      })
      .get("/api/ps", async () => ({
        models: (await m.list()).filter((i) => i.status === "running").flatMap((i) => entries(i).slice(0, 1).map((e) => ({
          name: e.name, model: e.model, size: i.stats.memory_usage, digest: "", details: e.details, ...loadedFor(i.name),
        }))),
      }), { role: "inference", response: t.Object({ models: t.Array(RunningEntry) }), detail: { summary: "Running instances, as Ollama lists loaded models", tags: ["ollama"], responses: unauthorized, ...OWN_ERRORS } })
      .post("/api/show", async ({ body }) => {
        const { model } = modelRequest(typeof body === "string" ? body : "", "model|name");
        const s = m.resolve(model); // shown whether it runs or not: nothing is started
        if (!s) throw InferenceErrors.MODEL_NOT_FOUND([model]);
        const i = await m.get(s.definition.name);
        return { modelfile: "", parameters: "", template: "", details: details(i.backend), model_info: { "general.architecture": "", "gantry.instance": i.name, "gantry.backend": i.backend }, capabilities: ["completion"], modified_at: i.updated_at };
      }, { role: "inference", parse: "text", detail: { summary: "What Ollama shows of a model (gantry knows the instance, not the file's internals)", tags: ["ollama"], requestBody: rawJsonBody(["model"]), responses: answered("Ollama's model description"), ...OWN_ERRORS } })
      .post("/api/chat", generation("chat"), { role: "inference", parse: "text", detail: { summary: "Ollama chat, translated onto the instance's chat completions (NDJSON stream unless stream: false)", tags: ["ollama"], requestBody: rawJsonBody(["model", "messages"]), responses: answered("Ollama's chat answer"), ...OWN_ERRORS, ...DIRECT } })
      .post("/api/generate", generation("generate"), { role: "inference", parse: "text", detail: { summary: "Ollama generate: chat with the model's template, or a raw completion with raw: true", tags: ["ollama"], requestBody: rawJsonBody(["model"]), responses: answered("Ollama's generate answer"), ...OWN_ERRORS, ...DIRECT } })
      .post("/api/embed", async ({ body, request, set }) => {
        const { body: client, model } = modelRequest(typeof body === "string" ? body : "", "model|name");
        const result = await embed(client, model, client.input, request, requestId(set));
        if ("error" in result) return result.error;
        return { model, embeddings: result.vectors, total_duration: result.ns, load_duration: 0, prompt_eval_count: result.tokens };
      }, { role: "inference", parse: "text", detail: { summary: "Ollama embeddings for one or many inputs", tags: ["ollama"], requestBody: rawJsonBody(["model", "input"]), responses: answered("{model, embeddings}"), ...OWN_ERRORS, ...DIRECT } })
      .post("/api/embeddings", async ({ body, request, set }) => {
        const { body: client, model } = modelRequest(typeof body === "string" ? body : "", "model|name");
        const result = await embed(client, model, client.prompt ?? "", request, requestId(set));
        if ("error" in result) return result.error;
        return { embedding: result.vectors[0] ?? [] };
      }, { role: "inference", parse: "text", detail: { summary: "Ollama's older single-prompt embeddings", tags: ["ollama"], requestBody: rawJsonBody(["model", "prompt"]), responses: answered("{embedding}"), ...OWN_ERRORS, ...DIRECT } });
}
