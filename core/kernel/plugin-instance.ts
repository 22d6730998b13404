/** One loaded generation of a plugin: its registrations, its background work, its disposer stack. */
import { BackgroundWork } from "./background-work.ts";
import { DisposerStack, type DisposeReport } from "./disposer-stack.ts";
import { Errors, messageOf } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { LoadedManifest } from "./manifest.ts";
import type { Owner } from "./owned-registry.ts";
import type { PeriodicTask } from "./periodic-tasks.ts";
import type { DisposeReason, Disposer, PluginContext, RouteRegistrar } from "./plugin-contract.ts";
import type { UnsupportedPart } from "./claude-plugin.ts";

/** A thing a plugin registered, as listed in its install drops. */
export interface InstallDrop {
  kind: "route" | "command" | "agent" | "skill" | "hook" | "mcp_server" | "task" | "flag" | "service" | "subscription" | "metric" | "logger" | "migration" | "cache" | "process" | "keep";
  name: string;
}

/**
 * staging: setting up beside the serving generation; active: serving; retiring: swapped out or
 * being removed, takes no new registrations or work; disposing: its disposers run; disposed: gone,
 * every ctx call is refused.
 */
export type InstanceState = "staging" | "active" | "retiring" | "disposing" | "disposed";

/** A ctx call a disposed generation made: the trace of a timer or promise the kernel did not own. */
export interface LateCall {
  plugin: string;
  generation: number;
  call: string;
  count: number;
  last_at: string;
}

export class PluginInstance implements Owner {
  state: InstanceState = "staging";
  readonly disposer = new DisposerStack();
  readonly abort = new AbortController();
  readonly drops: InstallDrop[] = [];
  readonly routeRegistrars: { register: RouteRegistrar; prefix: string }[] = [];
  readonly tasks: PeriodicTask[] = [];
  readonly loadedAt = new Date();
  /** Parts of the plugin folder gantry cannot honour (Claude Code format), with the reasons. */
  unsupported: UnsupportedPart[] = [];
  readonly work: BackgroundWork;
  /** Calls refused after disposal, by call name. */
  readonly lateCalls = new Map<string, LateCall>();
  context: PluginContext | undefined;
  disposeReason: DisposeReason | undefined;

  constructor(readonly manifest: LoadedManifest, readonly generation: number, private readonly log?: Logger) {
    this.work = new BackgroundWork((what) => this.assertWorking(what), (error) => log?.error({ plugin: this.plugin, err: messageOf(error) }, "plugin background work failed"));
  }

  get plugin(): string {
    return this.manifest.name;
  }
  get active(): boolean {
    return this.state === "active";
  }
  get disposed(): boolean {
    return this.state === "disposing" || this.state === "disposed";
  }

  /** Throws PLUGIN_CONTEXT_CLOSED when this generation takes no new registrations (from retiring on). */
  assertOpen(what: string): void {
    if (this.state === "staging" || this.state === "active") return;
    this.refuse(what);
  }

  /**
   * Background work started while retiring (a request the old routing table still serves) is
   * still owned: disposal clears, stops and awaits it. Once disposal runs, timers and children
   * would outlive it and are refused; a promise may still be tracked until the generation is gone.
   */
  assertWorking(what: string): void {
    if (this.state === "disposed" || (this.state === "disposing" && what !== "track")) this.refuse(what);
  }

  /** Refuses `what` (recording it when the generation is already gone: something it started outlived it). */
  refuse(what: string): never {
    if (this.state === "disposed") {
      const seen = this.lateCalls.get(what);
      const at = new Date().toISOString();
      if (seen) {
        seen.count++;
        seen.last_at = at;
      } else {
        this.lateCalls.set(what, { plugin: this.plugin, generation: this.generation, call: what, count: 1, last_at: at });
        this.log?.warn({ plugin: this.plugin, generation: this.generation, call: what }, "a disposed plugin generation called its context: a timer, promise or callback outlived it (use ctx.setTimeout/setInterval/track/keep)");
      }
    }
    throw Errors.PLUGIN_CONTEXT_CLOSED([this.plugin, what]);
  }

  /** Makes this instance the one that serves, and starts its periodic tasks. */
  activate(): void {
    this.state = "active";
    for (const task of this.tasks) task.start();
  }

  /** Adds an install drop and, when given, the function that undoes it on dispose. */
  record(kind: InstallDrop["kind"], name: string, undo?: Disposer): void {
    this.drops.push({ kind, name });
    if (undo) this.disposer.defer(undo, `${kind}:${name}`);
  }

  /**
   * Aborts the signal, clears this generation's timers and waits for its tracked promises, then
   * runs the disposer stack (tasks, registrations, kept resources, the plugin's cleanup) with `reason`.
   */
  async dispose(timeoutMs: number, reason: DisposeReason): Promise<DisposeReport> {
    this.state = "disposing";
    this.disposeReason = reason;
    this.abort.abort(Errors.PLUGIN_DISPOSED([this.plugin, reason]));
    const settled = await this.work.settle(timeoutMs);
    const report = await this.disposer.disposeAsync(timeoutMs, reason);
    if (!settled) report.timedOut.unshift("tracked work");
    this.state = "disposed";
    return report;
  }
}
