/** The last N lines a model server printed, per instance. */

export type LogLevel = "debug" | "info" | "warn" | "error";

/** One line as seed 002 shows it: timestamp, level, message (plus the stream it came from). */
export interface LogLine {
  timestamp: string;
  level: LogLevel;
  message: string;
  stream: "stdout" | "stderr";
}

const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Model servers print no structured level; read the usual markers, else info. */
export function levelOf(line: string): LogLevel {
  if (/\b(error|err|fatal|critical|panic)\b/i.test(line)) return "error";
  if (/\b(warn|warning)\b/i.test(line)) return "warn";
  if (/\b(debug|trace|dbg)\b/i.test(line)) return "debug";
  return "info";
}

/** Lines at `level` or more severe. */
export function atLeast(level: LogLevel | undefined): (line: LogLine) => boolean {
  return (line) => level === undefined || SEVERITY[line.level] >= SEVERITY[level];
}

export class LogRing {
  #lines: LogLine[] = [];
  readonly #listeners = new Set<(line: LogLine) => void>();

  constructor(private readonly capacity: number) {}

  push(stream: LogLine["stream"], line: string): void {
    const entry: LogLine = { timestamp: new Date().toISOString(), level: levelOf(line), message: line, stream };
    this.#lines.push(entry);
    if (this.#lines.length > this.capacity) this.#lines.splice(0, this.#lines.length - this.capacity);
    for (const listener of this.#listeners) listener(entry);
  }

  tail(lines: number, filter: (line: LogLine) => boolean = () => true): LogLine[] {
    return this.#lines.filter(filter).slice(-lines);
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
