/** Server-sent events in and out: the model servers' `data:` streams, and the events gantry writes for other APIs. */

const encoder = new TextEncoder();

/** Splits decoded text into complete events (blank-line separated); keeps the unfinished tail between calls. */
export class SseSplitter {
  #decoder = new TextDecoder();
  #buffer = "";

  /** Complete events in `chunk` (plus what earlier chunks left), each as its raw text without the blank line. */
  push(chunk: Uint8Array): string[] {
    this.#buffer += this.#decoder.decode(chunk, { stream: true }).replaceAll("\r\n", "\n");
    const events = this.#buffer.split("\n\n");
    this.#buffer = events.pop() ?? "";
    return events.filter((e) => e.trim() !== "");
  }

  /** What is left when the stream ends (a server that omits the final blank line). */
  flush(): string[] {
    const rest = this.#buffer.trim();
    this.#buffer = "";
    return rest ? [rest] : [];
  }
}

/** The `data:` payload of one event (lines joined), or null when it has none. */
export function dataOf(event: string): string | null {
  let data: string | null = null;
  for (const line of event.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const value = line.slice(line[5] === " " ? 6 : 5);
    data = data === null ? value : `${data}\n${value}`;
  }
  return data;
}

/** The JSON objects of an OpenAI-style stream, `[DONE]` and non-JSON events left out. */
export async function* openAiChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Record<string, unknown>> {
  const splitter = new SseSplitter();
  const parse = function* (events: string[]) {
    for (const event of events) {
      const data = dataOf(event);
      if (data === null || data === "[DONE]") continue;
      try {
        const value = JSON.parse(data);
        if (value && typeof value === "object") yield value as Record<string, unknown>;
      } catch {
        // a keep-alive or comment line: nothing to translate
      }
    }
  };
  for await (const chunk of body) yield* parse(splitter.push(chunk));
  yield* parse(splitter.flush());
}

/** One event as bytes: `event: name` (when given) and one `data:` line. */
export function sseEvent(data: unknown, event?: string): Uint8Array {
  return encoder.encode(`${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

/** One NDJSON line as bytes (Ollama's streaming format). */
export function ndjsonLine(data: unknown): Uint8Array {
  return encoder.encode(`${JSON.stringify(data)}\n`);
}

/**
 * Watches a stream passing through (OpenAI chat, completions or Responses; Anthropic messages from
 * a server that serves them): the first chunk with content marks the first token, `usage` gives the
 * token counts. With `stripUsage` (gantry
 * asked for usage and the client had not) the usage-only chunk is removed again and events are
 * re-encoded; otherwise the bytes pass through untouched.
 */
export function streamWatcher(o: { firstToken(): void; setUsage(p: unknown, c: unknown): void }, stripUsage: boolean) {
  const splitter = new SseSplitter();
  let seenToken = false;
  const look = (event: string): boolean => {
    if (!seenToken && (event.includes('"choices":[{') || event.includes('"type":"response.output_text.delta"') || event.includes('"type":"content_block_delta"'))) {
      seenToken = true;
      o.firstToken();
    }
    if (!event.includes('"usage":{') && !event.includes('"usage": {')) return true;
    const data = dataOf(event);
    try {
      type Counts = { prompt_tokens?: number; completion_tokens?: number; input_tokens?: number; output_tokens?: number };
      const chunk = JSON.parse(data ?? "") as { usage?: Counts; response?: { usage?: Counts }; message?: { usage?: Counts }; choices?: unknown[] };
      // The Responses API reports usage in response.completed, Anthropic's message_start in message.
      const usage = chunk.usage ?? chunk.response?.usage ?? chunk.message?.usage;
      o.setUsage(usage?.prompt_tokens ?? usage?.input_tokens, usage?.completion_tokens ?? usage?.output_tokens);
      return !(stripUsage && Array.isArray(chunk.choices) && chunk.choices.length === 0);
    } catch {
      return true;
    }
  };
  return (chunk: Uint8Array): Uint8Array | null => {
    const events = splitter.push(chunk);
    if (!stripUsage) {
      events.forEach(look);
      return chunk;
    }
    const kept = events.filter(look);
    return kept.length > 0 ? encoder.encode(kept.map((e) => `${e}\n\n`).join("")) : null;
  };
}

/**
 * A byte stream pulled from `events` (a translation of another stream). When it ends, fails or the
 * client cancels, `onEnd` runs once; cancelling returns the generator, which cancels the stream it reads.
 */
export function generatorStream(events: AsyncGenerator<Uint8Array>, onEnd: (outcome: string | null) => void): ReadableStream<Uint8Array> {
  let ended = false;
  const end = (outcome: string | null) => {
    if (!ended) onEnd(outcome);
    ended = true;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await events.next();
        if (done) {
          end(null);
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end("upstream failed mid-stream");
        controller.error(error);
      }
    },
    async cancel() {
      end("client left");
      await events.return(undefined);
    },
  });
}
