/**
 * The sandbox: `createSandbox()` makes one worker-backed sandbox whose owner closes it (the scripts
 * plugin keeps one across its reloads); `runScript` uses a shared one (tests, benches). Runs go to a
 * worker thread, one at a time; the QuickJS engine enforces the deadline, memory and stack limits inside it, and a hard
 * timer here terminates the worker when a script overruns inside one long built-in call (which the
 * engine's interrupt handler cannot reach). A terminated worker is replaced for the next run.
 */
import type { RunOptions, RunResult } from "./engine.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

export type { HostFunction, RunOptions, RunResult } from "./engine.ts";

/** How long past its deadline a run may take before its worker is terminated. */
const HARD_KILL_GRACE_MS = 250;
const WORKER_URL = new URL("./worker.ts", import.meta.url).href;

interface Job {
  code: string;
  options: RunOptions;
  resolve(result: RunResult): void;
}

/** A sandbox with its own worker thread; runs are queued one at a time. */
export interface Sandbox {
  /** Runs `code` in a fresh QuickJS context; never throws: failures are in `result.error`. */
  run(code: string, options?: RunOptions): Promise<RunResult>;
  /** Ends the worker; a later run starts a new one. */
  close(): void;
}

class SandboxWorker implements Sandbox {
  #worker: Worker | undefined;
  #queue: Job[] = [];
  #busy = false;
  #nextId = 1;

  run(code: string, options: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      this.#queue.push({ code, options, resolve });
      this.#drain();
    });
  }

  /** Ends the worker (tests, shutdown). */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  #drain(): void {
    if (this.#busy) return;
    const job = this.#queue.shift();
    if (!job) return;
    this.#busy = true;
    this.#execute(job).then((result) => {
      this.#busy = false;
      job.resolve(result);
      this.#drain();
    });
  }

  #execute(job: Job): Promise<RunResult> {
    const worker = (this.#worker ??= new Worker(WORKER_URL));
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
        finish(killed(`killed after ${timeoutMs + HARD_KILL_GRACE_MS} ms: the script overran its ${timeoutMs} ms deadline inside a long built-in call`));
      }, timeoutMs + HARD_KILL_GRACE_MS);
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

/** A sandbox of the caller's own: its worker starts on the first run and ends with close(). */
export function createSandbox(): Sandbox {
  return new SandboxWorker();
}

const shared = new SandboxWorker();

/** Runs `code` in a fresh QuickJS sandbox; never throws: failures are in `result.error`. */
export function runScript(code: string, options: RunOptions = {}): Promise<RunResult> {
  return shared.run(code, options);
}

/** Stops the sandbox worker (a new one starts on the next run). */
export function closeSandbox(): void {
  shared.close();
}
