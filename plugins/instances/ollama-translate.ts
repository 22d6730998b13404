/**
 * Ollama's API translated onto OpenAI's: /api/chat and /api/generate requests become chat (or raw
 * completions) requests, their answers and streams become Ollama's JSON and NDJSON lines.
 */
import { DROP, type Verdict } from "./relay.ts";
import { ChatTranslation, type StreamReport } from "./server-events.ts";
import { ndjsonLine } from "./sse.ts";

type Json = Record<string, any>;

/** Ollama's `options` that have an OpenAI field. */
const OPTIONS: [string, string][] = [["temperature", "temperature"], ["top_p", "top_p"], ["top_k", "top_k"], ["num_predict", "max_tokens"], ["stop", "stop"], ["seed", "seed"], ["frequency_penalty", "frequency_penalty"], ["presence_penalty", "presence_penalty"], ["min_p", "min_p"], ["repeat_penalty", "repeat_penalty"]];

/** The sampling fields, format and streaming flag common to chat and generate. */
function common(body: Json, stream: boolean): Json {
  const out: Json = {};
  for (const [from, to] of OPTIONS) if (body.options?.[from] !== undefined) out[to] = body.options[from];
  if (body.format === "json") out.response_format = { type: "json_object" };
  else if (body.format && typeof body.format === "object") out.response_format = { type: "json_schema", json_schema: { name: "format", schema: body.format } };
  if (stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}

/** Ollama sends images as bare base64; OpenAI servers take data URLs. */
const withImages = (text: string, images: string[] | undefined): unknown =>
  images?.length ? [{ type: "text", text }, ...images.map((data) => ({ type: "image_url", image_url: { url: `data:image/png;base64,${data}` } }))] : text;

function chatMessage(m: Json, i: number): Json {
  if (m.role === "tool") return { role: "tool", tool_call_id: m.tool_call_id ?? `call_${m.tool_name ?? i}`, content: m.content ?? "" };
  const out: Json = { role: m.role, content: withImages(m.content ?? "", m.images) };
  if (Array.isArray(m.tool_calls)) {
    out.tool_calls = m.tool_calls.map((c: Json, j: number) => ({ id: c.id ?? `call_${c.function?.name ?? j}`, type: "function", function: { name: c.function?.name, arguments: JSON.stringify(c.function?.arguments ?? {}) } }));
  }
  return out;
}

/** Whether a request streams: Ollama streams unless told `stream: false`. */
export const streams = (body: Json): boolean => body.stream !== false;

export function chatRequestOfOllamaChat(body: Json): Json {
  const chat: Json = { model: body.model, messages: (body.messages ?? []).map(chatMessage), ...common(body, streams(body)) };
  if (Array.isArray(body.tools) && body.tools.length > 0) chat.tools = body.tools;
  return chat;
}

/** /api/generate as chat (the server applies the model's template), or as a raw completion with `raw: true`. */
export function requestOfGenerate(body: Json): { path: string; request: Json } {
  const extra = common(body, streams(body));
  if (body.raw === true) return { path: "/v1/completions", request: { model: body.model, prompt: body.prompt ?? "", ...(body.suffix ? { suffix: body.suffix } : {}), ...extra } };
  const messages: Json[] = [];
  if (body.system) messages.push({ role: "system", content: body.system });
  messages.push({ role: "user", content: withImages(body.prompt ?? "", body.images) });
  return { path: "/v1/chat/completions", request: { model: body.model, messages, ...extra } };
}

const DONE_REASON: Record<string, string> = { stop: "stop", length: "length", tool_calls: "stop" };

/** Ollama's closing fields: durations in nanoseconds, token counts from usage. */
function closing(startedAt: number, usage: Json | undefined, finish: string | undefined): Json {
  const total = Math.round((performance.now() - startedAt) * 1e6);
  return {
    done: true, done_reason: DONE_REASON[finish ?? "stop"] ?? finish ?? "stop",
    total_duration: total, load_duration: 0, prompt_eval_count: usage?.prompt_tokens ?? 0, prompt_eval_duration: 0, eval_count: usage?.completion_tokens ?? 0, eval_duration: total,
  };
}

const toolCallsOf = (calls: Json[] | undefined) =>
  calls?.map((c) => ({ function: { name: c.function?.name, arguments: (() => { try { return JSON.parse(c.function?.arguments || "{}"); } catch { return {}; } })() } }));

/** A chat completion (or completion, for generate) as Ollama's answer; `model` is the id the client sent. */
export function ollamaAnswer(kind: "chat" | "generate", answer: Json, model: string, startedAt: number): Json {
  const choice = answer.choices?.[0] ?? {};
  const text = choice.message?.content ?? choice.text ?? "";
  const head = { model, created_at: new Date().toISOString() };
  const toolCalls = toolCallsOf(choice.message?.tool_calls);
  const body = kind === "chat"
    ? { message: { role: "assistant", content: text, ...(toolCalls?.length ? { tool_calls: toolCalls } : {}) } }
    : { response: text };
  return { ...head, ...body, ...closing(startedAt, answer.usage, choice.finish_reason) };
}

/**
 * An OpenAI stream translated into Ollama's NDJSON lines as each chunk comes; a stream that breaks
 * or ends before it finished ends with Ollama's `{"error": ...}` line (the ollama client raises it).
 */
export class OllamaLines extends ChatTranslation {
  #usage: Json | undefined;
  #finish: string | undefined;

  constructor(private readonly kind: "chat" | "generate", private readonly model: string, private readonly startedAt: number, private readonly report: StreamReport) {
    super();
  }

  protected chunk(chunk: Record<string, any>): Verdict {
    if (chunk.usage) this.#usage = chunk.usage as Json;
    const choice = (chunk.choices as Json[] | undefined)?.[0];
    if (!choice) return DROP;
    if (choice.finish_reason) {
      this.#finish = choice.finish_reason;
      this.finished = true; // whole, even if the server then leaves out [DONE]
    }
    // Ollama sends each tool call whole; servers stream the first piece with the name and id.
    if (choice.delta?.tool_calls?.length) this.report.firstToken();
    const content = choice.delta?.content ?? choice.text;
    if (typeof content !== "string" || content === "") return DROP;
    this.report.firstToken();
    return ndjsonLine({
      model: this.model, created_at: new Date().toISOString(),
      ...(this.kind === "chat" ? { message: { role: "assistant", content } } : { response: content }),
      done: false,
    });
  }

  protected failed(message: string): Uint8Array {
    return ndjsonLine({ error: message });
  }

  protected close(): Uint8Array | null {
    this.report.setUsage(this.#usage?.prompt_tokens, this.#usage?.completion_tokens);
    const empty = this.kind === "chat" ? { message: { role: "assistant", content: "" } } : { response: "" };
    return ndjsonLine({ model: this.model, created_at: new Date().toISOString(), ...empty, ...closing(this.startedAt, this.#usage, this.#finish) });
  }
}
