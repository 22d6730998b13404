/** stdout for JSON log lines: lines gathered into blocks in memory, each block written asynchronously. */
import { writeSync } from "node:fs";
import pino from "pino";

/** Characters gathered before a block is handed to stdout (one write per ~30 request lines under load). */
const BLOCK_CHARS = 4096;
/** How long a line may wait in memory when traffic is light. */
const FLUSH_EVERY_MS = 250;

type SonicBoom = ReturnType<typeof pino.destination>;

/** Destinations still gathering lines: one exit hook for all of them (one per gantry would pile up listeners). */
const LIVE = new Set<BufferedStdout>();
let exitHooked = false;

/**
 * pino's asynchronous destination (sonic-boom: partial writes, EAGAIN, a synchronous flush at exit)
 * behind a block gatherer: sonic-boom measures the bytes of what it already holds on every write,
 * so it is handed one block per ~30 lines instead of each line.
 */
export class BufferedStdout {
  readonly #out: SonicBoom = pino.destination({ sync: false });
  #block = "";
  readonly #timer = setInterval(() => this.#pass(), FLUSH_EVERY_MS);
  /** Drained at shutdown: later lines (a last word after the drain) are written at once. */
  #closed = false;

  constructor() {
    this.#timer.unref();
    LIVE.add(this);
    if (!exitHooked) {
      exitHooked = true;
      // Whatever the process's end (an uncaught error included), what is held is written synchronously.
      process.once("exit", () => {
        for (const live of LIVE) live.#writeNow();
      });
    }
  }

  /** pino's one call per line. */
  write(line: string): void {
    if (this.#closed) return writeAllSync((this.#out as unknown as { fd: number }).fd, Buffer.from(line));
    this.#block += line;
    if (this.#block.length >= BLOCK_CHARS) this.#pass();
  }

  /** Starts writing everything held; `done` is called at once (drain is what waits for the writes). */
  flush(done?: (error?: Error) => void): void {
    this.#pass();
    done?.();
  }

  /**
   * Writes out everything still held, before the process exits: a write in flight is waited for
   * (its 'drain'; up to `ms`), since a synchronous flush skips the buffer that write holds; what is
   * left is then written synchronously.
   */
  async drain(ms: number): Promise<void> {
    this.#pass();
    const out = this.#out as unknown as { _writing?: boolean };
    if (out._writing) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.#out.once("drain", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.#writeNow();
    this.#closed = true;
    clearInterval(this.#timer);
    LIVE.delete(this);
  }

  /** Synchronously: what sonic-boom holds, then the block gathered since (no event loop at exit for an asynchronous write). */
  #writeNow(): void {
    try {
      this.#out.flushSync();
    } catch {
      // nothing written yet, or already closed: nothing to flush
    }
    const block = this.#block;
    this.#block = "";
    if (block !== "") writeAllSync((this.#out as unknown as { fd: number }).fd, Buffer.from(block));
  }

  #pass(): void {
    if (this.#block === "") return;
    const block = this.#block;
    this.#block = "";
    this.#out.write(block);
  }
}

/** Every byte of `bytes` to `fd`, retrying a full pipe (EAGAIN) a bounded number of times. */
function writeAllSync(fd: number, bytes: Buffer): void {
  let rest = bytes;
  for (let tries = 0; rest.length > 0 && tries < 1000; tries++) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (error) {
      if ((error as { code?: string }).code !== "EAGAIN") return; // stdout closed: nothing more can be written
    }
  }
}
