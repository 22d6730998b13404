/**
 * Brings the instances in step with gantry.toml's `[models.<name>]` tables: a declared model with no
 * instance is created; a stopped one that differs is updated; a running one that differs is only
 * flagged (`config_differs`) and updated when it next stops; one whose table is gone is removed
 * once stopped. Instances created through the API are left alone unless a table names them, in
 * which case the file takes them over.
 */
import type { PluginContext } from "gantry/plugin";
import { differingFields, readDeclarations, type NormalizedDeclaration } from "./declared-models.ts";
import type { InstanceManager } from "./instance-manager.ts";

export interface ReconcileResult {
  created: string[];
  updated: string[];
  removed: string[];
  unchanged: string[];
  /** Running instances and the declared fields they lack (`removed`: the table is gone). */
  differs: Record<string, string[]>;
  /** Tables that could not be applied, and why; their instances are left as they are. */
  invalid: Record<string, string[]>;
}

const BUSY = ["running", "starting", "stopping"];

export class ModelReconciler {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly manager: InstanceManager,
    private readonly read: () => { section: unknown; modelsDir: string },
    private readonly log: PluginContext["log"],
    private readonly emit: (result: ReconcileResult) => void,
  ) {
    // A flagged instance that stops gets its declaration then.
    manager.onSettled((name) => {
      if (manager.hasDrift(name)) void this.reconcile().catch((error) => log.warn({ err: (error as Error).message }, "declared models not reconciled"));
    });
  }

  /** One pass at a time, in order: a config reload during a pass waits for it. */
  reconcile(): Promise<ReconcileResult> {
    const pass = this.#queue.then(() => this.#pass());
    this.#queue = pass.catch(() => undefined);
    return pass;
  }

  async #pass(): Promise<ReconcileResult> {
    const { section, modelsDir } = this.read();
    const { models, invalid } = readDeclarations(section, modelsDir);
    const result: ReconcileResult = { created: [], updated: [], removed: [], unchanged: [], differs: {}, invalid: Object.fromEntries(invalid.map((i) => [i.name, i.problems])) };
    for (const [name, declaration] of models) {
      try {
        await this.#apply(name, declaration, result);
      } catch (error) {
        result.invalid[name] = [(error as Error).message];
      }
    }
    for (const { name, origin } of this.manager.list()) {
      if (origin !== "declared" || models.has(name) || name in result.invalid) continue;
      if (BUSY.includes(this.manager.declaredState(name)!.status)) {
        this.manager.setDrift(name, ["removed"]);
        result.differs[name] = ["removed"];
      } else {
        await this.manager.delete(name, { origin: "declared" });
        result.removed.push(name);
      }
    }
    this.#report(result);
    return result;
  }

  async #apply(name: string, declaration: NormalizedDeclaration, result: ReconcileResult): Promise<void> {
    const state = this.manager.declaredState(name);
    const by = { origin: "declared" as const, declaration: declaration.stored };
    if (!state) {
      await this.manager.create(declaration.input, by);
      result.created.push(name);
      return;
    }
    const differs = differingFields(declaration, state.origin === "declared" ? state.declaration : null, state.env);
    if (differs.length === 0) {
      this.manager.setDrift(name, []);
      result.unchanged.push(name);
    } else if (BUSY.includes(state.status)) {
      this.manager.setDrift(name, differs);
      result.differs[name] = differs;
    } else {
      const { name: _name, ...fields } = declaration.input;
      await this.manager.update(name, { ...fields, command: fields.command ?? null }, by);
      result.updated.push(name);
    }
  }

  #report(result: ReconcileResult): void {
    const changed = result.created.length + result.updated.length + result.removed.length + Object.keys(result.differs).length > 0;
    if (Object.keys(result.invalid).length > 0) this.log.warn({ invalid: result.invalid }, "declared models not applied: fix their [models.<name>] tables in gantry.toml");
    if (changed) this.log.info({ created: result.created, updated: result.updated, removed: result.removed, differs: result.differs }, "declared models reconciled");
    if (changed || Object.keys(result.invalid).length > 0) this.emit(result);
  }
}
