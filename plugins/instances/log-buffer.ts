/** The last N lines a model server printed, per instance, and the same lines on disk with rotation. */
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** One line as the instances API shows it: timestamp, level, message (plus the stream it came from). */
export interface LogLine {
  timestamp: string;
  level: LogLevel;
  message: string;
  stream: "stdout" | "stderr";
}

const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** llama.cpp's log prefix: time since start, then its level letter (`0.00.038.118 E srv load_model: ...`). */
const LLAMA_CPP_LEVEL = /^\d+\.\d+\.\d+\.\d+ ([DIWE]) /;
const LLAMA_CPP_LEVELS: Record<string, LogLevel> = { D: "debug", I: "info", W: "warn", E: "error" };

/** Model servers print no structured level (llama.cpp's prefix letter aside); read the usual markers, else info. */
export function levelOf(line: string): LogLevel {
  const llama = LLAMA_CPP_LEVEL.exec(line);
  if (llama) return LLAMA_CPP_LEVELS[llama[1]!]!;
  if (/\b(error|err|fatal|critical|panic)\b/i.test(line)) return "error";
  if (/\b(warn|warning)\b/i.test(line)) return "warn";
  if (/\b(debug|trace|dbg)\b/i.test(line)) return "debug";
  return "info";
}

/** Lines at `level` or more severe. */
export function atLeast(level: LogLevel | undefined): (line: LogLine) => boolean {
  return (line) => level === undefined || SEVERITY[line.level] >= SEVERITY[level];
}

/**
 * Appends lines to `<file>`, rotating to `<file>.1` ... `<file>.<kept>` past `maxBytes`. Lines are
 * batched and written every FLUSH_MS through one open descriptor: a model server logs a line per
 * request, and a synchronous open+write+close per line cost a busy proxy a third of its CPU. The
 * ring buffer (the API) has every line at once; the file lags by at most FLUSH_MS.
 */
const FLUSH_MS = 100;

export class RotatingLogFile {
  #fd: number;
  #size: number;
  #pending: string[] = [];
  #flushScheduled = false;

  constructor(private readonly file: string, private readonly maxBytes: number, private readonly kept: number) {
    this.#fd = openSync(file, "a");
    this.#size = fstatSync(this.#fd).size;
  }

  write(line: string): void {
    if (this.#fd < 0) return; // closed: the plugin is going away
    this.#pending.push(line);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Writes what is pending now; rotation happens between lines, so no file passes `maxBytes` (but a single longer line). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0 || this.#fd < 0) return;
    const lines = this.#pending;
    this.#pending = [];
    const all = lines.join("");
    const allBytes = Buffer.byteLength(all);
    if (this.#size + allBytes <= this.maxBytes || lines.length === 1) {
      if (this.#size > 0 && this.#size + allBytes > this.maxBytes) this.#rotate();
      writeSync(this.#fd, all);
      this.#size += allBytes;
      return;
    }
    // The batch crosses the size limit: split it between files line by line.
    let batch = "";
    let batchBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (this.#size + batchBytes + bytes > this.maxBytes && this.#size + batchBytes > 0) {
        if (batch) writeSync(this.#fd, batch);
        this.#rotate();
        batch = "";
        batchBytes = 0;
      }
      batch += line;
      batchBytes += bytes;
    }
    writeSync(this.#fd, batch);
    this.#size += batchBytes;
  }

  close(): void {
    this.flush();
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  #rotate(): void {
    closeSync(this.#fd);
    rmSync(`${this.file}.${this.kept}`, { force: true });
    for (let i = this.kept - 1; i >= 1; i--) if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    renameSync(this.file, `${this.file}.1`);
    this.#fd = openSync(this.file, "a");
    this.#size = 0;
  }
}

type StoredLine = Omit<LogLine, "level">;

/** Level is worked out when a line is read, not for each line a busy server prints. */
const withLevel = (line: StoredLine): LogLine => ({ timestamp: line.timestamp, level: levelOf(line.message), message: line.message, stream: line.stream });

/** The last `capacity` lines in a circular buffer, with listeners for followers. */
export class LogRing {
  readonly #lines: StoredLine[] = [];
  #next = 0;
  readonly #listeners = new Set<(line: LogLine) => void>();

  constructor(private readonly capacity: number, private readonly file?: RotatingLogFile) {}

  /** `timestamp` lets a caller stamp the lines of one read with one clock call. */
  push(stream: LogLine["stream"], line: string, timestamp = isoNow()): void {
    const entry: StoredLine = { timestamp, message: line, stream };
    this.file?.write(`${timestamp} ${stream} ${line}\n`);
    if (this.#lines.length < this.capacity) this.#lines.push(entry);
    else this.#lines[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#listeners.size === 0) return;
    const read = withLevel(entry);
    for (const listener of this.#listeners) listener(read);
  }

  tail(lines: number, filter: (line: LogLine) => boolean = () => true): LogLine[] {
    const ordered = this.#lines.length < this.capacity ? this.#lines : [...this.#lines.slice(this.#next), ...this.#lines.slice(0, this.#next)];
    return ordered.map(withLevel).filter(filter).slice(-lines);
  }

  /** Calls `listener` for each new line until the returned function is called. */
  follow(listener: (line: LogLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Writes pending lines and closes the file; the ring stays readable. */
  close(): void {
    this.file?.close();
  }
}

let lastMs = 0;
let lastIso = "";

/** The time as ISO 8601, formatted once per millisecond however many lines arrive in it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

/**
 * How long reading pauses after a short chunk, so that what a busy server prints meanwhile arrives
 * as one chunk: each read costs about 25 µs of CPU however short, and a model server prints a line
 * per request (at 8k requests a second, a fifth of a core). Lines reach the ring at most this late.
 */
export const READ_PAUSE_MS = 20;
/** A chunk this large means output is pouring in: read on at once (a pause would make the server wait on a full pipe). */
const FULL_READ_BYTES = 16 * 1024;

/** Feeds a process's output stream into lines (for the ring), reading in chunks with short pauses. */
export class LinePump {
  /** Resolves when the stream has ended and every line was handed over. */
  readonly done: Promise<void>;
  #endPause: (() => void) | undefined;
  #hurried = false;

  constructor(stream: ReadableStream<Uint8Array> | null | undefined, onLine: (line: string, timestamp: string) => void, private readonly pauseMs = READ_PAUSE_MS) {
    this.done = stream ? this.#run(stream, onLine) : Promise.resolve();
  }

  /** Ends the pause under way: what was printed meanwhile is read now (a caller is about to look). */
  wake(): void {
    this.#endPause?.();
  }

  /** No more pauses: the process has exited and its last lines are wanted before anything else is said of it. */
  hurry(): void {
    this.#hurried = true;
    this.wake();
  }

  async #run(stream: ReadableStream<Uint8Array>, onLine: (line: string, timestamp: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      const timestamp = isoNow();
      for (const line of lines) onLine(line, timestamp);
      if (this.pauseMs > 0 && !this.#hurried && value.byteLength < FULL_READ_BYTES) await this.#pause();
    }
    if (buffered) onLine(buffered, isoNow());
  }

  #pause(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#endPause?.(), this.pauseMs);
      this.#endPause = () => {
        clearTimeout(timer);
        this.#endPause = undefined;
        resolve();
      };
    });
  }
}
