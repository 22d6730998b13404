/** The last N lines a model server printed, per instance, and the same lines on disk with rotation. */
import { appendFileSync, existsSync, renameSync, rmSync, statSync } from "node:fs";

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

/** Appends lines to `<file>`, rotating to `<file>.1` ... `<file>.<kept>` past `maxBytes`. */
export class RotatingLogFile {
  #size: number;

  constructor(private readonly file: string, private readonly maxBytes: number, private readonly kept: number) {
    this.#size = existsSync(file) ? statSync(file).size : 0;
  }

  write(text: string): void {
    if (this.#size + text.length > this.maxBytes && this.#size > 0) this.#rotate();
    appendFileSync(this.file, text);
    this.#size += Buffer.byteLength(text);
  }

  #rotate(): void {
    rmSync(`${this.file}.${this.kept}`, { force: true });
    for (let i = this.kept - 1; i >= 1; i--) if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    renameSync(this.file, `${this.file}.1`);
    this.#size = 0;
  }
}

export class LogRing {
  #lines: LogLine[] = [];
  readonly #listeners = new Set<(line: LogLine) => void>();

  constructor(private readonly capacity: number, private readonly file?: RotatingLogFile) {}

  push(stream: LogLine["stream"], line: string): void {
    const entry: LogLine = { timestamp: new Date().toISOString(), level: levelOf(line), message: line, stream };
    this.file?.write(`${entry.timestamp} ${stream} ${line}\n`);
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
