/** One error table for gantry: every failure a client can see has a stable code and an HTTP status. */

export interface GantryErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** The response body instead of `{error, code, details}`, for paths whose source document fixes another error shape. */
  body?: Record<string, unknown>;
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
  const factory = (args: A, options?: GantryErrorOptions) => {
    const text = message(...args);
    return new GantryError(code, status, text, { ...options, body: options?.body ?? body?.(text) });
  };
  return Object.assign(factory, { code, status });
}

/** Core's error codes, grouped by area. Plugins define theirs the same way. */
export const Errors = {
  VALIDATION_FAILED: createError("VALIDATION_FAILED", 400, (where: string) => `Invalid request: ${where}`),
  BAD_REQUEST: createError("BAD_REQUEST", 400, (why: string) => why),
  UNAUTHORIZED: createError("UNAUTHORIZED", 401, () => "Authentication required: send an API key as 'Authorization: Bearer <key>', 'X-API-Key' or '?api_key='"),
  FORBIDDEN: createError("FORBIDDEN", 403, (need: string, have: string) => `This route requires role '${need}'; your credential has '${have}'`),
  NOT_FOUND: createError("NOT_FOUND", 404, (method: string, path: string) => `No route for ${method} ${path}`),
  PAYLOAD_TOO_LARGE: createError("PAYLOAD_TOO_LARGE", 413, (limit: number) => `Request body exceeds the limit of ${limit} bytes`),
  HEADERS_TOO_LARGE: createError("HEADERS_TOO_LARGE", 431, (limit: number) => `Request URL and headers exceed the limit of ${limit} bytes (server.header_limit_bytes)`),
  LISTEN_FAILED: createError("LISTEN_FAILED", 500, (where: string, why: string) => `Cannot listen on ${where}: ${why} (another gantry or program on that port? set server.port or --port)`),
  INTERNAL: createError("INTERNAL", 500, (requestId: string) => `Internal error; see the server log for request ${requestId}`),

  CONFIG_INVALID: createError("CONFIG_INVALID", 400, (source: string, problems: string[]) => `Invalid configuration (${source}):\n  ${problems.join("\n  ")}`),

  PLUGIN_MANIFEST_INVALID: createError("PLUGIN_MANIFEST_INVALID", 400, (path: string, problems: string[]) => `Invalid plugin manifest ${path}: ${problems.join("; ")}`),
  PLUGIN_NOT_FOUND: createError("PLUGIN_NOT_FOUND", 404, (name: string) => `Plugin '${name}' is not installed`),
  PLUGIN_PATH_NOT_FOUND: createError("PLUGIN_PATH_NOT_FOUND", 400, (path: string) => `No plugin folder at '${path}' (expected a plugin.json inside)`),
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
  PLUGIN_CONTEXT_CLOSED: createError("PLUGIN_CONTEXT_CLOSED", 409, (name: string, what: string) => `Plugin '${name}' is disposed; '${what}' can only be called during setup or while active`),
  PLUGIN_DISABLED: createError("PLUGIN_DISABLED", 409, (name: string) => `Plugin '${name}' is disabled; enable it first`),

  SERVICE_UNAVAILABLE: createError("SERVICE_UNAVAILABLE", 503, (name: string) => `Service '${name}' is not provided by any active plugin`),
  FLAG_NOT_FOUND: createError("FLAG_NOT_FOUND", 404, (name: string) => `Feature flag '${name}' is not declared by any active plugin`),
  FLAG_VALUE_INVALID: createError("FLAG_VALUE_INVALID", 400, (name: string, type: string) => `Feature flag '${name}' takes a value of type ${type}`),
} as const;

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
