/**
 * Anthropic's Messages API translated to and from OpenAI chat completions, for model servers that
 * do not serve /v1/messages themselves: request, answer, and the stream's events
 * (message_start, content_block_*, message_delta, message_stop).
 */
import { concat, DROP, type Verdict } from "./relay.ts";
import { ChatTranslation, type StreamReport } from "./server-events.ts";
import { sseEvent } from "./sse.ts";

type Json = Record<string, any>;

interface Block {
  type: string;
  text?: string;
  source?: { type: string; media_type?: string; data?: string; url?: string };
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | Block[];
  is_error?: boolean;
}

const textOf = (content: string | Block[] | undefined): string =>
  typeof content === "string" ? content : (content ?? []).filter((b) => b.type === "text").map((b) => b.text ?? "").join("");

/** A user message's blocks as OpenAI messages: tool results first (role tool), then text and images. */
function userMessages(content: Block[]): Json[] {
  const out: Json[] = [];
  for (const b of content) {
    if (b.type === "tool_result") out.push({ role: "tool", tool_call_id: b.tool_use_id, content: (b.is_error ? "Error: " : "") + textOf(b.content) });
  }
  const parts: Json[] = [];
  for (const b of content) {
    if (b.type === "text") parts.push({ type: "text", text: b.text ?? "" });
    else if (b.type === "image" && b.source) {
      const url = b.source.type === "base64" ? `data:${b.source.media_type};base64,${b.source.data}` : b.source.url;
      parts.push({ type: "image_url", image_url: { url } });
    }
  }
  if (parts.length > 0) out.push({ role: "user", content: parts.every((p) => p.type === "text") ? parts.map((p) => p.text).join("") : parts });
  return out;
}

function assistantMessage(content: Block[]): Json {
  const toolCalls = content.filter((b) => b.type === "tool_use").map((b) => ({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } }));
  const text = textOf(content);
  return { role: "assistant", content: text === "" && toolCalls.length > 0 ? null : text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) };
}

function toolChoice(choice: Json | undefined): unknown {
  if (!choice) return undefined;
  if (choice.type === "any") return "required";
  if (choice.type === "tool") return { type: "function", function: { name: choice.name } };
  return choice.type; // auto, none
}

/** An Anthropic Messages request as an OpenAI chat completions request. */
export function chatRequestOf(body: Json): Json {
  const messages: Json[] = [];
  if (body.system) messages.push({ role: "system", content: textOf(body.system) });
  for (const m of (body.messages ?? []) as { role: string; content: string | Block[] }[]) {
    if (typeof m.content === "string") messages.push({ role: m.role, content: m.content });
    else if (m.role === "assistant") messages.push(assistantMessage(m.content));
    else messages.push(...userMessages(m.content));
  }
  const chat: Json = { model: body.model, messages, max_tokens: body.max_tokens };
  for (const [from, to] of [["temperature", "temperature"], ["top_p", "top_p"], ["top_k", "top_k"], ["stop_sequences", "stop"]] as const) {
    if (body[from] !== undefined) chat[to] = body[from];
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    chat.tools = body.tools.map((t: Json) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema ?? { type: "object" } } }));
    const choice = toolChoice(body.tool_choice);
    if (choice !== undefined) chat.tool_choice = choice;
  }
  if (body.stream === true) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

const STOP_REASON: Record<string, string> = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use", function_call: "tool_use", content_filter: "refusal" };

const parseArguments = (text: string): unknown => {
  try {
    return JSON.parse(text || "{}");
  } catch {
    return {};
  }
};

/** An OpenAI chat completion as an Anthropic message; `model` is the id the client asked for. */
export function messageOf(chat: Json, model: string): Json {
  const choice = chat.choices?.[0] ?? {};
  const message = choice.message ?? {};
  const content: Json[] = [];
  if (typeof message.content === "string" && message.content !== "") content.push({ type: "text", text: message.content });
  for (const call of message.tool_calls ?? []) content.push({ type: "tool_use", id: call.id, name: call.function?.name, input: parseArguments(call.function?.arguments) });
  return {
    id: `msg_${String(chat.id ?? Date.now()).replace(/^chatcmpl-/, "")}`, type: "message", role: "assistant", model, content,
    stop_reason: STOP_REASON[choice.finish_reason] ?? "end_turn", stop_sequence: null,
    usage: { input_tokens: chat.usage?.prompt_tokens ?? 0, output_tokens: chat.usage?.completion_tokens ?? 0 },
  };
}

type Sent = (type: string, data: Json) => Uint8Array;
const sent: Sent = (type, data) => sseEvent({ type, ...data }, type);
/** An Anthropic message as the events of its stream (a server that answered a stream request with JSON). */
export function messageAsEvents(message: Json): Uint8Array {
  const parts = [sent("message_start", { message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: message.usage?.input_tokens ?? 0, output_tokens: 0 } } })];
  (message.content as Json[] ?? []).forEach((block, index) => {
    const tool = block.type === "tool_use";
    parts.push(sent("content_block_start", { index, content_block: tool ? { ...block, input: {} } : { type: "text", text: "" } }));
    parts.push(sent("content_block_delta", { index, delta: tool ? { type: "input_json_delta", partial_json: JSON.stringify(block.input ?? {}) } : { type: "text_delta", text: block.text ?? "" } }));
    parts.push(sent("content_block_stop", { index }));
  });
  parts.push(sent("message_delta", { delta: { stop_reason: message.stop_reason ?? "end_turn", stop_sequence: message.stop_sequence ?? null }, usage: { output_tokens: message.usage?.output_tokens ?? 0 } }));
  parts.push(sent("message_stop", {}));
  return concat(parts);
}

/**
 * An OpenAI chat stream translated into Anthropic's events as each chunk comes; a stream that
 * breaks or ends before it finished ends with Anthropic's error event (the SDK raises it), never
 * with an empty end_turn message.
 */
export class MessageTranslation extends ChatTranslation {
  readonly #usage = { input_tokens: 0, output_tokens: 0 };
  readonly #tools = new Map<number, number>(); // OpenAI tool index → content block index
  #index = -1;
  #open: "text" | "tool" | null = null;
  #stop = "end_turn";
  #started = false;

  constructor(private readonly model: string, private readonly report: StreamReport) {
    super();
  }

  protected chunk(chunk: Record<string, any>): Verdict {
    const out: Uint8Array[] = [];
    if (!this.#started) out.push(this.#start(chunk.id));
    const u = chunk.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined;
    if (u) Object.assign(this.#usage, { input_tokens: u.prompt_tokens ?? 0, output_tokens: u.completion_tokens ?? 0 });
    const choice = (chunk.choices as Json[] | undefined)?.[0];
    if (choice) this.#choice(choice, out);
    return out.length === 0 ? DROP : out.length === 1 ? out[0]! : concat(out);
  }

  protected failed(message: string): Uint8Array {
    return sent("error", { error: { type: "api_error", message } });
  }

  /** A stream that ends before the message began gets its start first. */
  protected override unfinished(message: string): Uint8Array {
    return this.#started ? this.failed(message) : concat([this.#start(undefined), this.failed(message)]);
  }

  protected close(): Uint8Array | null {
    const out: Uint8Array[] = [];
    if (!this.#started) out.push(this.#start(undefined));
    if (this.#open) out.push(sent("content_block_stop", { index: this.#index }));
    this.report.setUsage(this.#usage.input_tokens, this.#usage.output_tokens);
    out.push(sent("message_delta", { delta: { stop_reason: this.#stop, stop_sequence: null }, usage: this.#usage }));
    out.push(sent("message_stop", {}));
    return concat(out);
  }

  #start(id: unknown): Uint8Array {
    this.#started = true;
    return sent("message_start", { message: { id: `msg_${String(id ?? Date.now()).replace(/^chatcmpl-/, "")}`, type: "message", role: "assistant", model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: this.#usage } });
  }

  #choice(choice: Json, out: Uint8Array[]): void {
    const delta = choice.delta ?? {};
    if (typeof delta.content === "string" && delta.content !== "") {
      this.report.firstToken();
      if (this.#open !== "text") {
        if (this.#open) out.push(sent("content_block_stop", { index: this.#index }));
        this.#open = "text";
        out.push(sent("content_block_start", { index: ++this.#index, content_block: { type: "text", text: "" } }));
      }
      out.push(sent("content_block_delta", { index: this.#index, delta: { type: "text_delta", text: delta.content } }));
    }
    for (const call of (delta.tool_calls ?? []) as Json[]) {
      this.report.firstToken();
      const at = call.index ?? 0;
      if (!this.#tools.has(at)) {
        if (this.#open) out.push(sent("content_block_stop", { index: this.#index }));
        this.#open = "tool";
        this.#tools.set(at, ++this.#index);
        out.push(sent("content_block_start", { index: this.#index, content_block: { type: "tool_use", id: call.id, name: call.function?.name, input: {} } }));
      }
      if (call.function?.arguments) out.push(sent("content_block_delta", { index: this.#tools.get(at)!, delta: { type: "input_json_delta", partial_json: call.function.arguments } }));
    }
    if (choice.finish_reason) {
      this.#stop = STOP_REASON[choice.finish_reason] ?? "end_turn";
      this.finished = true; // whole, even if the server then leaves out [DONE]
    }
  }
}

/** The text count_tokens measures when the server cannot count itself: system, messages and tool definitions. */
export function countedText(body: Json): string {
  const parts: string[] = [];
  if (body.system) parts.push(textOf(body.system));
  for (const m of (body.messages ?? []) as { content: string | Block[] }[]) {
    parts.push(typeof m.content === "string" ? m.content : m.content.map((b) => b.text ?? (b.type === "tool_use" ? JSON.stringify(b.input) : textOf(b.content))).join("\n"));
  }
  if (Array.isArray(body.tools)) parts.push(JSON.stringify(body.tools));
  return parts.join("\n");
}
