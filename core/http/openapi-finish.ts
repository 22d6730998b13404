/**
 * The last pass over the generated OpenAPI document, so it passes real validators (Redocly's lint,
 * @readme/openapi-parser): WebSocket routes move to a vendor extension (`ws` is no HTTP method), a
 * server is named, public operations say `security: []`, and every operation documents the error
 * answers gantry can give it, in the one error shape.
 */
import { ROLE_EXTENSION, RATE_EXTENSION } from "../auth/roles.ts";

type Json = Record<string, unknown>;
type Operation = Json & { responses?: Record<string, unknown>; parameters?: { in: string }[]; requestBody?: unknown; security?: unknown };

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

const ErrorSchema = {
  type: "object",
  required: ["error", "code", "details"],
  properties: {
    error: { type: "string", description: "what went wrong and what to do" },
    code: { type: "string", description: "stable UPPER_SNAKE code" },
    details: { description: "more about the failure (fields, limits), or null" },
  },
};

const ERROR_RESPONSES: Record<string, string> = {
  "400": "Invalid request: a field fails its schema, the body cannot be parsed or is nested too deep",
  "401": "No credential, or an invalid one",
  "403": "The credential's role is below the route's",
  "404": "No such resource",
  "413": "Request body over server.body_limit_bytes",
  "429": "Rate limit exceeded; see Retry-After and X-RateLimit-*",
  "431": "Request URL and headers over server.header_limit_bytes",
};

/** Internal routes are the cache daemon's paths, whose document fixes `{status: "error", message}` for failures. */
const DaemonErrorSchema = { type: "object", required: ["status", "message"], properties: { status: { const: "error", type: "string" }, message: { type: "string" } } };

const errorResponse = (status: string, role: string) => ({ $ref: `#/components/responses/${role === "internal" && (status === "401" || status === "403") ? "DaemonError" : "Error"}${status}` });

/** Which error answers an operation can give, from what it declares (role, rate class, inputs). */
function errorStatuses(path: string, op: Operation): string[] {
  const role = String(op[ROLE_EXTENSION] ?? "public");
  const statuses = ["400"];
  if (role !== "public") statuses.push("401", "403");
  if (path.includes("{")) statuses.push("404");
  if (op.requestBody) statuses.push("413");
  if ((op[RATE_EXTENSION] ?? "regular") !== "none") statuses.push("429");
  statuses.push("431");
  return statuses;
}

/**
 * TypeBox writes tuples in the draft-07 form (`items: [...]`, `additionalItems`), which OpenAPI 3.1
 * (JSON Schema 2020-12) reads as invalid; rewritten as `prefixItems`, with `items: false` for "no more".
 */
function modernizeTuples(node: unknown, depth = 0): void {
  if (depth > 64 || node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const item of node) modernizeTuples(item, depth + 1);
    return;
  }
  const schema = node as Json;
  delete schema.elysiaMeta; // Elysia's own marker on t.File schemas, not a JSON Schema keyword
  if (Array.isArray(schema.items)) {
    schema.prefixItems = schema.items;
    schema.items = schema.additionalItems === false ? false : (schema.additionalItems ?? true);
    delete schema.additionalItems;
  }
  for (const value of Object.values(schema)) modernizeTuples(value, depth + 1);
}

/** Returns a finished copy of `doc`; the input (the generator's cached object) is left alone. */
export function finishOpenApi(input: Json, serverUrl = "/"): Json {
  const doc = structuredClone(input) as Json & { paths: Record<string, Record<string, Operation>>; components?: Json; info: Json };
  modernizeTuples(doc.paths);
  modernizeTuples(doc.components);
  doc.servers = [{ url: serverUrl, description: "this gantry (paths are relative to where it is served)" }];
  doc.info = { ...doc.info, license: { name: "MIT", identifier: "MIT" } };
  const components = (doc.components ??= {}) as Json & { schemas?: Json; responses?: Json };
  components.schemas = { ...components.schemas, Error: ErrorSchema, DaemonError: DaemonErrorSchema };
  components.responses = {
    ...components.responses,
    ...Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([status, description]) => [
      `Error${status}`, { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
    ])),
    ...Object.fromEntries(["401", "403"].map((status) => [
      `DaemonError${status}`, { description: ERROR_RESPONSES[status], content: { "application/json": { schema: { $ref: "#/components/schemas/DaemonError" } } } },
    ])),
  };
  const websockets: Json[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === "ws") {
        websockets.push({ path, ...op });
        delete item[method];
        continue;
      }
      if (!HTTP_METHODS.has(method)) continue;
      if (String(op[ROLE_EXTENSION] ?? "public") === "public") op.security = [];
      const responses = (op.responses ??= {});
      // Routes of a compatible API (OpenAI's, Ollama's) answer errors in that API's own shape.
      const own = Boolean(op["x-gantry-own-errors"]);
      for (const status of errorStatuses(path, op)) responses[status] ??= own ? { description: `${ERROR_RESPONSES[status]} (in this API's own error shape)` } : errorResponse(status, String(op[ROLE_EXTENSION] ?? "public"));
    }
    if (Object.keys(item).length === 0) delete doc.paths[path];
  }
  if (websockets.length > 0) doc["x-gantry-websockets"] = websockets;
  return doc;
}
