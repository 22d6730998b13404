/** A key-value store per plugin, kept in the database (JSON values). */
import { and, eq, sql } from "drizzle-orm";
import { changesOf, type GantryDb } from "../storage/db.ts";
import { Errors } from "./errors.ts";
import { pluginKv } from "../storage/db-schema.ts";

const MAX_KEY_LENGTH = 512;
const MAX_VALUE_BYTES = 1_048_576;

export interface KvStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Keys (and values) whose key starts with `prefix`. */
  list(prefix?: string): Promise<{ key: string; value: unknown }[]>;
}

/** The store of one plugin: every key is scoped to the plugin's name. */
export function createKvStore(db: GantryDb, plugin: string): KvStore {
  const scope = (key: string) => and(eq(pluginKv.plugin, plugin), eq(pluginKv.key, key));
  return {
    async get(key) {
      const row = db.select({ value: pluginKv.value }).from(pluginKv).where(scope(key)).get();
      return row?.value as never;
    },
    async set(key, value) {
      if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw Errors.KV_KEY_INVALID([MAX_KEY_LENGTH]);
      const size = JSON.stringify(value)?.length ?? 0;
      if (value === undefined || size > MAX_VALUE_BYTES) throw Errors.KV_VALUE_TOO_LARGE([MAX_VALUE_BYTES]);
      const updatedAt = new Date();
      db.insert(pluginKv).values({ plugin, key, value, updatedAt })
        .onConflictDoUpdate({ target: [pluginKv.plugin, pluginKv.key], set: { value, updatedAt } }).run();
    },
    async delete(key) {
      return changesOf(db.delete(pluginKv).where(scope(key)).run()) > 0;
    },
    async list(prefix = "") {
      // substr, not LIKE: LIKE is case-insensitive and treats % and _ as wildcards.
      const startsWith = sql`substr(${pluginKv.key}, 1, ${prefix.length}) = ${prefix}`;
      return db.select({ key: pluginKv.key, value: pluginKv.value }).from(pluginKv)
        .where(and(eq(pluginKv.plugin, plugin), startsWith)).orderBy(pluginKv.key).all();
    },
  };
}
