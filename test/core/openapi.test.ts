import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BUILTIN_PLUGINS, startGantry, tempDir, type TestGantry } from "../helpers.ts";

const ROOT = resolve(import.meta.dir, "..", "..");

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS });
});
afterAll(() => g.stop());

test("every route of core and the built-in plugins documents its role, a summary and what it answers", async () => {
  const spec = await (await g.api("/openapi.json")).json();
  const operations = Object.entries<Record<string, { summary?: string; responses?: Record<string, { content?: unknown }>; "x-gantry-role"?: string }>>(spec.paths)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })))
    .filter(({ route }) => !route.startsWith("WS ")); // (WebSockets are in x-gantry-websockets)
  expect(operations.length).toBeGreaterThan(60);
  const undocumented = operations.filter(({ op }) => {
    const responses = Object.entries(op.responses ?? {});
    const answers = responses.some(([status, r]) => status.startsWith("2") && r.content) || responses.some(([status]) => status.startsWith("3")); // a redirect has no body
    return !op["x-gantry-role"] || !op.summary || !answers;
  }).map(({ route }) => route);
  expect(undocumented).toEqual([]);
});

test("the served document passes Redocly's lint and @readme/openapi-parser with no errors", async () => {
  const spec = await (await g.api("/openapi.json")).json();
  const { validate } = await import("@readme/openapi-parser");
  const parsed = await validate(structuredClone(spec));
  expect(parsed).toMatchObject({ valid: true });
  const file = join(tempDir("gantry-openapi-"), "openapi.json");
  writeFileSync(file, JSON.stringify(spec));
  const lint = Bun.spawnSync([join(ROOT, "node_modules", ".bin", "redocly"), "lint", file, "--format=json"], { stdout: "pipe", stderr: "pipe" });
  const report = JSON.parse(lint.stdout.toString()) as { totals: { errors: number }; problems: { ruleId: string; severity: string; message: string }[] };
  expect(report.problems.filter((p) => p.severity === "error")).toEqual([]);
  // What gantry serves over WebSocket is described in a vendor extension, not as an HTTP method.
  expect(spec["x-gantry-websockets"].map((w: { path: string }) => w.path)).toContain("/api/v1/ws");
  expect(spec.paths["/healthz"].get.security).toEqual([]);
  expect(spec.servers.length).toBeGreaterThan(0);
});

test("/metrics passes promtool check metrics", async () => {
  await g.api("/healthz");
  const text = await (await g.api("/metrics", { auth: false })).text();
  const check = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  expect(check.stdout.toString() + check.stderr.toString()).toBe("");
  expect(check.exitCode).toBe(0);
});
