/** Feature flags: declared by plugins with a type and default, set by operators, persisted in the DB. */
import { eq } from "drizzle-orm";
import type { GantryDb } from "../storage/db.ts";
import { Errors } from "./errors.ts";
import type { EventBus } from "./events.ts";
import { OwnedRegistry, type Owner } from "./owned-registry.ts";
import { coreTables } from "../storage/tables.ts";

export type FlagType = "boolean" | "number" | "string" | "json";
type FlagValueOf<K extends FlagType> = K extends "boolean" ? boolean : K extends "number" ? number : K extends "string" ? string : unknown;

export interface FlagDefinition<K extends FlagType = FlagType> {
  type?: K;
  default: FlagValueOf<K>;
  description?: string;
}

/** What `ctx.flag` returns: reads the current value on every call, so changes apply without restart. */
export interface FlagHandle<V> {
  readonly name: string;
  get(): V;
}

export interface FlagView {
  name: string;
  type: FlagType;
  value: unknown;
  default: unknown;
  description: string;
  plugin: string;
  overridden: boolean;
  updated_at: string | null;
}

interface DeclaredFlag {
  type: FlagType;
  default: unknown;
  description: string;
}

export class FlagRegistry {
  readonly #declared = new OwnedRegistry<DeclaredFlag>("Feature flag");
  readonly #values = new Map<string, { value: unknown; updatedAt: Date }>();

  readonly #table: ReturnType<typeof coreTables>["featureFlags"];

  /** Call `reload()` before use: it reads the stored values. */
  constructor(private readonly db: GantryDb, private readonly events: EventBus) {
    this.#table = coreTables(db).featureFlags;
  }

  /** Re-reads stored values from the database (they are cached in memory for the hot path). */
  async reload(): Promise<void> {
    const rows = await this.db.select().from(this.#table);
    this.#values.clear();
    for (const row of rows) this.#values.set(row.name, { value: row.value, updatedAt: row.updatedAt });
  }

  /** Declares a flag for a plugin instance; returns its handle and the function that removes the declaration. */
  declare<K extends FlagType>(owner: Owner, name: string, def: FlagDefinition<K>): [FlagHandle<FlagValueOf<K>>, () => void] {
    const type: FlagType = def.type ?? inferType(def.default);
    if (!valueMatches(type, def.default)) throw new TypeError(`Flag '${name}': default does not match type ${type}`);
    const remove = this.#declared.add(name, owner, { type, default: def.default, description: def.description ?? "" });
    const handle = { name, get: () => this.#current(name, type, def.default) as FlagValueOf<K> };
    return [handle, remove];
  }

  list(): FlagView[] {
    return this.#declared.entries().map((e) => this.#view(e.key)!);
  }

  get(name: string): FlagView {
    const view = this.#view(name);
    if (!view) throw Errors.FLAG_NOT_FOUND([name]);
    return view;
  }

  /** Sets a value after checking it against the declared type; publishes `feature_flag_changed`. */
  async set(name: string, value: unknown, by: string | null = null): Promise<FlagView> {
    const declared = this.#declared.get(name);
    if (!declared) throw Errors.FLAG_NOT_FOUND([name]);
    if (!valueMatches(declared.type, value)) throw Errors.FLAG_VALUE_INVALID([name, declared.type], { details: { received: typeof value } });
    const previous = this.#current(name, declared.type, declared.default);
    const updatedAt = new Date();
    await this.db.insert(this.#table).values({ name, value, updatedAt, updatedBy: by })
      .onConflictDoUpdate({ target: this.#table.name, set: { value, updatedAt, updatedBy: by } });
    this.#values.set(name, { value, updatedAt });
    this.events.publish("feature_flag_changed", { name, previous, value, by });
    return this.get(name);
  }

  /** Forgets the operator's value so the declared default applies again. */
  async reset(name: string, by: string | null = null): Promise<FlagView> {
    const declared = this.#declared.get(name);
    if (!declared) throw Errors.FLAG_NOT_FOUND([name]);
    const previous = this.#current(name, declared.type, declared.default);
    await this.db.delete(this.#table).where(eq(this.#table.name, name));
    this.#values.delete(name);
    this.events.publish("feature_flag_changed", { name, previous, value: declared.default, by, reset: true });
    return this.get(name);
  }

  #current(name: string, type: FlagType, fallback: unknown): unknown {
    const stored = this.#values.get(name);
    // A stored value of another type (the flag was redeclared) falls back to the default.
    return stored && valueMatches(type, stored.value) ? stored.value : fallback;
  }

  #view(name: string): FlagView | undefined {
    const entry = this.#declared.entry(name);
    if (!entry) return undefined;
    const stored = this.#values.get(name);
    const { type, description } = entry.value;
    return {
      name, type, description, plugin: entry.owner.plugin,
      value: this.#current(name, type, entry.value.default),
      default: entry.value.default,
      overridden: stored !== undefined && valueMatches(type, stored.value),
      updated_at: stored ? stored.updatedAt.toISOString() : null,
    };
  }
}

function inferType(value: unknown): FlagType {
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return "number";
  if (typeof value === "string") return "string";
  return "json";
}

function valueMatches(type: FlagType, value: unknown): boolean {
  if (type === "json") return value !== undefined;
  if (type === "number") return typeof value === "number" && Number.isFinite(value);
  return typeof value === type;
}
