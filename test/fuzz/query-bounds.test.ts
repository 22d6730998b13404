/**
 * Every whole-number query parameter the OpenAPI document lists (limit, offset, before_id, after, ...),
 * on every route that takes one: a huge, negative, fractional or non-numeric value is a 400 in
 * gantry's error shape naming the parameter, never a 5xx from a database that refuses the number.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, sqlRows, startGantry, type TestGantry } from "../helpers.ts";
import { operationsOf, type Schema } from "./openapi-arbitraries.ts";

let g: TestGantry;
let internalKey: string;
let spec: { paths: Record<string, Record<string, Record<string, unknown>>> };

beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, log: { level: "warn" } } });
  spec = await (await g.api("/openapi.json")).json();
  internalKey = String((await sqlRows(g, "SELECT value FROM core_settings WHERE key = 'internal_key'"))[0]!.value);
}, 60_000);
afterAll(() => g.stop());

const BAD_VALUES = ["99999999999999999999", "2147483648", "-1", "1.5", "1e400", "-99999999999999999999", "12abc"];

/** True for a schema that takes whole numbers (TypeBox's Numeric or Integer as OpenAPI writes them for a query). */
function isWholeNumber(schema: Schema | undefined): boolean {
  if (!schema) return false;
  if (schema.type === "integer" || schema.multipleOf === 1) return true;
  return (schema.anyOf ?? []).some((s) => s.type === "integer" || s.format === "integer" || s.multipleOf === 1);
}

test("huge, negative, fractional and non-numeric values of every whole-number query parameter are a 400", async () => {
  const cases = operationsOf(spec).flatMap((op) => op.parameters.filter((p) => p.in === "query" && isWholeNumber(p.schema)).map((p) => ({ op, name: p.name })));
  // The ones that once answered 500 or passed a number the database refused are among them.
  expect(cases.map((c) => `${c.op.method} ${c.op.path} ${c.name}`)).toEqual(expect.arrayContaining([
    "GET /api/v1/pipelines offset", "GET /api/v1/pipelines limit", "GET /api/v1/audit before_id", "GET /api/v1/cron/jobs/{id}/runs before_id",
    "GET /api/v1/evaluations/{id}/rows after", "GET /api/v1/datasets/{name}/preview limit", "GET /api/v1/pipelines/{run_id}/events since_seq",
  ]));
  const wrong: string[] = [];
  for (const { op, name } of cases) {
    const path = op.path.replace(/\{[^}]+\}/g, "x");
    const headers: Record<string, string> = op.role === "internal" ? { "x-internal-auth": internalKey } : {};
    // Parameters the route requires get a good value, so that only `name` is wrong.
    const required = op.parameters.filter((p) => p.in === "query" && p.required && p.name !== name);
    for (const value of BAD_VALUES) {
      const search = new URLSearchParams(required.map((p): [string, string] => [p.name, isWholeNumber(p.schema) ? "1" : "x"]));
      search.set(name, value);
      const res = await g.api(`${path}?${search}`, { method: op.method, headers });
      const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
      const fine = res.status === 400 && typeof body.error === "string" && body.code === "VALIDATION_FAILED" && body.error.includes(name);
      if (!fine) wrong.push(`${op.method} ${path} ${name}=${value}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  }
  expect(wrong).toEqual([]);
}, 60_000);
