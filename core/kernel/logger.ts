/** pino logging: one root logger, named child loggers whose levels can change at runtime. */
import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.ts";
import { redactSecrets } from "./redact.ts";

export type { Logger };

/** Fields whose values never reach a log line. */
const REDACT_PATHS = [
  "password", "*.password", "token", "*.token", "secret", "*.secret", "apiKey", "*.apiKey", "api_key", "*.api_key",
  "authorization", "*.authorization", "headers.authorization", 'headers["x-api-key"]', 'headers["x-internal-auth"]',
];

export interface LoggerOptions {
  level: LogLevel;
  format: "auto" | "json" | "pretty";
  /** Where lines go; stdout by default. Tests pass a stream to read them. */
  destination?: DestinationStream;
}

/** The root logger plus every named child, so operators can list and change levels. */
export class LoggerRegistry {
  readonly root: Logger;
  readonly #named = new Map<string, Logger>();
  readonly #destination: unknown;

  constructor(options: LoggerOptions) {
    const usePretty = options.format === "pretty" || (options.format === "auto" && process.stdout.isTTY === true && !options.destination);
    const destination = options.destination ?? (usePretty ? pretty({ colorize: true, sync: true }) : pino.destination({ sync: false }));
    this.#destination = destination;
    this.root = pino({ level: options.level, base: { name: "gantry" }, redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      // The same rule as every view: secret-named fields at any depth, URL credentials, secret flags.
      formatters: { log: (fields) => redactSecrets(fields) } }, destination);
    this.#named.set("gantry", this.root);
  }

  /**
   * Writes out everything the asynchronous destination still holds: called before the process exits,
   * or its last lines are lost. A write in flight is waited for (its 'drain'; up to `ms`), since a
   * synchronous flush skips the buffer that write holds; what is left is then written synchronously.
   */
  async drain(ms = 2000): Promise<void> {
    const destination = this.#destination as { _writing?: boolean; once?: (event: string, listener: () => void) => void; flushSync?: () => void };
    if (destination._writing && destination.once) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        destination.once!("drain", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    try {
      destination.flushSync?.();
    } catch {
      // not ready yet (nothing written) or already closed: nothing to flush
    }
  }

  /** A named child logger (created once); its level can later be changed alone. */
  child(name: string, bindings: Record<string, unknown> = {}): Logger {
    const existing = this.#named.get(name);
    if (existing) return existing;
    const logger = this.root.child({ logger: name, ...bindings });
    this.#named.set(name, logger);
    return logger;
  }

  /** Forgets a named logger (its plugin was removed). */
  remove(name: string): void {
    if (name !== "gantry") this.#named.delete(name);
  }

  get(name: string): Logger | undefined {
    return this.#named.get(name);
  }

  /** Every named logger and its current level, sorted by name. */
  list(): { name: string; level: string }[] {
    return [...this.#named].map(([name, l]) => ({ name, level: l.level })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Sets one logger's level, or every logger's when name is "gantry" (the root). */
  setLevel(name: string, level: LogLevel): string {
    const logger = this.#named.get(name);
    if (!logger) throw new Error(`Unknown logger: ${name}`);
    const previous = logger.level;
    if (name === "gantry") for (const l of this.#named.values()) l.level = level;
    else logger.level = level;
    return previous;
  }

  /** Writes buffered lines (async destination) before exit. */
  flush(): void {
    this.root.flush();
  }
}
