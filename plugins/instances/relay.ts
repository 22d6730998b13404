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
export class EventBoundaries {
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

function concat(parts: Uint8Array[]): Uint8Array {
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
 * The client's stream for `body` read through `handler`. `done` runs once: when the last bytes are
 * handed on, when the upstream failed (after the family's error event), or when the client left
 * (which cancels the upstream read, and so the model server's request).
 */
export function relayEvents(body: ReadableStream<Uint8Array>, handler: StreamHandler, done: (outcome: Outcome) => void): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const boundaries = new EventBoundaries();
  let batch: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => void batch.push(e) });
  let tail: Uint8Array | null = null;
  let failure: string | null = null;
  let ended = false;
  const finish = (outcome: Outcome) => {
    if (!ended) done(outcome);
    ended = true;
  };

  /** The bytes to send for complete events: the same bytes when every event is kept, else the kept ones re-encoded. */
  const segment = (bytes: Uint8Array, bare = bytes): Uint8Array | null => {
    const text = decoder.decode(bytes);
    // The segment ends an event; a parser seeing a last CR waits for a possible LF, so it is told the line ended.
    parser.feed(text.endsWith("\r") ? `${text}\n` : text);
    const events = batch;
    batch = [];
    if (events.length === 1) {
      const verdict = handler.event(events[0]!);
      return verdict === KEEP ? (handler.passThrough ? bytes : encodeEvent(events[0]!)) : verdict;
    }
    const verdicts = events.map((e) => handler.event(e));
    if (events.length === 0) return handler.passThrough ? bare : null; // comments and keep-alives
    if (handler.passThrough && verdicts.every((v) => v === KEEP)) return bytes;
    const parts: Uint8Array[] = [];
    verdicts.forEach((v, i) => {
      if (v === KEEP) parts.push(encodeEvent(events[i]!));
      else if (v) parts.push(v);
    });
    return parts.length > 0 ? concat(parts) : null;
  };

  const transformer: CancellableTransformer = {
    transform(chunk, controller) {
      const end = boundaries.lastEnd(chunk);
      if (end === -1) {
        tail = tail ? concat([tail, chunk]) : chunk;
        return;
      }
      const complete = tail ? concat([tail, chunk.subarray(0, end)]) : end === chunk.length ? chunk : chunk.subarray(0, end);
      tail = end < chunk.length ? chunk.slice(end) : null;
      const out = segment(complete);
      if (out && out.byteLength > 0) controller.enqueue(out);
    },
    flush(controller) {
      // An event the server did not end with a blank line still counts (a server that omits it).
      if (tail) {
        const out = segment(concat([tail, encoder.encode("\n\n")]), tail);
        if (out && out.byteLength > 0) controller.enqueue(out);
      }
      const last = handler.end(failure);
      if (last) controller.enqueue(last);
      finish(failure ? "upstream failed mid-stream" : null);
    },
    cancel() {
      finish("client left");
    },
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
