/**
 * The way from a client's request to a model server: the model id resolved to an instance (name or
 * alias, started on demand), the body sent, and the answer relayed back measured. Bodies are
 * forwarded as the client sent them unless a translation needs otherwise.
 */
import { GantryError, type CoreIdentityService, type InferenceService, type KeyScope } from "gantry/plugin";
import type { InstanceManager } from "./instance-manager.ts";
import type { ServedModels } from "./served-models.ts";
import type { InstanceSupervisor } from "./supervisor.ts";
import { InferenceErrors } from "./inference-errors.ts";
import { type InferenceApi, type InferenceMetrics, type Observation, type ObservationOwner } from "./inference-metrics.ts";
import type { KeyLimits } from "./key-limits.ts";
import { keepAliveMs } from "./keep-alive.ts";
import { PlacementErrors } from "./placement.ts";
import { QueueFull } from "./request-gate.ts";
import { relayBytes, relayEvents, type Outcome } from "./relay.ts";
import { answerAsStream, ServerEvents, streamErrorEvent, upstreamMessage, type ServerFamily } from "./server-events.ts";
import { messageAsEvents } from "./anthropic-translate.ts";
import { renamedModel } from "./model-names.ts";

export { upstreamMessage };

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

/** Placement refusals a client can retry later (409); any other failed start means the server is unavailable (503). */
const CONFLICTS = new Set([PlacementErrors.NO_ROOM.code, PlacementErrors.UNKNOWN_DEVICE.code]);

/** A request that passed admission's checks: its instance, the key to charge tokens to, its keep_alive. */
export interface Vetted {
  model: string;
  supervisor: InstanceSupervisor;
  keyId: string | null;
  keepMs: number | null;
}

/** Who may call (API-key scopes from core) and the per-key windows (kept with the fleet). */
export interface KeyAccess {
  identity: CoreIdentityService;
  limits: KeyLimits;
}

/** Instances by client model id, and requests to them. */
export class Upstream implements ObservationOwner {
  constructor(readonly manager: InstanceManager, readonly metrics: InferenceMetrics, readonly served: ServedModels, private readonly access: KeyAccess) {}

  /** The instance a model id reaches (through a served name's route, if any), running (started on demand) or a thrown inference error; takes no queue slot. */
  async instance(model: string, request?: Request): Promise<InstanceSupervisor> {
    const supervisor = this.#resolve(model);
    if (request) await this.assertScope(model, supervisor, request);
    if (supervisor.gate.draining) await supervisor.gate.whenStopped(this.#drainWaitMs());
    if (supervisor.status !== "running") {
      supervisor.gate.pending++;
      try {
        await this.#start(supervisor, model);
      } finally {
        supervisor.gate.unpend();
      }
    }
    supervisor.lastUsedAt = Date.now();
    return supervisor;
  }

  /** The key's allow list, for `model` reaching `supervisor` (nothing started, no slot taken: an unload checks it too). */
  async assertScope(model: string, supervisor: InstanceSupervisor, request: Request): Promise<void> {
    const scope = this.access.identity.scoped() ? (await this.access.identity.identify(request))?.scope : undefined;
    if (scope?.models) this.#assertAllowed(scope, supervisor, model);
  }

  /**
   * Admits one request for `model` and begins measuring it: the key's scope and limits checked, the
   * instance started on demand (placed, evicting idle ones; requests for it meanwhile wait with
   * this one), a slot taken in its queue (503 QUEUE_FULL when `max_queue` are waiting). The
   * observation's end frees the slot. `keepAlive`: the request's keep_alive, as Ollama reads it.
   */
  admit(model: string, request: Request | undefined, api: InferenceApi, requestId: string | undefined, stream: boolean, keepAlive?: unknown): Promise<{ supervisor: InstanceSupervisor; o: Observation }> {
    const vetted = this.vet(model, request, keepAlive);
    return vetted instanceof Promise ? vetted.then((v) => this.enter(v, api, requestId, stream)) : this.enter(vetted, api, requestId, stream);
  }

  /**
   * admit's first half, whose refusals come before any answer begins: the model, the key's scope and
   * limits, keep_alive. Synchronous (no promise) while no key has a scope: the common hot path.
   */
  vet(model: string, request: Request | undefined, keepAlive?: unknown): Vetted | Promise<Vetted> {
    const supervisor = this.#resolve(model);
    if (request && this.access.identity.scoped()) return this.access.identity.identify(request).then((identity) => this.#vetted(model, supervisor, identity?.scope, keepAlive));
    return this.#vetted(model, supervisor, undefined, keepAlive);
  }

  #vetted(model: string, supervisor: InstanceSupervisor, scope: KeyScope | undefined, keepAlive: unknown): Vetted {
    if (scope) {
      if (scope.models) this.#assertAllowed(scope, supervisor, model);
      const refusal = this.access.limits.admit(scope);
      if (refusal) throw InferenceErrors.KEY_LIMIT([refusal.what, refusal.limit, refusal.retryAfterS], { details: { retry_after_s: refusal.retryAfterS } });
    }
    const keepMs = keepAlive === undefined ? null : keepAliveMs(keepAlive);
    return { model, supervisor, keyId: scope && scope.tokensPerMinute > 0 ? scope.keyId : null, keepMs };
  }

  /** Whether the vetted request will wait for its model to start (a stream then shows loading progress). */
  cold({ supervisor }: Vetted): boolean {
    return supervisor.status !== "running" || supervisor.gate.draining;
  }

  /** admit's second half: started on demand, a slot taken, the measurement begun. */
  async enter({ model, supervisor, keyId, keepMs }: Vetted, api: InferenceApi, requestId: string | undefined, stream: boolean): Promise<{ supervisor: InstanceSupervisor; o: Observation }> {
    const gate = supervisor.gate;
    // An instance being drained for an eviction: wait for it to stop, then place it again.
    if (gate.draining) await gate.whenStopped(this.#drainWaitMs());
    let slot: Promise<void> | undefined;
    if (supervisor.status !== "running") {
      gate.pending++;
      try {
        await this.#start(supervisor, model);
        slot = this.#acquire(supervisor, model); // before unpend: the instance never looks idle in between
      } finally {
        gate.unpend();
      }
    } else slot = this.#acquire(supervisor, model);
    if (slot) await slot;
    supervisor.lastUsedAt = Date.now();
    this.manager.keepAlive(supervisor, keepMs);
    const o = this.metrics.begin(supervisor.definition.name, api, requestId, stream);
    o.owner = this;
    o.slot = supervisor;
    o.keyId = keyId;
    return { supervisor, o };
  }

  /** An admitted request ended: its slot is freed; keep_alive 0 stops the instance once nothing else is in it. */
  ended(o: Observation, seconds: number): void {
    const supervisor = o.slot!;
    supervisor.lastUsedAt = Date.now();
    supervisor.gate.release(seconds);
    if (o.keyId !== null && o.usage) this.access.limits.charge(o.keyId, o.usage.prompt + o.usage.completion);
    if (supervisor.keepAliveMs !== 0 || supervisor.gate.busy || supervisor.status !== "running") return;
    // Drained while it stops, so a request arriving now waits and starts it again rather than meeting a stopping server.
    supervisor.gate.draining = true;
    void supervisor.stop().catch(() => {}).finally(() => supervisor.gate.endDrain()); // a failed stop must not become an unhandled rejection
  }

  /** The instance `model` reaches: through a served name's route (deployments) when one is registered, else by name or alias. */
  #resolve(model: string): InstanceSupervisor {
    const supervisor = this.manager.resolve(this.served.target(model));
    if (!supervisor) throw InferenceErrors.MODEL_NOT_FOUND([model]);
    return supervisor;
  }

  /** An allow list names ids: the id sent (a served name too), or any id of the instance it reaches (an alias allows its instance). */
  #assertAllowed(scope: KeyScope, supervisor: InstanceSupervisor, model: string): void {
    const allowed = scope.models!;
    const d = supervisor.definition;
    if (allowed.has(model) || allowed.has(d.name) || d.aliases.some((alias) => allowed.has(alias))) return;
    throw InferenceErrors.MODEL_NOT_ALLOWED([model]);
  }

  #acquire(supervisor: InstanceSupervisor, model: string): Promise<void> | undefined {
    try {
      return supervisor.gate.acquire(supervisor.definition.parallel, supervisor.definition.maxQueue);
    } catch (error) {
      if (!(error instanceof QueueFull)) throw error;
      throw InferenceErrors.QUEUE_FULL([model, error.queued, error.retryAfterS], { details: { retry_after_s: error.retryAfterS } });
    }
  }

  async #start(supervisor: InstanceSupervisor, model: string): Promise<void> {
    if (!supervisor.definition.onDemandStart) throw InferenceErrors.MODEL_NOT_RUNNING([model, supervisor.status]);
    try {
      await this.manager.start(supervisor.definition.name);
    } catch (error) {
      const status = error instanceof GantryError && CONFLICTS.has(error.code) ? 409 : 503;
      throw InferenceErrors.MODEL_START_FAILED([model, (error as Error).message], { status });
    }
  }

  /** How long a request waits for an instance being evicted to stop: the eviction's wait plus the stop. */
  #drainWaitMs(): number {
    return this.manager.placement().evictionWaitMs + 60_000;
  }

  /**
   * A request to the instance's server; the client's abort signal cancels it. A failure ends `o` as a 502.
   * A pooled connection the server closed while idle (llama-server drops kept-alive connections after a
   * few seconds) fails before any answer: such a request is sent once more on a fresh connection.
   */
  async send(supervisor: InstanceSupervisor, path: string, options: SendOptions = {}, o?: Observation): Promise<Response> {
    const url = `http://127.0.0.1:${supervisor.definition.port}${path}`;
    const init = { method: options.method ?? "POST", headers: options.headers ?? { "content-type": "application/json" }, body: options.body, signal: options.signal };
    try {
      try {
        return await fetch(url, init);
      } catch (error) {
        if (!staleConnection(error) || options.signal?.aborted || options.body instanceof ReadableStream) throw error;
        return await fetch(url, { ...init, keepalive: false });
      }
    } catch (error) {
      o?.end(502);
      throw InferenceErrors.UPSTREAM_UNREACHABLE([supervisor.definition.name, (error as Error).message]);
    }
  }
}

/** A connection that broke before an answer began (reset or closed by the server), as opposed to a refused one. */
function staleConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "ConnectionClosed" || code === "EPIPE" || code === "UND_ERR_SOCKET";
}

/** The server's headers minus those that describe the connection or the original encoding. */
export function relayHeaders(upstream: Response): Headers {
  // Copied whole (natively) and trimmed: cheaper than a JavaScript callback per header.
  const headers = new Headers(upstream.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  return headers;
}

/** How an answer is relayed: the client's family, the model id it sent, whether it asked for a stream. */
export interface RelayOptions {
  /** The family of a stream (its events, its end, its error event); raw relays a server's own endpoints untouched. */
  family?: ServerFamily;
  /** The id the client sent: answers name it (null or absent: as the server named it). */
  model?: string | null;
  /** The client asked for a stream: a JSON answer becomes one (or the family's error event). */
  stream?: boolean;
  /** gantry asked for usage the client did not: it is taken out of the stream again. */
  stripUsage?: boolean;
}

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

/**
 * A model server's answer relayed to the client, measured: JSON bodies are read for `usage` and
 * name the client's model; event streams go through the one stream relay (relay.ts) in the
 * client's family; anything else (audio, images) passes through as bytes.
 */
export async function relay(upstream: Response, o: Observation, options: RelayOptions = {}): Promise<Response> {
  const headers = relayHeaders(upstream);
  const type = upstream.headers.get("content-type") ?? "";
  const family = options.family ?? "openai";
  const model = family === "raw" ? null : (options.model ?? null);
  const ended = (outcome: Outcome) => {
    o.outcome = outcome;
    o.end(upstream.status);
  };
  // JSON first, without touching `upstream.body`: reading that property makes Bun build a stream, and text() then reads through it.
  if (type.includes("json")) return jsonAnswer(upstream, await upstream.text(), o, headers, { ...options, family, model });
  if (upstream.body && type.startsWith("text/event-stream")) {
    const handler = new ServerEvents(o, family, model, options.stripUsage === true);
    return new Response(relayEvents(upstream.body, handler, ended), { status: upstream.status, headers });
  }
  if (!upstream.body) {
    o.end(upstream.status);
    return new Response(null, { status: upstream.status, headers });
  }
  return new Response(relayBytes(upstream.body, ended), { status: upstream.status, headers });
}

/** A JSON answer: usage read, the model renamed, and, for a client that asked for a stream, sent as one. */
function jsonAnswer(upstream: Response, body: string, o: Observation, headers: Headers, options: RelayOptions & { family: ServerFamily; model: string | null }): Response {
  const { family, model } = options;
  let text = body;
  const at = text.lastIndexOf('"usage"');
  // Read from the usage object only, not parsed whole: the answer can be large (embeddings) and parsing it would cost every request.
  if (at !== -1) {
    const usage = text.slice(at, at + 400); // the next few hundred characters hold the usage object
    o.setUsage(count(usage, PROMPT), count(usage, COMPLETION));
  }
  if (model !== null && upstream.ok) text = renamedModel(text, JSON.stringify(model)) ?? text;
  o.end(upstream.status);
  if (!options.stream || !upstream.ok || family === "raw") return new Response(text, { status: upstream.status, headers });
  // A server that answered a stream request with JSON (some do when they cannot stream): the stream the client's SDK waits for.
  let events: Uint8Array;
  if (family === "anthropic") {
    const message = (() => { try { return JSON.parse(text); } catch { return null; } })();
    events = message?.type === "message" ? messageAsEvents(message) : streamErrorEvent("anthropic", "The model server answered a stream request with a JSON body that is not a message");
  } else events = answerAsStream(text, family, options.stripUsage !== true);
  return new Response(events, { status: upstream.status, headers: SSE_HEADERS });
}

const PROMPT = /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/;
const COMPLETION = /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/;

/** A count from the usage object's text. */
function count(usage: string, field: RegExp): number | undefined {
  const match = field.exec(usage);
  return match ? Number(match[1]) : undefined;
}

/** Chat completions and embeddings for other plugins (agents, knowledge, evaluations): the proxy's path without HTTP in front. */
export function inferenceService(upstream: Upstream): InferenceService {
  const call = async (path: string, body: Record<string, unknown>, signal?: AbortSignal) => {
    const { supervisor, o } = await upstream.admit(String(body.model ?? ""), undefined, "openai", undefined, false);
    const res = await relay(await upstream.send(supervisor, path, { body: JSON.stringify(body), signal }, o), o, { model: typeof body.model === "string" ? body.model : null });
    const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw new Error(upstreamMessage(answer, res.status));
    return answer;
  };
  return {
    chatCompletion: (body, signal) => call("/v1/chat/completions", body, signal),
    embeddings: (body, signal) => call("/v1/embeddings", body, signal),
  };
}
