import { afterAll, beforeAll, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS });
});
afterAll(() => g.stop());

test("every route of core and the built-in plugins documents its role, a summary and what it answers", async () => {
  const spec = await (await g.api("/openapi.json")).json();
  const operations = Object.entries<Record<string, { summary?: string; responses?: Record<string, { content?: unknown }>; "x-gantry-role"?: string }>>(spec.paths)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })))
    .filter(({ route }) => !route.startsWith("WS ")); // a WebSocket has no response body to describe
  expect(operations.length).toBeGreaterThan(60);
  const undocumented = operations.filter(({ op }) => {
    const responses = Object.entries(op.responses ?? {});
    const answers = responses.some(([status, r]) => status.startsWith("2") && r.content) || responses.some(([status]) => status.startsWith("3")); // a redirect has no body
    return !op["x-gantry-role"] || !op.summary || !answers;
  }).map(({ route }) => route);
  expect(undocumented).toEqual([]);
});
