/**
 * The sandbox engine: JavaScript in QuickJS compiled to WebAssembly, with a CPU deadline, a hard memory cap,
 * a stack limit, captured and bounded console output, an allow-list of virtual modules, and a host
 * API of JSON-in/JSON-out functions exposed as a frozen `gantry` object.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { shouldInterruptAfterDeadline, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime } from "quickjs-emscripten-core";
import { freshQuickJS } from "./quickjs-module.ts";
import { installResultConverter, resultToJson } from "./result-json.ts";

/** A host function scripts call as `await gantry.<name>(...args)`; arguments and result travel as JSON. */
export type HostFunction = (...args: unknown[]) => unknown | Promise<unknown>;

export interface RunOptions {
  /** Wall-clock budget for the whole run, CPU and awaited host calls together (default 1,000 ms). */
  timeoutMs?: number;
  /** Hard cap of the WebAssembly memory the runtime lives in (default 32 MiB). */
  memoryBytes?: number;
  /** QuickJS stack limit (default 64 KiB; larger values let deep recursion overflow the host stack). */
  stackBytes?: number;
  /** Most characters of console output kept (default 64 KiB); the rest is dropped and counted. */
  maxLogChars?: number;
  /** Functions of the frozen `gantry` object. */
  host?: Record<string, HostFunction>;
  /** Importable modules by name → ES module source. Anything else fails to import. */
  modules?: Record<string, string>;
}

export interface RunResult {
  ok: boolean;
  /** The global `result` if the script set one, else the value of its last expression; JSON-safe. */
  result: unknown;
  logs: string[];
  durationMs: number;
  error: { name: string; message: string; stack?: string } | null;
}

const DEFAULTS = { timeoutMs: 1_000, memoryBytes: 32 * 1024 * 1024, stackBytes: 64 * 1024, maxLogChars: 64 * 1024 };
const STACK_LINES = 8;

/** Builds the frozen `gantry` object from the one bridge function, then removes the bridge. */
const PRELUDE = (names: string[]) => `
(() => {
  const call = globalThis.__gantry_call;
  delete globalThis.__gantry_call;
  const api = {};
  for (const name of ${JSON.stringify(names)}) {
    api[name] = (...args) => call(name, JSON.stringify(args)).then((text) => (text === undefined ? undefined : JSON.parse(text)));
  }
  Object.defineProperty(globalThis, "gantry", { value: Object.freeze(api), writable: false, configurable: false, enumerable: false });
  globalThis.result = undefined; // so module code (strict mode) may assign \`result = ...\`
})();`;

class RunLimits {
  readonly deadline: number;
  constructor(readonly started: number, timeoutMs: number) {
    this.deadline = started + timeoutMs;
  }
  get expired(): boolean {
    return Date.now() >= this.deadline;
  }
}

/** Runs `code` in a fresh sandbox and always returns (errors are in `error`). */
export async function runInThisThread(code: string, options: RunOptions = {}): Promise<RunResult> {
  const opts = { ...DEFAULTS, ...options };
  const logs = new LogBuffer(opts.maxLogChars);
  // The deadline starts once the engine is ready: a new worker's first run compiles QuickJS, which is not the script's time.
  const quickjs = await freshQuickJS(opts.memoryBytes);
  const started = performance.now();
  const limits = new RunLimits(Date.now(), opts.timeoutMs);
  const finish = (partial: Pick<RunResult, "ok" | "result" | "error">): RunResult => ({ ...partial, logs: logs.lines(), durationMs: Math.round((performance.now() - started) * 100) / 100 });

  const runtime = quickjs.newRuntime();
  // Below the hard cap, so one large allocation fails as a catchable "out of memory" first.
  runtime.setMemoryLimit(Math.floor(opts.memoryBytes * 0.75));
  runtime.setMaxStackSize(opts.stackBytes);
  runtime.setInterruptHandler(shouldInterruptAfterDeadline(limits.deadline));
  const modules = opts.modules ?? {};
  runtime.setModuleLoader((name) => (Object.hasOwn(modules, name) ? modules[name]! : { error: new Error(`Import of '${name}' is not allowed`) }));
  const context = runtime.newContext();
  try {
    installConsole(context, logs);
    installHost(context, opts.host ?? {}, limits);
    const converter = installResultConverter(context);
    const value = await evaluate(context, runtime, code, limits, converter).finally(() => converter.alive && converter.dispose());
    return finish({ ok: true, result: value, error: null });
  } catch (error) {
    return finish({ ok: false, result: null, error: describeError(error, limits) });
  } finally {
    // Everything dies with the WebAssembly instance; disposing first keeps QuickJS's own checks quiet.
    try {
      context.dispose();
      runtime.dispose();
    } catch {
      // A run that ended in a host-side fault may leave handles behind; the instance is discarded anyway.
    }
  }
}

class LogBuffer {
  #lines: string[] = [];
  #chars = 0;
  #dropped = 0;
  constructor(private readonly max: number) {}
  push(line: string): void {
    if (this.#chars + line.length > this.max) {
      this.#dropped++;
      return;
    }
    this.#chars += line.length;
    this.#lines.push(line);
  }
  lines(): string[] {
    return this.#dropped > 0 ? [...this.#lines, `[${this.#dropped} more log lines dropped: output limit of ${this.max} characters]`] : this.#lines;
  }
}

function formatLogArgument(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function installConsole(context: QuickJSContext, logs: LogBuffer): void {
  const consoleObject = context.newObject();
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const fn = context.newFunction(level, (...args: QuickJSHandle[]) => {
      const text = args.map((a) => formatLogArgument(context.dump(a))).join(" ");
      logs.push(level === "log" || level === "info" ? text : `[${level}] ${text}`);
    });
    context.setProp(consoleObject, level, fn);
    fn.dispose();
  }
  context.setProp(context.global, "console", consoleObject);
  consoleObject.dispose();
}

/** One bridge function returning a promise; the prelude wraps it into the frozen `gantry` object. */
function installHost(context: QuickJSContext, host: Record<string, HostFunction>, limits: RunLimits): void {
  const bridge = context.newFunction("__gantry_call", (nameHandle, argsHandle) => {
    const name = context.getString(nameHandle);
    const args = JSON.parse(context.getString(argsHandle)) as unknown[];
    const deferred = context.newPromise();
    const settle = (ok: boolean, value: string | undefined) => {
      if (!deferred.alive || !context.alive) return; // the run ended before the host answered
      if (ok) {
        const handle = value === undefined ? context.undefined : context.newString(value);
        deferred.resolve(handle);
        handle.dispose();
      } else {
        const error = context.newError(value ?? "host call failed");
        deferred.reject(error);
        error.dispose();
      }
      context.runtime.executePendingJobs();
    };
    if (!Object.hasOwn(host, name)) settle(false, `gantry.${name} does not exist`);
    else if (limits.expired) settle(false, "deadline passed");
    else {
      Promise.resolve()
        .then(() => host[name]!(...args))
        .then((value) => settle(true, value === undefined ? undefined : JSON.stringify(value)), (error: unknown) => settle(false, error instanceof Error ? error.message : String(error)));
    }
    return deferred.handle;
  });
  context.setProp(context.global, "__gantry_call", bridge);
  bridge.dispose();
  unwrap(context, context.evalCode(PRELUDE(Object.keys(host)), "gantry-prelude.js"));
}

function unwrap(context: QuickJSContext, result: ReturnType<QuickJSContext["evalCode"]>): QuickJSHandle {
  if (result.error) {
    const error = context.dump(result.error);
    result.error.dispose();
    throw new ScriptError(error);
  }
  return result.value;
}

/** A failure inside the script, carrying what QuickJS reported. */
class ScriptError extends Error {
  constructor(readonly detail: unknown) {
    super(typeof detail === "object" && detail && "message" in detail ? String((detail as { message: unknown }).message) : String(detail));
  }
}

/** Scripts run as a global script (last-expression value); `import` or top-level `await` make them a module. */
async function evaluate(context: QuickJSContext, runtime: QuickJSRuntime, code: string, limits: RunLimits, converter: QuickJSHandle): Promise<unknown> {
  const asModule = /(^|[\n;])\s*import[\s{*'"]|\bawait\b/.test(code);
  const handle = unwrap(context, context.evalCode(code, "script.js", { type: asModule ? "module" : "global" }));
  const settled = await settle(context, runtime, handle, limits);
  const explicit = context.getProp(context.global, "result");
  try {
    try {
      if (context.typeof(explicit) !== "undefined") return resultToJson(context, converter, explicit);
      return asModule ? null : resultToJson(context, converter, settled);
    } catch (error) {
      throw new ScriptError(error);
    }
  } finally {
    explicit.dispose();
    settled.dispose();
  }
}

/** Waits for a promise result while running QuickJS's job queue, bounded by the deadline. */
async function settle(context: QuickJSContext, runtime: QuickJSRuntime, handle: QuickJSHandle, limits: RunLimits): Promise<QuickJSHandle> {
  let current = handle;
  for (;;) {
    runtime.executePendingJobs();
    const state = context.getPromiseState(current);
    if (state.type === "fulfilled") {
      if (state.notAPromise) return current;
      current.dispose();
      current = state.value;
      continue; // a fulfilled value may be another promise (a module's evaluation result)
    }
    if (state.type === "rejected") {
      const error = context.dump(state.error);
      state.error.dispose();
      current.dispose();
      throw new ScriptError(error);
    }
    if (limits.expired) {
      current.dispose();
      throw new ScriptError({ name: "TimeoutError", message: "Script did not finish before its deadline (a promise never settled, or host calls took too long)" });
    }
    await sleep(1); // let host promises settle
  }
}

function describeError(error: unknown, limits: RunLimits): RunResult["error"] {
  const detail = error instanceof ScriptError ? error.detail : error;
  if (detail && typeof detail === "object") {
    const d = detail as { name?: unknown; message?: unknown; stack?: unknown };
    let message = String(d.message ?? detail);
    if (message === "interrupted" && limits.expired) message = "interrupted: the script ran past its CPU deadline";
    const stack = typeof d.stack === "string" ? d.stack.split("\n").slice(0, STACK_LINES).join("\n") : undefined;
    return { name: String(d.name ?? "Error"), message, ...(stack ? { stack } : {}) };
  }
  return { name: "Error", message: String(detail) };
}
