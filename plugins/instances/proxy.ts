/**
 * The way from a client's request to a model server: the model id resolved to an instance (name or
 * alias, started on demand), the body sent, and the answer relayed back measured. Bodies are
 * forwarded as the client sent them unless a translation needs otherwise.
 */
import { GantryError, type InferenceService } from "gantry/plugin";
import { InstanceErrors, type InstanceManager } from "./instance-manager.ts";
import type { ServedModels } from "./served-models.ts";
import type { InstanceSupervisor } from "./supervisor.ts";
import { InferenceErrors } from "./inference-errors.ts";
import { measuredStream, type InferenceMetrics, type Observation } from "./inference-metrics.ts";
import { streamWatcher } from "./sse.ts";

/** A JSON request body and the `model` it names. */
export interface ModelRequest {
  body: Record<string, unknown>;
  model: string;
}

/** Parses a JSON body and finds its `model` (Ollama's older clients send `name`). */
export function modelRequest(text: string, field: "model" | "model|name" = "model"): ModelRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw InferenceErrors.BODY_NOT_OBJECT([]);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw InferenceErrors.BODY_NOT_OBJECT([]);
  const record = body as Record<string, unknown>;
  const model = record.model ?? (field === "model|name" ? record.name : undefined);
  if (typeof model !== "string" || model === "") throw InferenceErrors.MODEL_REQUIRED([]);
  return { body: record, model };
}

const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"];

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | ArrayBuffer | ReadableStream<Uint8Array> | null;
  signal?: AbortSignal;
}

/** Instances by client model id, and requests to them. */
export class Upstream {
  constructor(readonly manager: InstanceManager, readonly metrics: InferenceMetrics, readonly served: ServedModels) {}

  /** The instance a model id reaches (through a served name's route, if any), running (started on demand) or a thrown inference error. */
  async instance(model: string): Promise<InstanceSupervisor> {
    const supervisor = this.manager.resolve(this.served.target(model));
    if (!supervisor) throw InferenceErrors.MODEL_NOT_FOUND([model]);
    const name = supervisor.definition.name;
    if (supervisor.status !== "running") {
      if (!supervisor.definition.onDemandStart) throw InferenceErrors.MODEL_NOT_RUNNING([model, supervisor.status]);
      try {
        await this.manager.start(name);
      } catch (error) {
        // No room at max_running is a conflict the client can retry later; anything else, the server is unavailable.
        const status = error instanceof GantryError && error.code === InstanceErrors.MAX_RUNNING.code ? 409 : 503;
        throw InferenceErrors.MODEL_START_FAILED([model, (error as Error).message], { status });
      }
    }
    supervisor.lastUsedAt = Date.now();
    return supervisor;
  }

  /** A request to the instance's server; the client's abort signal cancels it. A failure ends `o` as a 502. */
  async send(supervisor: InstanceSupervisor, path: string, options: SendOptions = {}, o?: Observation): Promise<Response> {
    try {
      return await fetch(`http://127.0.0.1:${supervisor.definition.port}${path}`, {
        method: options.method ?? "POST", headers: options.headers ?? { "content-type": "application/json" }, body: options.body, signal: options.signal,
      });
    } catch (error) {
      o?.end(502);
      throw InferenceErrors.UPSTREAM_UNREACHABLE([supervisor.definition.name, (error as Error).message]);
    }
  }
}

/** The server's headers minus those that describe the connection or the original encoding. */
export function relayHeaders(upstream: Response): Headers {
  // Copied whole (natively) and trimmed: cheaper than a JavaScript callback per header.
  const headers = new Headers(upstream.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  return headers;
}

/**
 * An OpenAI-compatible answer relayed to the client as the server sent it, measured: JSON bodies
 * are read for `usage`, event streams are watched chunk by chunk (and lose the usage chunk gantry
 * asked for when `stripUsage`), anything else (audio, images) passes through.
 */
export async function relay(upstream: Response, o: Observation, stripUsage = false): Promise<Response> {
  const headers = relayHeaders(upstream);
  const type = upstream.headers.get("content-type") ?? "";
  if (upstream.body && type.startsWith("text/event-stream")) {
    return new Response(measuredStream(upstream.body, o, upstream.status, streamWatcher(o, stripUsage)), { status: upstream.status, headers });
  }
  if (type.includes("json")) {
    const text = await upstream.text();
    const at = text.lastIndexOf('"usage"');
    // Read from the usage object only, not parsed whole: the answer can be large (embeddings) and parsing it would cost every request.
    if (at !== -1) o.setUsage(count(text, at, PROMPT), count(text, at, COMPLETION));
    o.end(upstream.status);
    return new Response(text, { status: upstream.status, headers });
  }
  if (!upstream.body) {
    o.end(upstream.status);
    return new Response(null, { status: upstream.status, headers });
  }
  return new Response(measuredStream(upstream.body, o, upstream.status), { status: upstream.status, headers });
}

const PROMPT = /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/;
const COMPLETION = /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/;

/** A count from the usage object that starts at `at` (the next few hundred characters hold it). */
function count(text: string, at: number, field: RegExp): number | undefined {
  const match = field.exec(text.slice(at, at + 400));
  return match ? Number(match[1]) : undefined;
}

/** The message of a model server's error answer (OpenAI's `{error: {message}}`, or `{error: "..."}`), for re-shaping it. */
export function upstreamMessage(answer: unknown, status: number): string {
  const error = (answer as { error?: { message?: unknown } | string } | null)?.error;
  if (typeof error === "string") return error;
  return typeof error?.message === "string" ? error.message : `the model server answered ${status}`;
}

/** Chat completions and embeddings for other plugins (agents, knowledge, evaluations): the proxy's path without HTTP in front. */
export function inferenceService(upstream: Upstream): InferenceService {
  const call = async (path: string, body: Record<string, unknown>, signal?: AbortSignal) => {
    const supervisor = await upstream.instance(String(body.model ?? ""));
    const o = upstream.metrics.begin(supervisor.definition.name, "openai", undefined, false);
    const res = await relay(await upstream.send(supervisor, path, { body: JSON.stringify(body), signal }, o), o);
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw new Error(upstreamMessage(answer, res.status));
    return answer;
  };
  return {
    chatCompletion: (body, signal) => call("/v1/chat/completions", body, signal),
    embeddings: (body, signal) => call("/v1/embeddings", body, signal),
  };
}
