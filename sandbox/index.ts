/**
 * The sandbox: `createSandbox({ poolSize, maxQueue })` makes a pool of worker threads whose owner
 * closes it (the scripts plugin keeps one across its reloads); `runScript` uses a shared one (tests,
 * benches). One run per worker at a time; runs beyond the pool wait in a bounded queue, and past it
 * `run` rejects with SandboxBusyError at once (the API answers 503 with Retry-After) instead of
 * letting waits grow without limit. The QuickJS engine
 * enforces the deadline, memory and stack limits inside a worker, and a hard timer here terminates
 * the worker when a script overruns inside one long built-in call (which the engine's interrupt
 * handler cannot reach). A terminated worker is replaced for the next run.
 */
import { runtime } from "../core/runtime/index.ts";
import type { RunOptions, RunResult } from "./engine.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

export type { HostFunction, RunOptions, RunResult } from "./engine.ts";

/** How long past its deadline a run may take before its worker is terminated. */
const HARD_KILL_GRACE_MS = 250;
/** A new worker first loads the engine and compiles QuickJS; that time is not the script's. */
const COLD_START_GRACE_MS = 2_000;
const WORKER_URL = runtime.workerUrl("sandbox/worker.ts");

/** Every worker is busy and the queue is full; `retryAfterS` estimates when a place frees up. */
export class SandboxBusyError extends Error {
  constructor(readonly queued: number, readonly retryAfterS: number) {
    super(`The sandbox is busy: ${queued} scripts are already waiting; retry in ${retryAfterS} s`);
    this.name = "SandboxBusyError";
  }
}

interface Job {
  code: string;
  options: RunOptions;
  resolve(result: RunResult): void;
}

/** A pool of worker threads behind a bounded queue. */
export interface Sandbox {
  /** Runs `code` in a fresh QuickJS context; failures are in `result.error`; rejects only with SandboxBusyError. */
  run(code: string, options?: RunOptions): Promise<RunResult>;
  /** Applies a new pool size and queue bound to the next runs. */
  resize(options: SandboxPoolOptions): void;
  /** Ends every worker; a later run starts new ones. */
  close(): void;
}

/** One worker thread, one run at a time. */
class SandboxWorker {
  #worker: Worker | undefined;
  #nextId = 1;

  /** Ends the worker (tests, shutdown). */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  execute(job: Job): Promise<RunResult> {
    const cold = this.#worker === undefined;
    const worker = (this.#worker ??= new Worker(WORKER_URL, { type: "module" }));
    const grace = HARD_KILL_GRACE_MS + (cold ? COLD_START_GRACE_MS : 0);
    const id = this.#nextId++;
    const { host = {}, ...options } = job.options;
    const timeoutMs = options.timeoutMs ?? 1_000;
    const started = performance.now();
    return new Promise<RunResult>((resolve) => {
      const finish = (result: RunResult) => {
        clearTimeout(killer);
        worker.removeEventListener("message", onMessage);
        worker.removeEventListener("error", onError);
        resolve(result);
      };
      const killed = (message: string): RunResult => ({
        ok: false, result: null, logs: [], durationMs: Math.round((performance.now() - started) * 100) / 100, error: { name: "TimeoutError", message },
      });
      const killer = setTimeout(() => {
        worker.terminate();
        this.#worker = undefined;
        finish(killed(`killed after ${timeoutMs + grace} ms: the script overran its ${timeoutMs} ms deadline inside a long built-in call`));
      }, timeoutMs + grace);
      const onError = (event: ErrorEvent) => {
        worker.terminate();
        this.#worker = undefined;
        finish(killed(`sandbox worker failed: ${event.message}`));
      };
      const onMessage = async (event: MessageEvent<FromWorker>) => {
        const message = event.data;
        if (message.id !== id) return;
        if (message.type === "done") return finish(message.result);
        const reply = (m: ToWorker) => worker.postMessage(m);
        try {
          const fn = host[message.name];
          if (!fn) throw new Error(`gantry.${message.name} does not exist`);
          const value = await fn(...message.args);
          reply({ type: "host-result", callId: message.callId, ok: true, value: value === undefined ? undefined : JSON.stringify(value) });
        } catch (error) {
          reply({ type: "host-result", callId: message.callId, ok: false, error: error instanceof Error ? error.message : String(error) });
        }
      };
      worker.addEventListener("message", onMessage);
      worker.addEventListener("error", onError);
      worker.postMessage({ type: "run", id, code: job.code, options, hostNames: Object.keys(host) } satisfies ToWorker);
    });
  }
}

export interface SandboxPoolOptions {
  /** Runs at the same time, each in its own worker thread. */
  poolSize: number;
  /** Runs that may wait for a worker; one more is refused with SandboxBusyError. */
  maxQueue: number;
}

class SandboxPool implements Sandbox {
  #idle: SandboxWorker[] = [];
  #busy = 0;
  readonly #running = new Set<SandboxWorker>();
  #queue: Job[] = [];
  #recentMs = 100; // moving estimate of a run's duration, for Retry-After
  constructor(public options: SandboxPoolOptions) {}

  run(code: string, options: RunOptions = {}): Promise<RunResult> {
    if (this.#busy >= this.options.poolSize && this.#queue.length >= this.options.maxQueue) {
      const waitMs = ((this.#queue.length + 1) / this.options.poolSize) * this.#recentMs;
      return Promise.reject(new SandboxBusyError(this.#queue.length, Math.max(1, Math.ceil(waitMs / 1000))));
    }
    return new Promise((resolve) => {
      this.#queue.push({ code, options, resolve });
      this.#drain();
    });
  }

  /** Applies a new size: idle workers beyond it end now, busy ones when their run ends. */
  resize(options: SandboxPoolOptions): void {
    this.options = { poolSize: Math.max(1, options.poolSize), maxQueue: Math.max(0, options.maxQueue) };
    while (this.#idle.length > 0 && this.#idle.length + this.#busy > options.poolSize) this.#idle.pop()!.close();
    this.#drain();
  }

  #drain(): void {
    while (this.#queue.length > 0 && this.#busy < this.options.poolSize) {
      const worker = this.#idle.pop() ?? new SandboxWorker();
      const job = this.#queue.shift()!;
      const started = performance.now();
      this.#busy++;
      this.#running.add(worker);
      worker.execute(job).then((result) => {
        this.#busy--;
        this.#running.delete(worker);
        this.#recentMs = 0.8 * this.#recentMs + 0.2 * (performance.now() - started);
        if (this.#idle.length + this.#busy < this.options.poolSize) this.#idle.push(worker);
        else worker.close(); // the pool shrank while it ran
        job.resolve(result);
        this.#drain();
      });
    }
  }

  /** Ends every worker thread; runs in progress end as killed (a later run starts a new thread). */
  close(): void {
    for (const worker of [...this.#idle, ...this.#running]) worker.close();
    this.#idle = [];
  }
}

/** A sandbox of the caller's own: workers start on demand and end with close(). */
export function createSandbox(options: SandboxPoolOptions = { poolSize: 1, maxQueue: 64 }): Sandbox {
  return new SandboxPool(options);
}

const shared = new SandboxPool({ poolSize: 1, maxQueue: 64 });

/** Sets the shared sandbox's pool size and queue bound (tests, benches). */
export function configureSandbox(options: SandboxPoolOptions): void {
  shared.resize(options);
}

/**
 * Runs `code` in a fresh QuickJS sandbox of the shared pool. Script failures are in
 * `result.error`; the promise rejects only with SandboxBusyError, when the pool and its queue are full.
 */
export function runScript(code: string, options: RunOptions = {}): Promise<RunResult> {
  return shared.run(code, options);
}

/** Stops the shared sandbox's workers (new ones start on the next run). */
export function closeSandbox(): void {
  shared.close();
}
