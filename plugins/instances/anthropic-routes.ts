/**
 * Anthropic's Messages API at /v1/messages (what Claude Code and @anthropic-ai/sdk call): passed
 * through to servers that serve it (llama.cpp, vLLM), translated onto chat completions for the
 * others. `x-api-key` and `anthropic-version` are accepted; errors come in Anthropic's shape.
 */
import type { RolesApp } from "gantry/plugin";
import { chatRequestOf, countedText, messageAsEvents, MessageTranslation, messageOf } from "./anthropic-translate.ts";
import { servesAnthropic } from "./backends.ts";
import { inferenceResponses, rawJsonBody } from "./inference-docs.ts";
import { answerErrors, anthropicErrorBody, DIRECT, OWN_ERRORS } from "./inference-errors.ts";
import { modelRequest, relay, relayHeaders, upstreamMessage, type Upstream } from "./proxy.ts";
import type { NodeForwarding } from "./node-forwarding.ts";
import { relayEvents, type Outcome } from "./relay.ts";
import { streamErrorEvent } from "./server-events.ts";
import { anthropicErrorEvent, loadingStream } from "./loading-progress.ts";
import type { InstanceSupervisor } from "./supervisor.ts";
import type { Observation } from "./inference-metrics.ts";

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };
const responses = inferenceResponses("An Anthropic message, or its event stream when stream: true", ["application/json", "text/event-stream"], "Anthropic's error shape {type: error, error: {type, message}}");

/** The headers a server that speaks Anthropic's API reads. */
function nativeHeaders(request: Request): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const name of ["anthropic-version", "anthropic-beta"]) {
    const value = request.headers.get(name);
    if (value) headers[name] = value;
  }
  return headers;
}

/** The server's OpenAI-shaped error, re-shaped for an Anthropic client. */
async function translatedError(res: Response): Promise<Response> {
  const message = upstreamMessage(await res.json().catch(() => null), res.status);
  return Response.json(anthropicErrorBody({ status: res.status, message, code: "UPSTREAM", param: null }), { status: res.status });
}

export function anthropicRoutes(upstream: Upstream, forwarding: NodeForwarding) {
  async function translated(supervisor: InstanceSupervisor, o: Observation, client: Record<string, unknown>, model: string, request: Request): Promise<Response> {
    const stream = client.stream === true;
    const res = await upstream.send(supervisor, "/v1/chat/completions", { body: JSON.stringify(chatRequestOf(client)), signal: request.signal }, o);
    if (!res.ok || !res.body) {
      o.end(res.status);
      return translatedError(res);
    }
    const ended = (outcome: Outcome) => {
      o.outcome = outcome;
      o.end(200);
    };
    if (stream && (res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      return new Response(relayEvents(res.body, new MessageTranslation(model, o), ended), { headers: SSE_HEADERS });
    }
    // A whole answer: asked for, or what a server sent to a stream request (then sent as the stream's events).
    const chat = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!chat?.choices) {
      o.end(502);
      const message = "The model server answered with a body that is not a chat completion";
      if (stream) return new Response(streamErrorEvent("anthropic", message), { headers: SSE_HEADERS });
      return Response.json(anthropicErrorBody({ status: 502, message, code: "UPSTREAM", param: null }), { status: 502 });
    }
    const message = messageOf(chat, model);
    o.setUsage(message.usage.input_tokens, message.usage.output_tokens);
    ended(null);
    return stream ? new Response(messageAsEvents(message), { headers: SSE_HEADERS }) : Response.json(message);
  }

  return (app: RolesApp) =>
    app
      .onError(answerErrors(anthropicErrorBody))
      .onBeforeHandle(({ request, body }) => forwarding.forwardByBody(request, body)) // cluster: another node's model
      .post("/v1/messages", async ({ body, request, set }) => {
        let text = typeof body === "string" ? body : "";
        const { body: client, model } = modelRequest(text);
        // keep_alive (Ollama's, accepted here as an extra field) is gantry's to read, not the server's.
        const keepAlive = client.keep_alive;
        if (keepAlive !== undefined) {
          delete client.keep_alive;
          text = JSON.stringify(client);
        }
        const checked = upstream.vet(model, request, keepAlive);
        const vetted = checked instanceof Promise ? await checked : checked; // a promise only while some key has a scope
        const serve = async () => {
          const { supervisor, o } = await upstream.enter(vetted, "anthropic", set.headers["x-request-id"] as string | undefined, client.stream === true);
          if (!servesAnthropic(supervisor.definition)) {
            // A failure before the answer is under way ends the request (and frees its slot); end is idempotent.
            return translated(supervisor, o, client, model, request).catch((error) => {
              o.end(502);
              throw error;
            });
          }
          return relay(await upstream.send(supervisor, "/v1/messages", { body: text, headers: nativeHeaders(request), signal: request.signal }, o), o, { family: "anthropic", model, stream: client.stream === true });
        };
        // A stream for a model that must start first begins now, with loading comments (loading-progress.ts).
        if (client.stream === true && upstream.cold(vetted)) return loadingStream(model, serve(), anthropicErrorBody, anthropicErrorEvent);
        return serve();
      }, { role: "inference", parse: "text", detail: { summary: "Anthropic Messages, routed by model: passed through or translated onto chat completions", tags: ["anthropic"], requestBody: rawJsonBody(["model", "messages", "max_tokens"]), responses, ...OWN_ERRORS, ...DIRECT } })
      .post("/v1/messages/count_tokens", async ({ body, request }) => {
        const text = typeof body === "string" ? body : "";
        const { body: client, model } = modelRequest(text);
        const supervisor = await upstream.instance(model, request);
        if (servesAnthropic(supervisor.definition)) {
          const res = await upstream.send(supervisor, "/v1/messages/count_tokens", { body: text, headers: nativeHeaders(request), signal: request.signal });
          return new Response(res.body, { status: res.status, headers: relayHeaders(res) });
        }
        // llama.cpp-style /tokenize when the server has it; else an estimate of 4 characters a token.
        const content = countedText(client);
        const res = await upstream.send(supervisor, "/tokenize", { body: JSON.stringify({ content }), signal: request.signal }).catch(() => null);
        const tokens = res?.ok ? ((await res.json().catch(() => ({}))) as { tokens?: unknown[] }).tokens : undefined;
        return { input_tokens: Array.isArray(tokens) ? tokens.length : Math.ceil(content.length / 4) };
      }, { role: "inference", parse: "text", detail: { summary: "Anthropic token counting: the server's count, its tokenizer's, or an estimate (4 characters a token)", tags: ["anthropic"], requestBody: rawJsonBody(["model", "messages"]), responses, ...OWN_ERRORS } });
}
