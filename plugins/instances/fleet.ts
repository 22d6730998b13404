/**
 * What the instances plugin keeps across its reloads: one supervisor per instance, with its model
 * server, log buffer, restart timer and health state. A reload must never touch a model server
 * (loading weights onto a GPU takes minutes), so the supervisors live in a kept resource whose
 * children and timers belong to the kernel, and each plugin generation attaches the callbacks it
 * serves with (settings, events, the database) while it is the newest one. Each supervisor carries
 * its request queue, so queued requests and placement state survive a reload as well.
 */
import type { DisposeReason, KeepScope } from "gantry/plugin";
import { KeyLimits } from "./key-limits.ts";
import { Placement } from "./placement.ts";
import type { InstanceSupervisor, SupervisorHost } from "./supervisor.ts";

export class Fleet {
  readonly supervisors = new Map<string, InstanceSupervisor>();
  /** Placement (its start serialization) and per-key request windows outlive reloads too: a reload must not let two starts claim one GPU. */
  readonly placement = new Placement(this.supervisors);
  readonly keyLimits = new KeyLimits();
  readonly #hosts = new Map<number, SupervisorHost>();
  #coldStart = true;
  /** True once the plugin goes away, for any reason: nothing new may start. */
  closing = false;
  /** True while gantry shuts down: those stops are not the operator's, so desired states stay and the next start restores them. */
  shuttingDown = false;

  constructor(readonly scope: KeepScope) {}

  /** True once: for the generation that created the fleet (gantry start, install, enable), not after a reload. */
  takeColdStart(): boolean {
    const cold = this.#coldStart;
    this.#coldStart = false;
    return cold;
  }

  /** Makes `host` the one supervisors call while `generation` is the newest attached. */
  attach(generation: number, host: SupervisorHost): void {
    this.#hosts.set(generation, host);
  }

  detach(generation: number): void {
    this.#hosts.delete(generation);
  }

  /** The newest generation's host: a reload that failed detaches and the serving one answers again. */
  host(): SupervisorHost {
    const newest = Math.max(...this.#hosts.keys());
    const host = this.#hosts.get(newest);
    if (!host) throw new Error("no instances plugin generation is attached to the fleet");
    return host;
  }

  /**
   * The plugin goes away: stop every server, close the log files. A shutdown keeps what was asked to
   * run (restored at the next start); a disable or uninstall is the operator stopping everything.
   */
  async close(reason: DisposeReason): Promise<void> {
    this.closing = true;
    this.shuttingDown = reason === "shutdown";
    await Promise.all([...this.supervisors.values()].map((s) => s.stop()));
    for (const supervisor of this.supervisors.values()) supervisor.logs.close();
    this.supervisors.clear();
  }
}
