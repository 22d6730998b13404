/**
 * Supervises one model-server process: start and wait for health, stop with SIGTERM then SIGKILL
 * (the whole process group), and restart after a crash — or after `unhealthyThreshold` failed
 * health checks in a row, which is how a hung server shows — with capped backoff (PM2-style) until
 * it gives up and the instance is `failed`. A supervisor outlives plugin reloads (it is kept with
 * its process): it reaches the plugin only through `host()`, which each generation re-points.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { SpawnOptions, SpawnedProcess } from "gantry/plugin";
import { commandLine, healthPath, type InstanceDefinition } from "./backends.ts";
import { connect } from "node:net";
import { join } from "node:path";
import { LinePump, LogRing, RotatingLogFile } from "./log-buffer.ts";
import { CpuMeter } from "./process-stats.ts";
import { TimingLines, type ServerTiming } from "./server-timings.ts";
import { startFailureFindings } from "./start-failure.ts";
import { RequestGate } from "./request-gate.ts";

export type InstanceStatus = "stopped" | "starting" | "running" | "stopping" | "failed";

export interface SupervisorSettings {
  executables: Record<string, string>;
  startTimeoutS: number;
  stopTimeoutS: number;
  maxRestarts: number;
  logLines: number;
  /** Folder for `<name>.log` files (the name URL-encoded: model ids hold `/`); none when undefined. */
  logDir?: string;
  logFileMaxBytes: number;
  logFilesKept: number;
  /** Failed periodic health checks in a row after which a running server is restarted. */
  unhealthyThreshold: number;
}

/** The documented instances API's health report: `healthy` when the process runs, its port is open and its health endpoint answers 2xx. */
export interface HealthReport {
  /** `loading`: the server answers 503 on its health path, as llama.cpp's llama-server does while it loads the model. */
  status: "healthy" | "loading" | "unhealthy" | "stopped";
  checks: { process: "running" | "stopped"; port: "open" | "closed"; response: "ok" | "loading" | "error" | "none" };
  last_check: string | null;
  /** Failed periodic checks in a row while running (reset by a passing one). */
  consecutive_failures: number;
}

/** What a supervisor needs from the plugin generation that serves now, and from the kernel. */
export interface SupervisorHost {
  settings(): SupervisorSettings;
  /** Starts the server as a child the kernel owns (it survives reloads, stops on uninstall and shutdown). */
  spawn(command: string[], options: SpawnOptions): SpawnedProcess;
  /** A kernel-owned timer; returns its cancel function. */
  setTimeout(fn: () => unknown, ms: number): () => void;
  onStatus(name: string, status: InstanceStatus, previous: InstanceStatus): void;
  onPid(name: string, pid: number | null): void;
  /** A request's timings as the model server logged them (llama.cpp's print_timing). */
  onTimings?(name: string, timing: ServerTiming): void;
}

const BACKOFF_START_MS = 500;
const HEALTH_TIMEOUT_MS = 2000;
const BACKOFF_MAX_MS = 15_000;
/** How long an exit waits for the rest of the server's output (a child it left behind may hold the pipe open). */
const EXIT_DRAIN_MS = 200;
/** How many of the server's own lines a failed start quotes. */
const LAST_WORDS = 3;

export class InstanceSupervisor {
  status: InstanceStatus = "stopped";
  lastError: string | null = null;
  restarts = 0;
  startedAt: Date | null = null;
  lastUsedAt = 0;
  /** When the current process was spawned (ms), for its first CPU reading. */
  spawnedAt = 0;
  readonly cpu = new CpuMeter();
  /** Its requests: slots, queue, drain (kept with the supervisor across reloads). */
  readonly gate = new RequestGate();
  /** The last request's keep_alive in ms (Ollama's): overrides idle_timeout; 0 = stop once idle, Infinity = never; null = idle_timeout. */
  keepAliveMs: number | null = null;
  /** The estimated MiB when the definition declares none (computed once; cleared when the definition changes). */
  estimatedMib: number | undefined;
  readonly logs: LogRing;
  #proc: SpawnedProcess | undefined;
  /** Resolves once the current process's exit was handled (its output read to the end, or EXIT_DRAIN_MS). */
  #exitHandled: Promise<void> = Promise.resolve();
  #stopping = false;
  #startPromise: Promise<void> | undefined;
  #cancelRestart: (() => void) | undefined;
  #lastHealth: HealthReport = { status: "stopped", checks: { process: "stopped", port: "closed", response: "none" }, last_check: null, consecutive_failures: 0 };
  #failedChecks = 0;
  /** Set when gantry killed the process for failing its health checks, so the exit counts as a failure. */
  #killedUnhealthy = false;

  constructor(public definition: InstanceDefinition, private readonly host: () => SupervisorHost) {
    const { logLines, logDir, logFileMaxBytes, logFilesKept } = host().settings();
    this.logs = new LogRing(logLines, logDir ? new RotatingLogFile(join(logDir, `${encodeURIComponent(definition.name)}.log`), logFileMaxBytes, logFilesKept) : undefined);
  }

  get pid(): number | null {
    return this.#proc?.running ? this.#proc.pid : null;
  }

  private settings(): SupervisorSettings {
    return this.host().settings();
  }

  get health(): HealthReport {
    return this.#lastHealth;
  }

  /** Starts (or joins a start in progress) and resolves once the server answers its health check. */
  start(): Promise<void> {
    if (this.status === "running") return Promise.resolve();
    this.#startPromise ??= this.#start().finally(() => (this.#startPromise = undefined));
    return this.#startPromise;
  }

  async #start(): Promise<void> {
    this.#cancelRestart?.();
    this.#stopping = false;
    this.#set("starting");
    const argv = commandLine(this.definition, this.settings().executables);
    // A program gantry did not start on this port would answer the health checks in the server's place.
    if (await portAnswers(this.definition.port)) {
      const reason = `port ${this.definition.port} is already in use by a program gantry did not start; stop it or give the instance another port`;
      this.#fail(reason);
      throw new Error(reason);
    }
    let proc: SpawnedProcess;
    try {
      proc = this.host().spawn(argv, { name: this.definition.name, env: { ...serverEnvironment(), ...this.definition.env }, stdout: "pipe", stderr: "pipe", killTimeoutMs: this.settings().stopTimeoutS * 1000 });
    } catch (error) {
      const reason = (error as { code?: string }).code === "ENOENT" ? `executable not found: ${argv[0]} (set plugin.instances.executables.${this.definition.backend})` : (error as Error).message;
      this.#fail(reason);
      throw new Error(reason);
    }
    this.#proc = proc;
    this.spawnedAt = Date.now();
    this.host().onPid(this.definition.name, proc.pid);
    // llama.cpp logs each request's timings on stderr; other servers' lines skip the parser.
    const timings = this.definition.backend === "llama_cpp" ? new TimingLines((t) => this.host().onTimings?.(this.definition.name, t)) : undefined;
    const pumps = [
      new LinePump(proc.subprocess.stdout as ReadableStream<Uint8Array>, (line, at) => this.logs.push("stdout", line, at)),
      new LinePump(proc.subprocess.stderr as ReadableStream<Uint8Array>, (line, at) => (this.logs.push("stderr", line, at), timings?.feed(line))),
    ];
    // The server's last lines first (its own error, say), then what gantry has to say of the exit.
    const exitHandled = proc.exited.then(async (code) => {
      for (const pump of pumps) pump.hurry();
      await Promise.race([Promise.all(pumps.map((p) => p.done)), sleep(EXIT_DRAIN_MS)]);
      this.#exited(proc, code, this.status === "starting" && proc === this.#proc ? await startFailureFindings(this.definition) : "");
    });
    this.#exitHandled = exitHandled;
    const deadline = Date.now() + this.settings().startTimeoutS * 1000;
    while (Date.now() < deadline) {
      if (proc !== this.#proc || !proc.running) {
        if (proc === this.#proc) await exitHandled;
        throw new Error(this.lastError ?? `${this.definition.name} exited while starting`);
      }
      if (await this.checkHealth()) {
        // What it printed while starting ("listening on ...") is in the logs when the start answers.
        for (const pump of pumps) pump.wake();
        await sleep(5);
        this.startedAt = new Date();
        this.#failedChecks = 0;
        this.#set("running");
        return;
      }
      await sleep(100);
    }
    await this.stop({ force: true });
    this.#fail(`did not become healthy within ${this.settings().startTimeoutS} s`);
    throw new Error(this.lastError!);
  }

  /** SIGTERM to the process group, SIGKILL after `timeout` seconds (at once with `force`). */
  async stop(options: { force?: boolean; timeout?: number } = {}): Promise<void> {
    this.#cancelRestart?.();
    const proc = this.#proc;
    this.#stopping = true;
    if (!proc?.running) {
      if (this.status !== "failed") this.#set("stopped");
      return;
    }
    this.#set("stopping");
    const timeoutMs = (options.timeout ?? this.settings().stopTimeoutS) * 1000;
    const started = Date.now();
    await proc.stop({ force: options.force, timeoutMs });
    await this.#exitHandled; // its last lines read (bounded by EXIT_DRAIN_MS), so closing the log file loses none
    if (!options.force && Date.now() - started >= timeoutMs) this.logs.push("stderr", `[gantry] no exit ${timeoutMs} ms after SIGTERM: sent SIGKILL`);
    this.#set("stopped");
  }

  /** Probes process, port and health endpoint; records the result. */
  async checkHealth(): Promise<boolean> {
    const process = this.pid !== null;
    let port = false;
    let response: HealthReport["checks"]["response"] = "none";
    if (process) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.definition.port}${healthPath(this.definition)}`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
        port = true;
        response = res.ok ? "ok" : res.status === 503 ? "loading" : "error";
        await res.arrayBuffer();
      } catch {
        // not listening yet, or no answer within the timeout
      }
    }
    const healthy = response === "ok";
    this.#lastHealth = {
      status: healthy ? "healthy" : response === "loading" ? "loading" : process ? "unhealthy" : "stopped",
      checks: { process: process ? "running" : "stopped", port: port ? "open" : "closed", response },
      last_check: new Date().toISOString(),
      consecutive_failures: this.#failedChecks,
    };
    return healthy;
  }

  /**
   * The periodic check of a running server: after `unhealthyThreshold` failures in a row the
   * process group is stopped and the exit handled as a crash (restart policy, backoff, max_restarts).
   */
  async watch(): Promise<void> {
    if (this.status !== "running") return;
    const healthy = await this.checkHealth();
    if (this.status !== "running") return; // stopped while the probe ran
    this.#failedChecks = healthy ? 0 : this.#failedChecks + 1;
    this.#lastHealth.consecutive_failures = this.#failedChecks;
    const threshold = this.settings().unhealthyThreshold;
    if (healthy || threshold <= 0 || this.#failedChecks < threshold) return;
    const proc = this.#proc!;
    this.logs.push("stderr", `[gantry] ${this.definition.name} failed ${this.#failedChecks} health checks in a row: restarting it`);
    this.#failedChecks = 0;
    this.#killedUnhealthy = true;
    void proc.stop({ timeoutMs: this.settings().stopTimeoutS * 1000 });
  }

  /** `findings`: what gantry found itself when the server exited while starting (start-failure.ts). */
  #exited(proc: SpawnedProcess, code: number | null, findings: string): void {
    if (proc !== this.#proc) return;
    this.host().onPid(this.definition.name, null);
    const unhealthy = this.#killedUnhealthy;
    this.#killedUnhealthy = false;
    if (this.#stopping || this.status === "stopped" || this.status === "stopping") return;
    const exit = unhealthy ? `stopped answering its health checks (${this.settings().unhealthyThreshold} failed in a row)` : `exited with ${proc.subprocess.signalCode ?? `code ${code}`}`;
    this.logs.push("stderr", `[gantry] ${this.definition.name} ${exit}`);
    // Exiting while starting is the server refusing (a bad model file, a busy port): its own words say why.
    const reason = this.status === "starting" ? `${exit} while starting${findings}${this.#lastWords()}` : exit;
    const succeeded = code === 0 && !unhealthy;
    if (this.definition.restart === "never" || (this.definition.restart === "on-failure" && succeeded) || this.restarts >= this.settings().maxRestarts) {
      this.#fail(this.restarts > 0 ? `${reason}; gave up after ${this.restarts} restarts` : reason);
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 1.5 ** this.restarts);
    this.restarts++;
    this.lastError = reason;
    this.#set("starting");
    this.#cancelRestart = this.host().setTimeout(() => this.start().catch(() => undefined), delay);
  }

  /** `; its last lines: ...` quoting the server's last error lines (else its last lines), or nothing when it printed none. */
  #lastWords(): string {
    const own = this.logs.tail(50, (l) => !l.message.startsWith("[gantry]") && l.message.trim() !== "");
    const errors = own.filter((l) => l.level === "error");
    const quoted = (errors.length > 0 ? errors : own).slice(-LAST_WORDS).map((l) => l.message.trim());
    return quoted.length > 0 ? `; its last lines: ${quoted.join(" | ")}` : "";
  }

  #fail(reason: string): void {
    this.lastError = reason;
    this.#set("failed");
  }

  #set(status: InstanceStatus): void {
    const previous = this.status;
    this.status = status;
    if (previous !== status) this.host().onStatus(this.definition.name, status, previous);
  }
}

/** Whether something accepts connections on the loopback port (a refused or failed connect: nothing does). */
function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (answers: boolean) => {
      socket.destroy();
      resolve(answers);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** What a model server inherits: gantry's environment less gantry's own settings (its keys and secrets are not the server's). */
function serverEnvironment(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("GANTRY_")));
}
