/**
 * Live resources a plugin hands from one generation to the next (`ctx.keep`), counted by holder
 * the way metrics are: the first generation that asks creates the resource, a reloaded generation
 * asking for the same key gets the same object, and it is closed when its last holder goes — on
 * uninstall, disable or shutdown, or after a reload whose new generation did not ask for it.
 * Each resource has a scope of its own (timers, tracked promises, children) that lives as long as
 * it does, so work it started survives a reload and stops when it is closed.
 */
import { BackgroundWork } from "./background-work.ts";
import { Errors, messageOf } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { ChildProcess, ProcessRegistry, SpawnOptions, SpawnedProcess, AdoptOptions } from "./processes.ts";
import type { DisposeReason, KeepScope, PluginContext } from "./plugin-contract.ts";
import type { Owner } from "./owned-registry.ts";

/** One generation of a plugin, as far as the keep registry needs it. */
export interface KeepHolder extends Owner {
  readonly generation: number;
  /** That generation's context (kept resources reach the plugin through the newest holder's). */
  readonly context: PluginContext | undefined;
}

interface Kept {
  plugin: string;
  key: string;
  value: unknown;
  close: (value: never, reason: DisposeReason) => unknown;
  holders: Set<KeepHolder>;
  /** The holder that let go last: the resource's close (and what it triggers) still reaches the plugin through it. */
  last?: KeepHolder;
  scope: ResourceScope;
}

export interface KeptInfo {
  plugin: string;
  key: string;
  /** Generations holding it (two during a reload). */
  holders: number[];
  pending: { promises: number; timers: number; processes: number };
}

/** The owner of a kept resource's timers, promises and children: alive until the resource is closed. */
class ResourceScope implements Owner {
  readonly abort = new AbortController();
  readonly work: BackgroundWork;
  readonly #children = new Map<ChildProcess, () => Promise<void>>();
  #closed = false;

  constructor(readonly plugin: string, readonly key: string, private readonly entry: () => Kept | undefined, private readonly processes: ProcessRegistry, log: Logger) {
    this.work = new BackgroundWork((what) => this.#assertOpen(what), (error) => log.error({ plugin, keep: key, err: messageOf(error) }, "kept resource's background work failed"));
  }

  get active(): boolean {
    return !this.#closed;
  }
  get disposed(): boolean {
    return this.#closed;
  }
  get processCount(): number {
    return this.#children.size;
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw Errors.PLUGIN_CONTEXT_CLOSED([this.plugin, `keep '${this.key}': ${what}`]);
  }

  /** The newest generation still holding the resource (while it closes: the one that let go last). */
  #context(): PluginContext {
    const entry = this.entry();
    const holders = [...(entry?.holders ?? [])].filter((h) => !h.disposed && h.context);
    const newest = holders.sort((a, b) => b.generation - a.generation)[0] ?? entry?.last;
    if (!newest?.context) throw Errors.PLUGIN_CONTEXT_CLOSED([this.plugin, `keep '${this.key}': ctx`]);
    return newest.context;
  }

  handle(): KeepScope {
    const scope = this;
    return {
      signal: this.abort.signal,
      get ctx() {
        return scope.#context();
      },
      track: (promise) => this.work.track(promise),
      setTimeout: (fn, ms) => this.work.setTimeout(fn, ms),
      setInterval: (fn, ms) => this.work.setInterval(fn, ms),
      spawn: (command: string[], options?: SpawnOptions): SpawnedProcess => {
        this.#assertOpen("spawn");
        return this.#own(this.processes.spawn(this, command, options));
      },
      adopt: (pid: number, options: AdoptOptions): ChildProcess => {
        this.#assertOpen("adopt");
        return this.#own(this.processes.adopt(this, pid, options));
      },
    };
  }

  #own<C extends ChildProcess>([child, stop]: [C, () => Promise<void>]): C {
    this.#children.set(child, stop);
    void child.exited.then(() => this.#children.delete(child), () => this.#children.delete(child));
    return child;
  }

  /** Aborts the signal, clears timers, waits for tracked work, stops children. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    this.abort.abort(new Error(`kept resource '${this.key}' of plugin ${this.plugin} closed`));
    await this.work.settle(timeoutMs);
    await Promise.all([...this.#children.values()].map((stop) => stop()));
    this.#children.clear();
  }
}

export class KeepRegistry {
  readonly #kept = new Map<string, Kept>();

  constructor(private readonly processes: ProcessRegistry, private readonly log: Logger, private readonly closeTimeoutMs: () => number) {}

  /**
   * Returns the resource `key` of `holder`'s plugin, creating it when no generation holds it, and
   * the function that lets go of it (closing it when no holder is left).
   */
  acquire<T>(holder: KeepHolder, key: string, create: (scope: KeepScope) => T, close: (value: Awaited<T>, reason: DisposeReason) => unknown): [T, (reason: DisposeReason) => Promise<void>] {
    const id = `${holder.plugin}\u0000${key}`;
    let entry = this.#kept.get(id);
    if (!entry) {
      let created: Kept | undefined = undefined;
      const scope: ResourceScope = new ResourceScope(holder.plugin, key, () => created, this.processes, this.log);
      const fresh: Kept = { plugin: holder.plugin, key, value: undefined, close: close as Kept["close"], holders: new Set([holder]), scope };
      created = fresh; // before create(): its scope reaches the plugin through the holder
      this.#kept.set(id, fresh);
      try {
        fresh.value = create(scope.handle());
      } catch (error) {
        this.#kept.delete(id);
        void scope.close(0);
        throw error;
      }
      entry = fresh;
    } else {
      entry.holders.add(holder);
    }
    const kept = entry;
    const release = async (reason: DisposeReason) => {
      if (!kept.holders.delete(holder) || kept.holders.size > 0) return;
      kept.last = holder;
      this.#kept.delete(id);
      try {
        await kept.close((await kept.value) as never, reason);
      } finally {
        await kept.scope.close(this.closeTimeoutMs());
      }
    };
    return [kept.value as T, release];
  }

  /** Every kept resource (of one plugin when given): its holders and what its scope still runs. */
  list(plugin?: string): KeptInfo[] {
    return [...this.#kept.values()]
      .filter((k) => plugin === undefined || k.plugin === plugin)
      .map((k) => ({
        plugin: k.plugin, key: k.key, holders: [...k.holders].map((h) => h.generation).sort((a, b) => a - b),
        pending: { ...k.scope.work.pending, processes: k.scope.processCount },
      }));
  }
}
