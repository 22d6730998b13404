/**
 * The database as a plugin sees it (`ctx.db`): every table but the ones that hold credentials and
 * core's secrets. A plugin can declare a table object with any name, so the check is on what each
 * query touches — tables, columns and SQL fragments passed to the query builders, raw SQL text —
 * and the driver underneath (`$client`, `session`) is not reachable. It guards against a plugin
 * reading secrets by mistake or by a careless query; code running in gantry's process could still
 * open the database file itself, so a plugin from an untrusted source is not contained by it.
 */
import { Column, getTableName, is, SQL, Table } from "drizzle-orm";
import { createError, defineErrors } from "../kernel/errors.ts";

/** Core tables a plugin never sees: credentials, sessions, identities, core's generated secrets, other plugins' key-value data. */
export const HIDDEN_TABLES: ReadonlySet<string> = new Set(["api_keys", "refresh_tokens", "users", "oidc_identities", "revoked_sessions", "core_settings", "plugin_kv"]);

const DbErrors = defineErrors("core", {
  PLUGIN_DB_TABLE_HIDDEN: createError("PLUGIN_DB_TABLE_HIDDEN", 403, (plugin: string, table: string) =>
    `Plugin '${plugin}' cannot reach '${table}' through ctx.db: credentials and core's secrets stay with core (use ctx.kv for key-value data, ctx.services for core data)`),
});

const DRIVER = new Set<PropertyKey>(["$client", "session", "_"]);
const HIDDEN_IN_TEXT = new RegExp(`\\b(${[...HIDDEN_TABLES].join("|")})\\b`, "i");

/** Wraps `db` (and every query builder and transaction it hands out) so hidden tables are refused for `plugin`. */
export function scopeDatabase<T extends object>(db: T, plugin: string): T {
  const refuse = (table: string): never => {
    throw DbErrors.PLUGIN_DB_TABLE_HIDDEN([plugin, table]);
  };
  const check = (value: unknown, depth = 0): void => {
    if (value === null || typeof value !== "object" || depth > 6) return;
    if (is(value, Table)) {
      if (HIDDEN_TABLES.has(getTableName(value))) refuse(getTableName(value));
      return;
    }
    if (is(value, Column)) return check(value.table, depth + 1);
    if (is(value, SQL)) return value.queryChunks.forEach((chunk) => check(chunk, depth + 1));
    if (Array.isArray(value)) return value.forEach((item) => check(item, depth + 1));
    const text = (value as { value?: unknown }).value; // a raw SQL text chunk
    if (Array.isArray(text) && text.every((part) => typeof part === "string")) {
      const hit = text.join("").match(HIDDEN_IN_TEXT);
      if (hit) refuse(hit[1]!.toLowerCase());
      return;
    }
    if (Object.getPrototypeOf(value) === Object.prototype) for (const item of Object.values(value)) check(item, depth + 1);
  };
  const wrap = <O extends object>(target: O): O =>
    new Proxy(target, {
      get(object, property) {
        if (DRIVER.has(property)) refuse(`the database driver (${String(property)})`);
        const value = Reflect.get(object, property, object);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (property === "transaction") args = args.map((a) => (typeof a === "function" ? (tx: object, ...rest: unknown[]) => a(wrap(tx), ...rest) : a));
          else for (const arg of args) check(arg);
          const result = value.apply(object, args);
          return isBuilder(result) ? wrap(result) : result;
        };
      },
    });
  return wrap(db);
}

/** Query builders and sessions are class instances (not rows, arrays or promises); rows come back as plain objects. */
function isBuilder(value: unknown): value is object {
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Promise) return false;
  const proto = Object.getPrototypeOf(value);
  return proto !== Object.prototype && proto !== null;
}
