/** Last-in-first-out cleanup, named after TC39's AsyncDisposableStack. */

import { Errors } from "./errors.ts";
import type { DisposeReason, Disposer } from "./plugin-contract.ts";

export interface DisposeReport {
  errors: { label: string; error: unknown }[];
  timedOut: string[];
}

/** Collects cleanup callbacks; `disposeAsync` runs them all in reverse, even when some throw or hang. */
export class DisposerStack {
  readonly #stack: { label: string; fn: Disposer }[] = [];
  #disposed = false;

  get disposed(): boolean {
    return this.#disposed;
  }

  get size(): number {
    return this.#stack.length;
  }

  /** Adds a cleanup callback. */
  defer(fn: Disposer, label = "defer"): void {
    if (this.#disposed) throw Errors.DISPOSER_STACK_DISPOSED([label]);
    this.#stack.push({ label, fn });
  }

  /** Adds an object with `Symbol.asyncDispose`, `Symbol.dispose`, `close()` or `dispose()`, and returns it. */
  use<T extends object>(resource: T, label = "use"): T {
    const r = resource as Record<PropertyKey, unknown>;
    const method = [Symbol.asyncDispose, Symbol.dispose, "close", "dispose"].find((k) => typeof r[k] === "function");
    if (!method) throw new TypeError(`${label}: resource has no dispose or close method`);
    this.defer(() => (r[method] as () => unknown).call(resource), label);
    return resource;
  }

  /** Runs every callback last-in-first-out with `reason`; each gets at most `timeoutMs`. Never throws. */
  async disposeAsync(timeoutMs = 5_000, reason: DisposeReason = "shutdown"): Promise<DisposeReport> {
    this.#disposed = true;
    const report: DisposeReport = { errors: [], timedOut: [] };
    while (this.#stack.length > 0) {
      const { label, fn } = this.#stack.pop()!;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      try {
        const outcome = await Promise.race([Promise.resolve().then(() => fn(reason)), timeout]);
        if (outcome === "timeout") report.timedOut.push(label);
      } catch (error) {
        report.errors.push({ label, error });
      } finally {
        clearTimeout(timer);
      }
    }
    return report;
  }
}
