/** Child processes that plugins start through `ctx.spawn`: listed for operators, killed with their plugin. */
import type { Subprocess } from "bun";
import type { Owner } from "./owned-registry.ts";
import { OwnedRegistry } from "./owned-registry.ts";

export interface ProcessInfo {
  pid: number;
  name: string;
  plugin: string;
  command: string[];
  started_at: string;
}

export interface SpawnOptions {
  /** A label for listings (default: the executable's name). */
  name?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin?: "ignore" | "pipe";
  stdout?: "ignore" | "pipe" | "inherit";
  stderr?: "ignore" | "pipe" | "inherit";
  /** Start the child in a process group of its own so that a kill reaches its children too. */
  detached?: boolean;
  /** Grace period between SIGTERM and SIGKILL when the plugin is disposed. */
  killTimeoutMs?: number;
}

export class ProcessRegistry {
  readonly #processes = new OwnedRegistry<{ info: ProcessInfo; proc: Subprocess }>("Process");

  /** Spawns `command` for `owner`; returns the process and the function that stops it. */
  spawn(owner: Owner, command: string[], options: SpawnOptions = {}): [Subprocess, () => Promise<void>] {
    const proc = Bun.spawn(command, {
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin ?? "ignore",
      stdout: options.stdout ?? "pipe",
      stderr: options.stderr ?? "pipe",
      detached: options.detached ?? false,
    });
    const info: ProcessInfo = {
      pid: proc.pid,
      name: options.name ?? command[0]!.split("/").at(-1)!,
      plugin: owner.plugin,
      command,
      started_at: new Date().toISOString(),
    };
    const remove = this.#processes.add(`${owner.plugin}:${proc.pid}`, owner, { info, proc });
    void proc.exited.then(remove);
    const stop = async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          if (options.detached) process.kill(-proc.pid, signal);
          else proc.kill(signal);
        } catch {
          // already gone
        }
      };
      signalGroup("SIGTERM");
      const timeout = Bun.sleep(options.killTimeoutMs ?? 2000).then(() => "timeout" as const);
      if ((await Promise.race([proc.exited, timeout])) === "timeout") {
        signalGroup("SIGKILL");
        await proc.exited;
      }
    };
    return [proc, stop];
  }

  list(): ProcessInfo[] {
    return this.#processes.entries().map((e) => e.value.info);
  }
}
