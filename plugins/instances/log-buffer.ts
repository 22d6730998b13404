/** The last N lines a model server printed, per instance. */

export interface LogLine {
  time: string;
  stream: "stdout" | "stderr";
  line: string;
}

export class LogRing {
  #lines: LogLine[] = [];
  readonly #listeners = new Set<(line: LogLine) => void>();

  constructor(private readonly capacity: number) {}

  push(stream: LogLine["stream"], line: string): void {
    const entry = { time: new Date().toISOString(), stream, line };
    this.#lines.push(entry);
    if (this.#lines.length > this.capacity) this.#lines.splice(0, this.#lines.length - this.capacity);
    for (const listener of this.#listeners) listener(entry);
  }

  tail(lines: number, stream?: LogLine["stream"]): LogLine[] {
    const selected = stream ? this.#lines.filter((l) => l.stream === stream) : this.#lines;
    return selected.slice(-lines);
  }

  /** Calls `listener` for each new line until the returned function is called. */
  follow(listener: (line: LogLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Feeds a process's output stream into the ring, line by line. */
export async function pumpLines(stream: ReadableStream<Uint8Array> | null | undefined, onLine: (line: string) => void): Promise<void> {
  if (!stream) return;
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) onLine(line);
  }
  if (buffered) onLine(buffered);
}
