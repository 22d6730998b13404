/** pino logging: one root logger, named child loggers whose levels can change at runtime. */
import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.ts";
import { BufferedStdout } from "./buffered-stdout.ts";
import { redactSecrets, redactText } from "./redact.ts";

export type { Logger };

/** What is redacted is decided per value: numbers, booleans and nulls (durations, statuses, counts) never carry a secret. */
function carriesNoSecret(value: unknown): boolean {
  return value === null || value === undefined || typeof value === "number" || typeof value === "boolean";
}

/** `log.error(error)` alone: pino takes the error's message as the line's; it is redacted like the error. */
function messageOfErrorRedacted(this: Logger, args: unknown[], method: (...args: unknown[]) => void): void {
  if (args.length === 1 && args[0] instanceof Error) return method.call(this, args[0], redactText(args[0].message));
  method.apply(this, args);
}

/**
 * One line's fields with every secret hidden (the rule of redactSecrets: secret-named keys at any
 * depth, secrets by their value). Copy on write: a line holding none (a request line, an inference
 * line) comes back as the same object. An error under `err` is serialized first (message, stack,
 * its own fields), so what it carries is redacted too.
 */
export function redactLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (carriesNoSecret(value)) continue;
    const redacted = key === "err" && value instanceof Error ? redactSecrets({ ...pino.stdSerializers.err(value) }) : redactSecrets(value, key);
    if (redacted !== value) (out ??= { ...fields })[key] = redacted;
  }
  return out ?? fields;
}

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
  readonly #destination: DestinationStream;

  constructor(options: LoggerOptions) {
    const usePretty = options.format === "pretty" || (options.format === "auto" && process.stdout.isTTY === true && !options.destination);
    const destination = options.destination ?? (usePretty ? pretty({ colorize: true, sync: true }) : new BufferedStdout());
    this.#destination = destination;
    // The same rule as every view, applied by gantry alone: pino's own `redact` re-reads its paths for
    // every field of every line. A child's bindings are redacted once, when it is made (child below).
    // `err` is serialized by redactLogFields; pino's own serializer would take that plain copy for an error again.
    this.root = pino({ level: options.level, base: { name: "gantry" }, formatters: { log: redactLogFields },
      serializers: { err: (value: unknown) => (value instanceof Error ? pino.stdSerializers.err(value) : value) },
      hooks: { logMethod: messageOfErrorRedacted } }, destination);
    this.#named.set("gantry", this.root);
  }

  /** Writes out every line still held (buffered stdout) before the process exits, or its last lines are lost. */
  async drain(ms = 2000): Promise<void> {
    if (this.#destination instanceof BufferedStdout) await this.#destination.drain(ms);
  }

  /** A named child logger (created once); its level can later be changed alone. */
  child(name: string, bindings: Record<string, unknown> = {}): Logger {
    const existing = this.#named.get(name);
    if (existing) return existing;
    const logger = this.root.child(redactSecrets({ logger: name, ...bindings }));
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

  /** Starts writing buffered lines now (async destination): after lifecycle lines and before exit. */
  flush(): void {
    this.root.flush();
  }
}
