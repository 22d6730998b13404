/**
 * One error catalogue for gantry: every failure a client can see has a stable code, one meaning and
 * an HTTP status. Each owner (core, or a plugin) declares its codes in a table with `defineErrors`;
 * the catalogue refuses a code another owner already declared, so no code means two things.
 */

export interface GantryErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** The response body instead of `{error, code, details}`, for paths whose documented API fixes another error shape. */
  body?: Record<string, unknown>;
}

/** A code's entry in the catalogue. */
export interface CatalogueEntry {
  code: string;
  status: number;
  owner: string;
}

const catalogue = new Map<string, CatalogueEntry>();

type Factory = ((args: never, options?: GantryErrorOptions) => GantryError) & { code: string; status: number };

/**
 * Declares `owner`'s error table in the catalogue and returns it. A code declared by another owner
 * throws ERROR_CODE_TAKEN (a plugin with such a table fails to load, naming both); the same owner
 * declaring it again (a plugin reload re-evaluates its modules) replaces its entry.
 */
export function defineErrors<T extends Record<string, Factory>>(owner: string, table: T): T {
  for (const [key, factory] of Object.entries(table)) {
    if (key !== factory.code) throw new GantryError("ERROR_TABLE_INVALID", 500, `${owner}'s error table lists ${factory.code} under the key ${key}; use the code as the key`);
    const taken = catalogue.get(factory.code);
    if (taken && taken.owner !== owner) throw Errors.ERROR_CODE_TAKEN([factory.code, owner, taken.owner]);
  }
  for (const factory of Object.values(table)) catalogue.set(factory.code, { code: factory.code, status: factory.status, owner });
  return table;
}

/** Every declared code, by owner (docs and tests read it). */
export function errorCatalogue(): CatalogueEntry[] {
  return [...catalogue.values()].sort((a, b) => a.owner.localeCompare(b.owner) || a.code.localeCompare(b.code));
}

/** An error with a stable `code`, an HTTP `status` and optional `details` shown to the client. */
export class GantryError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  readonly #body: Record<string, unknown> | undefined;

  constructor(code: string, status: number, message: string, options: GantryErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "GantryError";
    this.code = code;
    this.status = status;
    this.details = options.details;
    this.#body = options.body;
  }

  /** gantry's error body: `{error, code, details}`. */
  toJSON(): ErrorBody {
    return { error: this.message, code: this.code, details: this.details ?? null };
  }

  /** What the client receives: the fixed body when one was given, else gantry's. */
  responseBody(): Record<string, unknown> {
    return this.#body ?? this.toJSON();
  }
}

export type ErrorBody = {
  error: string;
  code: string;
  details: unknown;
};

type MessageFn<A extends unknown[]> = (...args: A) => string;

/**
 * Defines a named error factory, Fastify-style: `createError(code, status, message)`. `body`, when
 * given, makes the response body from the message (for a source document's own error shape).
 */
export function createError<A extends unknown[]>(code: string, status: number, message: MessageFn<A>, body?: (message: string) => Record<string, unknown>) {
  const factory = (args: A, options?: GantryErrorOptions & { status?: number }) => {
    const text = message(...args);
    return new GantryError(code, options?.status ?? status, text, { ...options, body: options?.body ?? body?.(text) });
  };
  return Object.assign(factory, { code, status });
}

/** Core's error codes, grouped by area. Plugins define theirs the same way. */
export const Errors = defineErrors("core", {
  ERROR_CODE_TAKEN: createError("ERROR_CODE_TAKEN", 422, (code: string, owner: string, holder: string) => `Error code ${code} of ${owner} is already declared by ${holder}; give it a name of its own (prefix it with the plugin's name)`),
  VALIDATION_FAILED: createError("VALIDATION_FAILED", 400, (where: string) => `Invalid request: ${where}`),
  BAD_REQUEST: createError("BAD_REQUEST", 400, (why: string) => why),
  UNAUTHORIZED: createError("UNAUTHORIZED", 401, () => "Authentication required: send an API key as 'Authorization: Bearer <key>', 'X-API-Key' or '?api_key='"),
  INVALID_CREDENTIAL: createError("INVALID_CREDENTIAL", 401, () => "The API key or token is not valid: it is unknown, revoked or expired"),
  FORBIDDEN: createError("FORBIDDEN", 403, (need: string, have: string) => have === "inference"
    ? "Inference keys can only call inference routes: /v1/*, Ollama's /api/*, /running and /api/v1/inference/*"
    : `This route requires role '${need}'; your credential has '${have}'`),
  /** A 4xx raised by a library under a route (not by gantry's own code); `status` carries its status. */
  REQUEST_REJECTED: createError("REQUEST_REJECTED", 400, (why: string) => why),
  NOT_FOUND: createError("NOT_FOUND", 404, (method: string, path: string) => `No route for ${method} ${path}`),
  PAYLOAD_TOO_LARGE: createError("PAYLOAD_TOO_LARGE", 413, (limit: number) => `Request body exceeds the limit of ${limit} bytes`),
  LIVENESS_FAILED: createError("LIVENESS_FAILED", 503, (failed: string[]) => `Liveness check failed: ${failed.join(", ")}`),
  HEADERS_TOO_LARGE: createError("HEADERS_TOO_LARGE", 431, (limit: number) => `Request URL and headers exceed the limit of ${limit} bytes (server.header_limit_bytes)`),
  JSON_TOO_DEEP: createError("JSON_TOO_DEEP", 400, (limit: number) => `Request body is nested deeper than ${limit} levels (server.max_json_depth)`),
  SECRET_KEY_UNKNOWN: createError("SECRET_KEY_UNKNOWN", 500, (keyId: string) => `A stored secret was sealed with key ${keyId}, which is neither auth.secret_key nor in auth.previous_secret_keys`),
  LISTEN_FAILED: createError("LISTEN_FAILED", 500, (where: string, why: string) => `Cannot listen on ${where}: ${why} (another gantry or program on that port? set server.port or --port)`),
  DATA_DIR_IN_USE: createError("DATA_DIR_IN_USE", 409, (dir: string, holder: string) => `Data directory ${dir} is in use (${holder}); stop that gantry first, or give this one another data_dir (--data-dir)`),
  INTERNAL: createError("INTERNAL", 500, (requestId: string) => `Internal error; see the server log for request ${requestId}`),

  CONFIG_INVALID: createError("CONFIG_INVALID", 400, (source: string, problems: string[]) => `Invalid configuration (${source}):\n  ${problems.join("\n  ")}`),

  PLUGIN_MANIFEST_INVALID: createError("PLUGIN_MANIFEST_INVALID", 400, (path: string, problems: string[]) => `Invalid plugin manifest ${path}: ${problems.join("; ")}`),
  PLUGIN_NOT_FOUND: createError("PLUGIN_NOT_FOUND", 404, (name: string) => `Plugin '${name}' is not installed`),
  PLUGIN_PATH_NOT_FOUND: createError("PLUGIN_PATH_NOT_FOUND", 400, (path: string) => `No plugin folder at '${path}' (expected plugin.json, .claude-plugin/plugin.json, or Claude Code's commands/, agents/, skills/, hooks/hooks.json or .mcp.json inside)`),
  PLUGIN_EXISTS: createError("PLUGIN_EXISTS", 409, (name: string, path: string) => `A plugin named '${name}' is already installed from ${path}; reload or remove it first`),
  PLUGIN_DEPENDENCY_MISSING: createError("PLUGIN_DEPENDENCY_MISSING", 400, (name: string, missing: string[]) => `Plugin '${name}' depends on ${missing.map((m) => `'${m}'`).join(", ")}, which ${missing.length > 1 ? "are" : "is"} not installed and active`),
  PLUGIN_DEPENDENCY_CYCLE: createError("PLUGIN_DEPENDENCY_CYCLE", 400, (cycle: string[]) => `Plugin dependency cycle: ${cycle.join(" -> ")}`),
  PLUGIN_HAS_DEPENDENTS: createError("PLUGIN_HAS_DEPENDENTS", 409, (name: string, dependents: string[]) => `Plugin '${name}' is required by ${dependents.join(", ")}; remove those first or pass force`),
  PLUGIN_SETUP_FAILED: createError("PLUGIN_SETUP_FAILED", 422, (name: string, why: string) => `Plugin '${name}' failed to set up: ${why}`),
  PLUGIN_RELOAD_FAILED: createError("PLUGIN_RELOAD_FAILED", 422, (name: string, why: string) => `Plugin '${name}' was not reloaded (the previous version keeps serving): ${why}`),
  PLUGIN_SETUP_TIMEOUT: createError("PLUGIN_SETUP_TIMEOUT", 422, (name: string, ms: number) => `Plugin '${name}' did not finish setup within ${ms} ms`),
  PLUGIN_REGISTRATION_CONFLICT: createError("PLUGIN_REGISTRATION_CONFLICT", 409, (kind: string, key: string, owner: string) => `${kind} '${key}' is already registered by plugin '${owner}'`),
  PLUGIN_ROUTE_WITHOUT_ROLE: createError("PLUGIN_ROUTE_WITHOUT_ROLE", 422, (method: string, path: string) => `Route ${method} ${path} declares no role; add { role: "public" | "viewer" | "operator" | "admin" } to its options`),
  PLUGIN_ENTRY_INVALID: createError("PLUGIN_ENTRY_INVALID", 422, (entry: string) => `${entry} must export default definePlugin({ setup(ctx) { ... } })`),
  PLUGIN_CONTEXT_CLOSED: createError("PLUGIN_CONTEXT_CLOSED", 409, (name: string, what: string) => `Plugin '${name}' is being disposed or gone; '${what}' can only be called during setup or while active`),
  PLUGIN_DISPOSED: createError("PLUGIN_DISPOSED", 409, (name: string, reason: string) => `Plugin '${name}' generation was disposed (${reason})`),
  PLUGIN_ROUTES_AFTER_SETUP: createError("PLUGIN_ROUTES_AFTER_SETUP", 422, (name: string) => `Plugin '${name}': register routes during setup (the routing table is built from what setup registered)`),
  PLUGIN_COMMAND_NAME_INVALID: createError("PLUGIN_COMMAND_NAME_INVALID", 422, (plugin: string, command: string) => `Plugin '${plugin}': command name '${command}' must be lowercase letters, digits and dashes`),
  PLUGIN_DISABLED: createError("PLUGIN_DISABLED", 409, (name: string) => `Plugin '${name}' is disabled; enable it first`),

  SERVICE_UNAVAILABLE: createError("SERVICE_UNAVAILABLE", 503, (name: string) => `Service '${name}' is not provided by any active plugin`),
  FLAG_NOT_FOUND: createError("FLAG_NOT_FOUND", 404, (name: string) => `Feature flag '${name}' is not declared by any active plugin`),
  FLAG_VALUE_INVALID: createError("FLAG_VALUE_INVALID", 400, (name: string, type: string) => `Feature flag '${name}' takes a value of type ${type}`),

  DATABASE_UNAVAILABLE: createError("DATABASE_UNAVAILABLE", 503, (where: string, why: string) => `Cannot open the database at ${where}: ${why} (check database.url)`),
  DIALECT_UNSUPPORTED: createError("DIALECT_UNSUPPORTED", 500, (owner: string, dialect: string) => `Tables of ${owner} exist for SQLite only; this gantry stores its data in ${dialect}`),
  PLUGIN_DIALECT_UNSUPPORTED: createError("PLUGIN_DIALECT_UNSUPPORTED", 422, (name: string, dialect: string, has: string[]) =>
    `Plugin '${name}' ships tables for ${has.join(", ")} only, and this gantry stores its data in ${dialect === "pg" ? "PostgreSQL" : dialect} (database.url): add drizzle/${dialect} migrations and tables to the plugin, or run gantry on SQLite`),
  KV_KEY_INVALID: createError("KV_KEY_INVALID", 400, (max: number) => `A key-value key must be 1-${max} characters`),
  KV_VALUE_TOO_LARGE: createError("KV_VALUE_TOO_LARGE", 413, (max: number) => `A key-value value must be JSON of at most ${max} bytes`),
  NODE_NOT_FOUND: createError("NODE_NOT_FOUND", 404, (id: string) => `No cluster node with id '${capEcho(id)}'; GET /api/v1/nodes lists them`),
  NODE_ALIVE: createError("NODE_ALIVE", 409, (id: string) => `Cluster node '${capEcho(id)}' is up (it sends heartbeats); only a node that is down can be forgotten`),
  DISPOSER_STACK_DISPOSED: createError("DISPOSER_STACK_DISPOSED", 409, (label: string) => `Cannot add '${label}': the disposer stack already ran`),
});

/** Error message of anything thrown, without its stack. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Longest string an error body echoes back (a request can carry megabytes in a key or a model name). */
export const ECHO_LIMIT = 256;

/** `text` cut to `max` characters, saying how much was left out. */
export function capEcho(text: string, max = ECHO_LIMIT): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** An error body with long strings cut and long lists shortened, at any depth (bounded). */
export function capErrorBody<T>(value: T, depth = 0): T {
  if (typeof value === "string") return capEcho(value, depth === 1 ? 4 * ECHO_LIMIT : ECHO_LIMIT) as T;
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => capErrorBody(v, depth + 1)) as T;
  return Object.fromEntries(Object.entries(value).slice(0, 50).map(([k, v]) => [capEcho(k), capErrorBody(v, depth + 1)])) as T;
}
