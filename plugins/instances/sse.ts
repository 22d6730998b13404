/** Events gantry writes for other APIs: one SSE event, one NDJSON line (model servers' streams are read by relay.ts). */

const encoder = new TextEncoder();

/** One event as bytes: `event: name` (when given) and one `data:` line. */
export function sseEvent(data: unknown, event?: string): Uint8Array {
  return encoder.encode(`${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

/** One NDJSON line as bytes (Ollama's streaming format). */
export function ndjsonLine(data: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(data)}\n`);
}
