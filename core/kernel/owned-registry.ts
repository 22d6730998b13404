/** A keyed registry whose entries belong to plugin instances; lookups see only active owners. */
import { Errors } from "./errors.ts";

/** What a registry needs to know about the plugin instance that registered an entry. */
export interface Owner {
  readonly plugin: string;
  /** True while this instance serves (false while staged for a reload, and after disposal). */
  readonly active: boolean;
  readonly disposed: boolean;
}

export interface OwnedEntry<T> {
  key: string;
  owner: Owner;
  value: T;
}

/**
 * During a reload the new instance registers the same keys beside the old one, so a key may
 * hold several entries of one plugin; entries of two different plugins under one key conflict.
 */
export class OwnedRegistry<T> {
  readonly #entries = new Map<string, OwnedEntry<T>[]>();

  constructor(readonly kind: string) {}

  /** Registers `value` under `key`; returns the function that removes it. */
  add(key: string, owner: Owner, value: T): () => void {
    const list = this.#entries.get(key) ?? [];
    const clash = list.find((e) => !e.owner.disposed && (e.owner.plugin !== owner.plugin || e.owner === owner));
    if (clash) throw Errors.PLUGIN_REGISTRATION_CONFLICT([this.kind, key, clash.owner.plugin]);
    const entry = { key, owner, value };
    list.push(entry);
    this.#entries.set(key, list);
    return () => this.#remove(entry);
  }

  /** The active entry's value for `key`. */
  get(key: string): T | undefined {
    return this.#entries.get(key)?.find((e) => e.owner.active)?.value;
  }

  /** The active entry for `key`, with its owner. */
  entry(key: string): OwnedEntry<T> | undefined {
    return this.#entries.get(key)?.find((e) => e.owner.active);
  }

  /** Every active entry, sorted by key. */
  entries(): OwnedEntry<T>[] {
    const out: OwnedEntry<T>[] = [];
    for (const list of this.#entries.values()) {
      const active = list.find((e) => e.owner.active);
      if (active) out.push(active);
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Number of keys with any entry, active or not (tests use it to prove nothing is left). */
  get size(): number {
    return this.#entries.size;
  }

  #remove(entry: OwnedEntry<T>): void {
    const list = this.#entries.get(entry.key);
    if (!list) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length > 0) this.#entries.set(entry.key, rest);
    else this.#entries.delete(entry.key);
  }
}
