/**
 * Child processes that belong to plugins: started through `ctx.spawn`, or started by a library and
 * handed over with `ctx.adopt` the moment they exist. Each is listed for operators and runs in a
 * process group of its own, so stopping it (SIGTERM, then SIGKILL) reaches its children too.
 */
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { runtime, type Subprocess } from "../runtime/index.ts";
import type { Owner } from "./owned-registry.ts";
import { OwnedRegistry } from "./owned-registry.ts";

export interface ProcessInfo {
  pid: number;
  name: string;
  plugin: string;
  command: string[];
  started_at: string;
  /** "spawned" through ctx.spawn, or "adopted" from a library that started it. */
  origin: "spawned" | "adopted";
}

export interface SpawnOptions {
  /** A label for listings (default: the executable's name). */
  name?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin?: "ignore" | "pipe";
  stdout?: "ignore" | "pipe" | "inherit";
  stderr?: "ignore" | "pipe" | "inherit";
  /** Grace period between SIGTERM and SIGKILL when the child is stopped (default 2 s). */
  killTimeoutMs?: number;
}

export interface AdoptOptions {
  name: string;
  command?: string[];
  /** Resolves when the child exits (a library's own exit event); without it the listing polls the pid. */
  exited?: Promise<unknown>;
  killTimeoutMs?: number;
}

/** A child the kernel knows about: listed while it runs, stopped with its owner. */
export interface ChildProcess {
  readonly pid: number;
  readonly name: string;
  /** True until the process exited. */
  readonly running: boolean;
  /** Resolves once the process exited. */
  readonly exited: Promise<unknown>;
  /** Sends `signal` to the child's process group (the child and everything it started). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM to the group, SIGKILL after `timeoutMs` (at once with `force`); resolves once it exited. */
  stop(options?: { force?: boolean; timeoutMs?: number }): Promise<void>;
}

/** A child started through ctx.spawn: the runtime's subprocess (pipes, exit code) and its stop handle. */
export interface SpawnedProcess extends ChildProcess {
  readonly subprocess: Subprocess;
  readonly exited: Promise<number>;
}

export class ProcessRegistry {
  readonly #processes = new OwnedRegistry<{ info: ProcessInfo; child: ChildProcess }>("Process");

  /** Spawns `command` for `owner` in a process group of its own; returns the child and the function that stops it. */
  spawn(owner: Owner, command: string[], options: SpawnOptions = {}): [SpawnedProcess, () => Promise<void>] {
    const subprocess = runtime.spawn(command, {
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin ?? "ignore",
      stdout: options.stdout ?? "pipe",
      stderr: options.stderr ?? "pipe",
      detached: true,
    });
    const name = options.name ?? command[0]!.split("/").at(-1)!;
    const running = () => subprocess.exitCode === null && subprocess.signalCode === null;
    const child: SpawnedProcess = {
      pid: subprocess.pid, name, subprocess, exited: subprocess.exited,
      get running() {
        return running();
      },
      kill: (signal = "SIGTERM") => signalGroup(subprocess.pid, signal, () => subprocess.kill(signal)),
      stop: (stopOptions) => stopChild(child, running, stopOptions?.force ? 0 : (stopOptions?.timeoutMs ?? options.killTimeoutMs ?? 2000)),
    };
    return [child, this.#register(owner, child, command, "spawned")];
  }

  /** Registers a child a library started (MCP stdio servers, Chromium); returns its handle and the function that stops it. */
  adopt(owner: Owner, pid: number, options: AdoptOptions): [ChildProcess, () => Promise<void>] {
    let alive = true;
    const exited = (options.exited ?? pollExit(pid)).then(() => void (alive = false));
    const running = () => alive && isAlive(pid);
    const child: ChildProcess = {
      pid, name: options.name, exited,
      get running() {
        return running();
      },
      kill: (signal = "SIGTERM") => signalGroup(pid, signal),
      stop: (stopOptions) => stopChild(child, running, stopOptions?.force ? 0 : (stopOptions?.timeoutMs ?? options.killTimeoutMs ?? 2000)),
    };
    return [child, this.#register(owner, child, options.command ?? commandOf(pid), "adopted")];
  }

  #register(owner: Owner, child: ChildProcess, command: string[], origin: ProcessInfo["origin"]): () => Promise<void> {
    const info: ProcessInfo = { pid: child.pid, name: child.name, plugin: owner.plugin, command, started_at: new Date().toISOString(), origin };
    const remove = this.#processes.add(`${owner.plugin}:${child.pid}`, owner, { info, child });
    void child.exited.then(remove, remove);
    return async () => {
      await child.stop();
      remove();
    };
  }

  list(): ProcessInfo[] {
    return this.#processes.entries().map((e) => e.value.info);
  }

  /**
   * Children of this gantry process that no plugin registered (a runtime spawn or `child_process`
   * call that bypassed ctx.spawn): the kernel cannot stop them with their plugin, so it names them.
   * Linux only (reads /proc); elsewhere the list is empty.
   */
  unowned(): { pid: number; command: string[] }[] {
    const known = new Set(this.#processes.entries().map((e) => e.value.info.pid));
    const out: { pid: number; command: string[] }[] = [];
    let entries: string[];
    try {
      entries = readdirSync("/proc");
    } catch {
      return out;
    }
    for (const entry of entries) {
      const pid = Number(entry);
      if (!Number.isInteger(pid) || known.has(pid)) continue;
      const stat = readProc(`/proc/${pid}/stat`);
      if (!stat) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== process.pid || fields[0] === "Z") continue;
      out.push({ pid, command: commandOf(pid) });
    }
    return out;
  }
}

async function stopChild(child: ChildProcess, running: () => boolean, graceMs: number): Promise<void> {
  if (running()) {
    child.kill(graceMs === 0 ? "SIGKILL" : "SIGTERM");
    const timeout = sleep(graceMs).then(() => "timeout" as const);
    if (graceMs > 0 && (await Promise.race([child.exited, timeout])) === "timeout") child.kill("SIGKILL");
    await child.exited;
  }
  // What the child left in its group (Chromium's helpers, a server's workers) goes with it.
  try {
    process.kill(-child.pid, "SIGKILL"); // the group only: a reused pid outside it is never signalled
  } catch {
    // the group is empty
  }
}

/**
 * Signals the process group led by `pid`, or the process alone when it leads none. `viaHandle`
 * signals the child through its own handle when `process.kill` is refused (Deno's sandbox allows
 * it only with an unscoped --allow-run): the child then gets the signal, its group does not.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals, viaHandle?: () => void): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as { code?: string }).code !== "ESRCH") viaHandle?.(); // not "already gone"
    }
  }
}

function isAlive(pid: number): boolean {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat !== undefined) return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function pollExit(pid: number): Promise<void> {
  while (isAlive(pid)) await sleep(250);
}

function commandOf(pid: number): string[] {
  return (readProc(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean);
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
