/**
 * The one stream relay every inference family goes through: a model server's event stream read
 * with a spec-complete SSE parser (CRLF, lone CR, comments, multi-line `data:`, events split at any
 * byte), handed to the family's handler event by event, and written to the client through a
 * TransformStream, so backpressure is the client's and every upstream read that completes an event
 * sends it on. Events nothing must change pass as the bytes that came (scanned, not re-encoded).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

const encoder = new TextEncoder();

/** A handler's answer for one event: KEEP its bytes as they came, DROP it, or send these bytes instead. */
export const KEEP = 1;
export const DROP = null;
export type Verdict = Uint8Array | typeof KEEP | typeof DROP;

/** How one family reads a model server's events and ends the client's stream. */
export interface StreamHandler {
  /** True when the output is the same SSE stream (comments and unchanged events pass as bytes); false for a translation. */
  readonly passThrough: boolean;
  /** One complete upstream event. */
  event(e: EventSourceMessage): Verdict;
  /** The upstream ended: cleanly (`failure` null) or broken; the last bytes the client gets (its close, or the family's error event). */
  end(failure: string | null): Uint8Array | null;
}

/** A transformer told when the client cancels (the Streams standard's `cancel`, in Bun and Deno; not yet in TypeScript's lib). */
type CancellableTransformer = Transformer<Uint8Array, Uint8Array> & { cancel(reason: unknown): void };

/** Why a relayed stream ended, for the request's log line: null when it ended as it should. */
export type Outcome = "upstream failed mid-stream" | "client left" | null;

/**
 * Where complete events end in a byte stream: just past a blank line (a line ending right after
 * another; endings are CRLF, LF or a lone CR). State carries across chunks.
 */
class EventBoundaries {
  #lineStart = true;
  #cr = false;

  /** The offset just past the last complete event in `chunk`, or -1 when none ends in it. */
  lastEnd(chunk: Uint8Array): number {
    let end = -1;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === 10) {
        if (this.#cr) {
          this.#cr = false; // the LF of a CRLF: the CR already ended the line
          if (end === i) end = i + 1;
          continue;
        }
        if (this.#lineStart) end = i + 1;
        this.#lineStart = true;
      } else if (byte === 13) {
        if (this.#lineStart) end = i + 1;
        this.#lineStart = true;
        this.#cr = true;
      } else {
        this.#lineStart = false;
        this.#cr = false;
      }
    }
    return end;
  }
}

/** The parts as one byte array (the part itself when there is one). */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** An event written back as SSE (a re-encoded event of a segment in which another changed). */
export function encodeEvent(e: EventSourceMessage): Uint8Array {
  const data = e.data.includes("\n") ? e.data.split("\n").map((line) => `data: ${line}`).join("\n") : `data: ${e.data}`;
  return encoder.encode(`${e.event ? `event: ${e.event}\n` : ""}${e.id !== undefined ? `id: ${e.id}\n` : ""}${data}\n\n`);
}

/** The message of whatever a stream failed with. */
const failureOf = (error: unknown) => (error instanceof Error ? error.message : String(error)) || "the connection broke";

/**
 * A byte stream cut into runs of complete events, each handed to the handler: `push` answers the
 * bytes to send for what a chunk completed (the same bytes when every event is kept), holding back
 * an event not yet whole.
 */
class EventSegments {
  readonly #decoder = new TextDecoder();
  readonly #boundaries = new EventBoundaries();
  readonly #parser = createParser({ onEvent: (e) => void this.#batch.push(e) });
  #batch: EventSourceMessage[] = [];
  /** The pieces of an event not yet whole, joined once it ends (joining per chunk would copy a long event over and over). */
  #tail: Uint8Array[] = [];

  constructor(private readonly handler: StreamHandler) {}

  push(chunk: Uint8Array): Uint8Array | null {
    const end = this.#boundaries.lastEnd(chunk);
    const tail = this.#tail;
    if (end === -1) {
      tail.push(chunk);
      return null;
    }
    const complete = tail.length > 0 ? concat([...tail, chunk.subarray(0, end)]) : end === chunk.length ? chunk : chunk.subarray(0, end);
    this.#tail = end < chunk.length ? [chunk.slice(end)] : [];
    return this.#segment(complete);
  }

  /** At a clean end: an event the server did not close with a blank line still counts (servers that omit it). */
  rest(): Uint8Array | null {
    const tail = this.#tail;
    this.#tail = [];
    if (tail.length === 0) return null;
    const bare = concat(tail);
    return this.#segment(concat([bare, encoder.encode("\n\n")]), bare);
  }

  /** The bytes to send for complete events: the same bytes when every event is kept, else the kept ones re-encoded. */
  #segment(bytes: Uint8Array, bare = bytes): Uint8Array | null {
    const text = this.#decoder.decode(bytes);
    // The segment ends an event; a parser seeing a last CR waits for a possible LF, so it is told the line ended.
    this.#parser.feed(text.endsWith("\r") ? `${text}\n` : text);
    const events = this.#batch;
    this.#batch = [];
    const handler = this.handler;
    if (events.length === 1) {
      const verdict = handler.event(events[0]!);
      return verdict === KEEP ? (handler.passThrough ? bytes : encodeEvent(events[0]!)) : verdict;
    }
    if (events.length === 0) return handler.passThrough ? bare : null; // comments and keep-alives
    const verdicts = events.map((e) => handler.event(e));
    if (handler.passThrough && verdicts.every((v) => v === KEEP)) return bytes;
    const parts: Uint8Array[] = [];
    verdicts.forEach((v, i) => {
      if (v === KEEP) parts.push(encodeEvent(events[i]!));
      else if (v) parts.push(v);
    });
    return parts.length > 0 ? concat(parts) : null;
  }
}

/**
 * The client's stream for `body` read through `handler`. `done` runs once: when the last bytes are
 * handed on, when the upstream failed (after the family's error event), or when the client left
 * (which cancels the upstream read, and so the model server's request).
 */
export function relayEvents(body: ReadableStream<Uint8Array>, handler: StreamHandler, done: (outcome: Outcome) => void): ReadableStream<Uint8Array> {
  const segments = new EventSegments(handler);
  let failure: string | null = null;
  let ended = false;
  const finish = (outcome: Outcome) => {
    if (!ended) done(outcome);
    ended = true;
  };
  const send = (controller: TransformStreamDefaultController<Uint8Array>, bytes: Uint8Array | null) => {
    if (bytes && bytes.byteLength > 0) controller.enqueue(bytes);
  };
  const transformer: CancellableTransformer = {
    transform: (chunk, controller) => send(controller, segments.push(chunk)),
    flush(controller) {
      if (failure === null) send(controller, segments.rest()); // a broken connection's half event is no event
      send(controller, handler.end(failure));
      finish(failure ? "upstream failed mid-stream" : null);
    },
    cancel: () => finish("client left"),
  };
  const transform = new TransformStream(transformer);
  // A failing upstream must not abort the client's side: its error event is written first (flush).
  body.pipeTo(transform.writable, { preventAbort: true }).catch(async (error) => {
    if (ended) return; // the client left: the pipe cancelled the upstream read
    failure = failureOf(error);
    await transform.writable.getWriter().close().catch(() => finish("upstream failed mid-stream"));
  });
  return transform.readable;
}

/** Bytes that are not events (audio, images, NDJSON), relayed with the same ending: `done` once, the upstream cancelled when the client leaves. */
export function relayBytes(body: ReadableStream<Uint8Array>, done: (outcome: Outcome) => void): ReadableStream<Uint8Array> {
  let ended = false;
  const finish = (outcome: Outcome) => {
    if (!ended) done(outcome);
    ended = true;
  };
  const transformer: CancellableTransformer = { flush: () => finish(null), cancel: () => finish("client left") };
  const transform = new TransformStream(transformer);
  body.pipeTo(transform.writable).catch(() => finish("upstream failed mid-stream"));
  return transform.readable;
}
