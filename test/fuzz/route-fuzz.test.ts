/**
 * Route fuzzing generated from /openapi.json with fast-check: every operation × every credential
 * level, seeded. What every answer must satisfy: no 5xx the operation does not document, no stack
 * trace or file path in an error body, no secret in any body, errors in gantry's JSON shape (or the
 * shape the operation documents), and 2xx bodies that match their declared schema.
 *
 * CI runs a bounded pass (FUZZ_RUNS per operation and credential, default 2, about a minute on two
 * cores); `FUZZ_RUNS=50 FUZZ_SEED=123 bun test test/fuzz` is the long local mode. A failure prints
 * the seed and path to replay it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { resolve } from "node:path";
import fc from "fast-check";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { ADMIN_KEY, BUILTIN_PLUGINS, sqlRows, startGantry, type TestGantry } from "../helpers.ts";
import { operationsOf, requestFor, type Operation, type RequestCase, type Schema } from "./openapi-arbitraries.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2);
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const ROOT = resolve(import.meta.dir, "..", "..");
/** Operations whose side effects would end the run itself. */
const SKIPPED = new Set(["POST /api/v1/infra/config/reload"]);

let g: TestGantry;
const credentials: Record<string, string | undefined> = { anonymous: undefined };
let secrets: string[] = [];
let spec: { paths: Record<string, Record<string, Record<string, unknown>>>; components: Record<string, unknown> };

beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { server: { header_limit_bytes: 8192 }, rate_limit: { enabled: false }, log: { level: "warn" }, plugin: { scripts: { max_timeout_ms: 200 }, instances: { hub_url: "http://127.0.0.1:9" } } } }); // no pull reaches the internet
  const keys = g.gantry.security.keys;
  for (const role of ["inference", "viewer", "operator"] as const) credentials[role] = (await keys.create(`fuzz-${role}`, role)).key;
  credentials.admin = ADMIN_KEY;
  const settings = (await sqlRows(g, "SELECT value FROM core_settings WHERE key IN ('jwt_secret', 'internal_key')")) as { value: string }[];
  secrets = [ADMIN_KEY, ...settings.map((s) => s.value)].filter((s) => s.length >= 16);
  spec = await (await g.api("/openapi.json")).json();
}, 60_000);
afterAll(() => g.stop());

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
addFormats(ajv);
ajv.addFormat("integer", true).addFormat("numeric", true);
const validators = new Map<string, ReturnType<typeof ajv.compile>>();

/** The JSON schema an operation declares for `status` (following a response $ref), if any. */
function declaredSchema(op: Operation, status: number): Schema | undefined {
  let response = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`];
  if (response && "$ref" in response) {
    const name = response.$ref.split("/").pop()!;
    response = ((spec.components.responses ?? {}) as Record<string, typeof response>)[name];
  }
  return (response as { content?: Record<string, { schema?: Schema }> } | undefined)?.content?.["application/json"]?.schema;
}

function validatorFor(key: string, schema: Schema) {
  let validate = validators.get(key);
  if (!validate) validators.set(key, (validate = ajv.compile({ ...schema, components: spec.components })));
  return validate;
}

/** Everything wrong with one answer; empty when it is fine. */
function problems(op: Operation, res: Response, text: string): string[] {
  const found: string[] = [];
  const documented = op.responses[String(res.status)] !== undefined;
  if (res.status >= 500 && !documented) found.push(`undocumented ${res.status}`);
  for (const secret of secrets) if (text.includes(secret)) found.push("a secret in the body");
  if (res.status >= 400) {
    if (/\n\s+at \S+ \(|\bat .*\.ts:\d+/.test(text)) found.push("a stack trace in the body");
    if (text.includes(ROOT) || text.includes(g.dataDir)) found.push("a server path in the body");
  }
  const isJson = res.headers.get("content-type")?.includes("application/json") ?? false;
  if (!isJson || text === "") {
    if (res.status >= 400 && !documented && res.status !== 405) found.push(`a ${res.status} that is not JSON`);
    return found;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [...found, "a body that says JSON but does not parse"];
  }
  const schema = declaredSchema(op, res.status);
  if (schema) {
    const validate = validatorFor(`${op.method} ${op.path} ${res.status}`, schema);
    if (!validate(body)) found.push(`${res.status} body does not match its schema: ${ajv.errorsText(validate.errors)}`);
  } else if (res.status >= 400 && op.ownErrors) {
    // A compatible API's own error shape: at least an `error` the client can read.
    if ((body as { error?: unknown })?.error === undefined) found.push(`${res.status} without an error field`);
  } else if (res.status >= 400) {
    const shape = body as { error?: unknown; code?: unknown };
    if (typeof shape?.error !== "string" || typeof shape?.code !== "string") found.push(`${res.status} without {error, code}`);
  }
  return found;
}

async function send(op: Operation, credential: string, c: RequestCase): Promise<{ res: Response; text: string }> {
  const headers: Record<string, string> = {};
  const key = credentials[credential];
  if (key) headers.authorization = `Bearer ${key}`;
  if (c.contentType) headers["content-type"] = c.contentType;
  const res = await fetch(`${g.url}${c.path}${c.query ? `?${c.query}` : ""}`, { method: op.method, headers, body: c.body, redirect: "manual" });
  return { res, text: await res.text() };
}

test("every operation × credential level holds its contract under generated input", async () => {
  const operations = operationsOf(spec).filter((op) => !SKIPPED.has(`${op.method} ${op.path}`));
  expect(operations.length).toBeGreaterThan(80);
  const failures: string[] = [];
  let requests = 0;
  const started = performance.now();
  for (const [index, op] of operations.entries()) {
    for (const [credentialIndex, credential] of Object.keys(credentials).entries()) {
      const seed = SEED + index * 10 + credentialIndex;
      const outcome = await fc.check(fc.asyncProperty(requestFor(op), async (c) => {
        const { res, text } = await send(op, credential, c);
        requests++;
        const found = problems(op, res, text);
        if (found.length > 0) throw new Error(`${op.method} ${c.path}${c.query ? `?${c.query.slice(0, 200)}` : ""} as ${credential} → ${res.status}: ${found.join("; ")}\n  body sent: ${(c.body ?? "").slice(0, 200)}\n  answer: ${text.slice(0, 300)}`);
      }), { seed, numRuns: RUNS, endOnFailure: true });
      if (outcome.failed) failures.push(`${(outcome.errorInstance as Error | undefined)?.message ?? String(outcome.errorInstance)}\n  replay: FUZZ_SEED=${SEED} (seed ${seed}, path ${outcome.counterexamplePath})`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`route fuzz: ${requests} requests over ${operations.length} operations × ${Object.keys(credentials).length} credentials in ${seconds.toFixed(1)} s (seed ${SEED}, ${RUNS} runs each), ${failures.length} failing`);
  expect(failures).toEqual([]);
}, 600_000);
