import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { BUILTIN_PLUGINS, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, server: { body_limit_bytes: 2 * 1024 * 1024 } } });
});
afterAll(() => g.stop());

const upload = (script: string | null, field = "script") => {
  const form = new FormData();
  if (script !== null) form.append(field, new Blob([script], { type: "text/javascript" }), "scratch.js");
  return g.api("/run_script", { method: "POST", body: form });
};
const runJson = (body: unknown) => g.api("/api/v1/scripts/run", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("POST /run_script (seed 003 contract)", () => {
  test("returns the script's result as text/plain", async () => {
    const res = await upload("const plugins = await gantry.plugins();\nresult = { count: plugins.length, names: plugins.map((p) => p.name) };");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const names = g.gantry.host.list().map((p) => p.name);
    expect(await res.text()).toBe(JSON.stringify({ count: names.length, names }));
  });

  test("a string result is returned as it is; no result says so", async () => {
    expect(await (await upload("result = 'plain words'")).text()).toBe("plain words");
    expect(await (await upload("const x = 1;")).text()).toBe("Script executed successfully");
  });

  test("no script file: 400 'No script file provided'", async () => {
    const none = await upload(null);
    expect(none.status).toBe(400);
    expect(await none.text()).toBe("No script file provided");
    const wrongField = await upload("1", "file");
    expect(await wrongField.text()).toBe("No script file provided");
    const json = await g.api("/run_script", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(json.status).toBe(400);
    expect(await json.text()).toBe("No script file provided");
  });

  test("a script error: 500 'Error executing script: <message>'", async () => {
    const res = await upload("import os from 'os'");
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("Error executing script: Import of 'os' is not allowed");
    expect(await (await upload("throw new Error('boom')")).text()).toBe("Error executing script: boom");
  });

  test("a script over the size limit is rejected before running: 413", async () => {
    const big = await upload(`result = "${"x".repeat(70_000)}"`);
    expect(big.status).toBe(413);
    expect((await big.json()).code).toBe("SCRIPT_TOO_LARGE");
    const tenMb = await upload("x".repeat(10 * 1024 * 1024));
    expect(tenMb.status).toBe(413);
  });

  test("admin only", async () => {
    const viewer = (await g.gantry.security.keys.create("s-viewer", "viewer")).key;
    const form = new FormData();
    form.append("script", new Blob(["1"]), "a.js");
    expect((await g.api("/run_script", { method: "POST", body: form, auth: viewer })).status).toBe(403);
    expect((await g.api("/run_script", { method: "POST", body: form, auth: false })).status).toBe(401);
  });
});

describe("POST /api/v1/scripts/run", () => {
  test("returns result, logs, duration and error", async () => {
    const res = await runJson({ code: "console.log('checking'); const cfg = await gantry.config(); result = { port: cfg.server.port, key: cfg.auth.bootstrap_admin_key }" });
    const body = await res.json();
    expect(body).toMatchObject({ ok: true, result: { port: 0, key: "[redacted]" }, logs: ["checking"], error: null });
    expect(body.duration_ms).toBeGreaterThan(0);
  });

  test("the host API: tasks, metrics, instances; virtual modules from the allow-list", async () => {
    // A far deadline: host calls wait on the event loop, which a loaded machine slows (the default is 1 s).
    const body = await (await runJson({ code: "import gantry from 'gantry'; import { bytes } from 'format'; const m = await gantry.metrics(); result = { tasks: Array.isArray(await gantry.tasks()), metrics: m.length > 0, instances: await gantry.instances(), size: bytes(2048) }", timeout_ms: 10000 })).json();
    expect(body).toMatchObject({ ok: true, result: { tasks: true, metrics: true, instances: [], size: "2.0 KiB" } });
  });

  test("script failures come back as ok: false with the error; timeout_ms is honoured and capped", async () => {
    const loop = await (await runJson({ code: "while (true) {}", timeout_ms: 100 })).json();
    expect(loop.ok).toBe(false);
    expect(loop.error).toMatchObject({ name: "InternalError", message: "interrupted: the script ran past its CPU deadline" });
    expect((await runJson({ code: "1", timeout_ms: 0 })).status).toBe(400);
    expect((await runJson({})).status).toBe(400);
  });

  test("a result JSON cannot hold (a Map) fails the run, saying what and where, never {} with ok: true", async () => {
    const res = await runJson({ code: "({ hosts: new Map([['a', 1]]) })" });
    expect(res.status).toBe(200);
    const run = await res.json();
    expect([run.ok, run.result]).toEqual([false, null]);
    expect(run.error.message).toContain("a Map at result.hosts cannot be represented as JSON");
    const plain = await (await runJson({ code: "({ hosts: Object.fromEntries(new Map([['a', 1]])), at: new Date(0) })" })).json();
    expect([plain.ok, plain.result]).toEqual([true, { hosts: { a: 1 }, at: "1970-01-01T00:00:00.000Z" }]);
  });

  test("every run is audited (who, script hash, outcome, duration) and counted", async () => {
    const code = "result = 'audited ' + 1";
    await runJson({ code });
    const audit = await (await g.api("/api/v1/audit?action=scripts.run")).json();
    const entry = audit.entries.find((e: { target: string }) => e.target === `sha256:${createHash("sha256").update(code).digest("hex")}`);
    expect(entry).toMatchObject({ actor: "key:bootstrap-admin", status: 200, route: "/api/v1/scripts/run" });
    expect(entry.detail).toMatch(/^ok in [\d.]+ ms$/);
    const metrics = await (await g.api("/metrics")).text();
    expect(metrics).toMatch(/gantry_script_runs_total\{outcome="ok"\} \d+/);
    expect(metrics).toMatch(/gantry_script_runs_total\{outcome="timeout"\} \d+/);
  });

  test("the sandbox is a service and a slash command", async () => {
    const sandbox = g.gantry.core.services.get("sandbox");
    expect((await sandbox!.run("[1, 2].map((x) => x * 10)", { actor: "test" })).result).toEqual([10, 20]);
    const res = await g.api("/api/v1/plugins/commands/scripts:run/invoke", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ arguments: "console.log('hi'); 2 + 3" }) });
    expect(await res.json()).toEqual({ qname: "scripts:run", kind: "code", result: { result: 5, logs: ["hi"] } });
  });

  test("concurrent runs queue and all complete", async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => runJson({ code: `${n} * 2` }).then((r) => r.json())));
    expect(results.map((r) => r.result)).toEqual([2, 4, 6, 8, 10]);
  });

  test("past pool_size workers and max_queue waiting runs, a run is 503 SANDBOX_BUSY with Retry-After at once", async () => {
    const small = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, plugins: { disabled: ["cache", "agent", "batch", "cron", "mcp", "instances"] }, plugin: { scripts: { pool_size: 1, max_queue: 1 } } } });
    try {
      const slow = JSON.stringify({ code: "const end = Date.now() + 300; while (Date.now() < end) {} 1", timeout_ms: 2000 });
      const send = () => small.api("/api/v1/scripts/run", { method: "POST", headers: { "content-type": "application/json" }, body: slow });
      const answers = await Promise.all([send(), send(), send()]);
      const busy = answers.find((r) => r.status === 503)!;
      expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 503]);
      expect(Number(busy.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await busy.json()).code).toBe("SANDBOX_BUSY");
    } finally {
      await small.stop();
    }
  });
});
