/**
 * fast-check arbitraries for the operations of an OpenAPI document: values that follow each
 * parameter's and body's JSON schema most of the time, and hostile ones the rest (wrong types,
 * huge strings, odd characters, deep nesting, extra fields).
 */
import fc from "fast-check";

export type Schema = Record<string, unknown> & { type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; enum?: unknown[]; const?: unknown };

export interface Operation {
  method: string;
  path: string;
  role: string;
  rate: string;
  /** The route answers errors in a compatible API's own shape (OpenAI's, Ollama's), not gantry's. */
  ownErrors: boolean;
  parameters: { name: string; in: string; required?: boolean; schema?: Schema }[];
  body?: { contentType: string; schema: Schema };
  responses: Record<string, { content?: Record<string, { schema?: Schema }> } | { $ref: string }>;
}

export interface RequestCase {
  path: string;
  query: string;
  body?: string;
  contentType?: string;
}

/** Strings that have broken parsers before: control characters, surrogates, path tricks, injection shapes. */
const NASTY = [
  "", " ", "\u0000", "\ud800", "../../etc/passwd", "%2e%2e%2f", "%", "?x=1", "#", "a/b", "{}", "[]", "null", "-1", "1e309",
  "<script>", "'; DROP TABLE users;--", "${jndi:x}", "__proto__", "constructor", "toString", "😀", "\r\nX-Injected: 1",
];

const nastyString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.nat({ max: 20_000 }).map((n) => "k".repeat(n)) },
);

/** A value that follows `schema` (loosely: enough to get past validation often). */
export function fromSchema(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants?.length) return fc.oneof(...variants.map((v) => fromSchema({ ...schema, anyOf: undefined, oneOf: undefined, ...v }, depth + 1)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string": {
      const min = Number(schema.minLength ?? 0);
      const max = Math.max(min, Math.min(Number(schema.maxLength ?? 30), 60));
      return fc.string({ minLength: min, maxLength: max });
    }
    case "integer": return fc.integer({ min: Number(schema.minimum ?? -10), max: Number(schema.maximum ?? 100_000) });
    case "number": return fc.double({ min: Number(schema.minimum ?? -10), max: Number(schema.maximum ?? 1e6), noNaN: true });
    case "boolean": return fc.boolean();
    case "null": return fc.constant(null);
    case "array": return fc.array(fromSchema(schema.items, depth + 1), { maxLength: 4 });
    case "object": {
      const props = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, sub] of Object.entries(props)) record[name] = fromSchema(sub, depth + 1);
      return fc.record(record, { requiredKeys: [...required].filter((k) => k in props) });
    }
    default: return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Hostile values: the wrong type, a huge or odd string, deep nesting, a big number. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.constantFrom(null, true, -1, 0, 2 ** 53, -1e308, 1.5),
  fc.jsonValue({ maxDepth: 4 }),
  fc.integer({ min: 1, max: 3000 }).map((n) => JSON.parse("[".repeat(n) + "]".repeat(n))),
);

/** A body: mostly schema-shaped (sometimes with a field made hostile or an extra field), sometimes anything. */
function bodyValue(schema: Schema): fc.Arbitrary<unknown> {
  const shaped = fromSchema(schema);
  const withHostileField = fc.tuple(shaped, fc.constantFrom(...Object.keys(schema.properties ?? { x: 1 })), hostile).map(([value, key, bad]) =>
    value && typeof value === "object" && !Array.isArray(value) ? { ...(value as object), [key]: bad } : value);
  return fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 3, arbitrary: withHostileField }, { weight: 2, arbitrary: hostile });
}

/** Raw body text: JSON of a value, or broken text. */
const brokenText = fc.oneof(fc.constantFrom("{", "{\"a\":", "[1,", "nul", "\u0000", "{\"a\":1}{"), fc.string({ maxLength: 50 }));

function paramValue(schema: Schema | undefined): fc.Arbitrary<string> {
  return fc.oneof({ weight: 2, arbitrary: fromSchema(schema).map((v) => (typeof v === "string" ? v : JSON.stringify(v) ?? "")) }, { weight: 1, arbitrary: nastyString });
}

/** A request for `op`: path parameters filled in, a query string, a body. */
export function requestFor(op: Operation): fc.Arbitrary<RequestCase> {
  const pathParams = op.parameters.filter((p) => p.in === "path");
  const queryParams = op.parameters.filter((p) => p.in === "query");
  const pathArb = fc.tuple(...pathParams.map((p) => paramValue(p.schema))).map((values) =>
    pathParams.reduce((path, p, i) => path.replace(`{${p.name}}`, encodeURIComponent(values[i]!.toWellFormed()) || "x"), op.path));
  const queryArb = fc.tuple(...queryParams.map((p) => fc.option(paramValue(p.schema), { nil: undefined })), fc.option(fc.tuple(nastyString, nastyString), { nil: undefined }))
    .map((values) => {
      const search = new URLSearchParams();
      queryParams.forEach((p, i) => values[i] !== undefined && search.set(p.name, values[i] as string));
      const extra = values[queryParams.length] as [string, string] | undefined;
      if (extra) search.set(extra[0], extra[1]);
      return search.toString();
    });
  const bodyArb: fc.Arbitrary<{ body?: string; contentType?: string }> = op.body
    ? fc.oneof(
        { weight: 6, arbitrary: bodyValue(op.body.schema).map((v) => ({ body: JSON.stringify(v) ?? "null", contentType: "application/json" })) },
        { weight: 1, arbitrary: brokenText.map((text) => ({ body: text, contentType: "application/json" })) },
        { weight: 1, arbitrary: fc.constant({}) },
      )
    : fc.constant({});
  return fc.tuple(pathArb, queryArb, bodyArb).map(([path, query, b]) => ({ path, query, ...b }));
}

/** The document's operations (WebSockets are not HTTP operations and are not fuzzed). */
export function operationsOf(spec: { paths: Record<string, Record<string, Record<string, unknown>>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const content = (raw.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content ?? {};
      const json = content["application/json"];
      out.push({
        method: method.toUpperCase(), path, role: String(raw["x-gantry-role"] ?? "public"), rate: String(raw["x-gantry-rate-limit"] ?? "regular"), ownErrors: Boolean(raw["x-gantry-own-errors"]),
        parameters: (raw.parameters as Operation["parameters"]) ?? [],
        body: json ? { contentType: "application/json", schema: json.schema } : undefined,
        responses: (raw.responses as Operation["responses"]) ?? {},
      });
    }
  }
  return out;
}
