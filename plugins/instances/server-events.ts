/**
 * A model server's own event stream relayed in its own family (OpenAI chat and completions, the
 * Responses API, Anthropic messages from a server that serves them, or raw for llama-swap's
 * /upstream): watched for the first token, usage and its proper end, the model named as the client
 * asked, gantry's own usage request taken out again, and the family's error event sent when it breaks.
 */
import type { EventSourceMessage } from "eventsource-parser";
import { renamedModel } from "./model-names.ts";
import { DROP, encodeEvent, KEEP, type StreamHandler, type Verdict } from "./relay.ts";

/** Which client family a server's stream is in; raw streams pass as they are (their family is unknown). */
export type ServerFamily = "openai" | "responses" | "anthropic" | "raw";

/** What a relayed stream reports for metrics (an Observation). */
export interface StreamReport {
  firstToken(): void;
  setUsage(prompt: unknown, completion: unknown): void;
}

const encoder = new TextEncoder();
const DONE = encoder.encode("data: [DONE]\n\n");
const FINISHED = /"finish_reason"\s*:\s*"/;
/** A `usage` field that holds an object (`"usage":null` on every chunk is OpenAI's shape once usage is asked for). */
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const ERROR_EVENT = /^\s*\{\s*"error"\s*:/;
const CONTENT = /"(?:content|text|reasoning_content|arguments)"\s*:\s*"[^"]/;
const RESPONSES_END = /"type"\s*:\s*"(?:response\.completed|response\.failed|response\.incomplete|error)"/;

/** The event a family's SDK raises as an error in the middle of a stream (openai's APIError, @anthropic-ai/sdk's APIError). */
export function streamErrorEvent(family: Exclude<ServerFamily, "raw">, message: string): Uint8Array {
  const openAi = { message, type: "server_error", param: null, code: "upstream_stream_failed" };
  if (family === "anthropic") return encoder.encode(`event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message } })}\n\n`);
  if (family === "responses") return encoder.encode(`event: error\ndata: ${JSON.stringify({ type: "error", code: openAi.code, message, param: null, error: openAi })}\n\n`);
  // As vLLM ends a failed stream: the error as a data event, then [DONE] for clients that wait for it.
  return encoder.encode(`data: ${JSON.stringify({ error: openAi })}\n\ndata: [DONE]\n\n`);
}

/** The message of a model server's error answer (OpenAI's `{error: {message}}`, or `{error: "..."}`), for re-shaping it. */
export function upstreamMessage(answer: unknown, status: number): string {
  const error = (answer as { error?: { message?: unknown } | string } | null)?.error;
  if (typeof error === "string") return error;
  return typeof error?.message === "string" ? error.message : `the model server answered ${status}`;
}

/** One event of an OpenAI stream for a translation: "done" for [DONE], its JSON object, or null when it is none (nothing to translate). */
export function openAiChunk(e: EventSourceMessage): "done" | Record<string, any> | null {
  if (e.data === "[DONE]") return "done";
  try {
    const value = JSON.parse(e.data);
    return value && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}

/** Why a stream that did not finish ended, in words for the client (not the connection's error text: it can name internal addresses). */
export const unfinished = (failure: string | null) => (failure ? "The model server's stream broke off before it finished" : "The model server ended the stream before it finished");

/** The handler for a server's own stream (see the file's comment). `model`: the id the client sent, or null to leave names alone. */
export class ServerEvents implements StreamHandler {
  readonly passThrough = true;
  readonly #quoted: string | null;
  #finished = false;
  #done = false;
  #token = false;

  constructor(private readonly report: StreamReport, private readonly family: ServerFamily, model: string | null, private readonly stripUsage: boolean) {
    this.#quoted = model === null || family === "raw" ? null : JSON.stringify(model);
  }

  event(e: EventSourceMessage): Verdict {
    const data = e.data;
    if (data === "[DONE]") {
      this.#done = this.#finished = true;
      return KEEP;
    }
    if (!this.#finished) this.#finished = this.#ends(e);
    if (!this.#token && this.#content(e)) {
      this.#token = true;
      this.report.firstToken();
    }
    // `"usage":null` (OpenAI's shape once usage is asked for) is on every chunk: only an object is read.
    let text: string | null = data.includes('"usage"') && USAGE_OBJECT.test(data) ? this.#usage(data) : data;
    if (text === null) return DROP;
    if (this.#quoted !== null) text = renamedModel(text, this.#quoted) ?? text;
    return text === data ? KEEP : encodeEvent({ ...e, data: text });
  }

  end(failure: string | null): Uint8Array | null {
    if (this.family === "raw") return null;
    if (!this.#finished) return streamErrorEvent(this.family, unfinished(failure));
    return this.family === "openai" && !this.#done ? DONE : null;
  }

  /** Whether the event ends the answer: a finish reason or an error (OpenAI), a final Responses event, message_stop (Anthropic). */
  #ends(e: EventSourceMessage): boolean {
    if (this.family === "raw") return true;
    if (this.family === "anthropic") return e.event === "message_stop" || e.event === "error";
    if (this.family === "responses") return RESPONSES_END.test(e.data);
    return FINISHED.test(e.data) || ERROR_EVENT.test(e.data);
  }

  #content(e: EventSourceMessage): boolean {
    if (this.family === "anthropic") return e.event === "content_block_delta";
    if (this.family === "responses") return e.data.includes("output_text.delta");
    return CONTENT.test(e.data);
  }

  /** Reads the counts; null when the event is the usage-only chunk gantry asked for and the client had not. */
  #usage(data: string): string | null {
    type Counts = { prompt_tokens?: number; completion_tokens?: number; input_tokens?: number; output_tokens?: number };
    let chunk: { usage?: Counts | null; response?: { usage?: Counts }; message?: { usage?: Counts }; choices?: unknown[] };
    try {
      chunk = JSON.parse(data);
    } catch {
      return data;
    }
    // The Responses API reports usage in response.completed, Anthropic's message_start in message.
    const usage = chunk.usage ?? chunk.response?.usage ?? chunk.message?.usage;
    this.report.setUsage(usage?.prompt_tokens ?? usage?.input_tokens, usage?.completion_tokens ?? usage?.output_tokens);
    // Only the usage-only chunk is gantry's to take out: usage a server puts in a content chunk (TGI, llama.cpp's completions) it sends unasked too.
    return this.stripUsage && chunk.usage && Array.isArray(chunk.choices) && chunk.choices.length === 0 ? null : data;
  }
}

type Json = Record<string, any>;

/** OpenAI stream chunks for one JSON chat completion or completion (a server that answered a stream request with JSON). */
function openAiChunksOf(answer: Json, includeUsage: boolean): string[] | null {
  const choices = answer.choices as Json[] | undefined;
  if (!Array.isArray(choices) || choices.length === 0) return null;
  const chat = choices[0]!.message !== undefined;
  const head = { id: answer.id ?? "", object: chat ? "chat.completion.chunk" : "text_completion", created: answer.created ?? Math.floor(Date.now() / 1000), model: answer.model, ...(answer.system_fingerprint ? { system_fingerprint: answer.system_fingerprint } : {}) };
  const content = (c: Json) => chat
    ? { index: c.index ?? 0, delta: { role: "assistant", content: c.message?.content ?? null, ...(c.message?.tool_calls ? { tool_calls: (c.message.tool_calls as Json[]).map((t, index) => ({ index, ...t })) } : {}) }, finish_reason: null }
    : { index: c.index ?? 0, text: c.text ?? "", finish_reason: null };
  const finish = (c: Json) => (chat ? { index: c.index ?? 0, delta: {}, finish_reason: c.finish_reason ?? "stop" } : { index: c.index ?? 0, text: "", finish_reason: c.finish_reason ?? "stop" });
  const chunks = [{ ...head, choices: choices.map(content) }, { ...head, choices: choices.map(finish) }];
  if (includeUsage && answer.usage) chunks.push({ ...head, choices: [], usage: answer.usage } as never);
  return [...chunks.map((c) => JSON.stringify(c)), "[DONE]"];
}

/**
 * A model server's JSON answer to a stream request, as the stream the client asked for: OpenAI
 * chunks for a chat completion or completion, or the family's error event saying what came.
 */
export function answerAsStream(text: string, family: Exclude<ServerFamily, "raw" | "anthropic">, includeUsage: boolean): Uint8Array {
  let answer: Json | null = null;
  try {
    answer = JSON.parse(text);
  } catch {
    // not JSON after all: refused below
  }
  const chunks = family === "openai" && answer ? openAiChunksOf(answer, includeUsage) : null;
  if (!chunks) return streamErrorEvent(family, "The model server answered a stream request with a JSON body that is not a completion");
  return encoder.encode(chunks.map((c) => `data: ${c}\n\n`).join(""));
}

/**
 * A server's OpenAI chat stream translated into another family. The steps every translation shares:
 * `[DONE]` or a finish_reason makes the answer whole, a server's error event becomes the family's
 * (and nothing after it is sent), and a stream that ends before it is whole, or breaks, ends with the
 * family's error. The family writes its chunks, its error and its close.
 */
export abstract class ChatTranslation implements StreamHandler {
  readonly passThrough = false;
  /** The answer is whole: `[DONE]` came, or a finish_reason (even if the server then leaves out [DONE]). */
  protected finished = false;
  #failed = false;

  event(e: EventSourceMessage): Verdict {
    if (this.#failed) return DROP;
    const chunk = openAiChunk(e);
    if (chunk === "done") this.finished = true;
    if (chunk === "done" || chunk === null) return DROP;
    if (chunk.error) {
      this.#failed = true;
      return this.failed(upstreamMessage(chunk, 500));
    }
    return this.chunk(chunk);
  }

  end(failure: string | null): Uint8Array | null {
    if (this.#failed) return null;
    return !this.finished || failure ? this.unfinished(unfinished(failure)) : this.close();
  }

  /** The end of a stream that was not whole: the family's error event. */
  protected unfinished(message: string): Uint8Array {
    return this.failed(message);
  }

  /** One chunk of the server's stream in the family's events. */
  protected abstract chunk(chunk: Record<string, any>): Verdict;
  /** The family's error event (the server's error, or a stream that did not end whole). */
  protected abstract failed(message: string): Uint8Array;
  /** The family's close of a whole answer. */
  protected abstract close(): Uint8Array | null;
}
