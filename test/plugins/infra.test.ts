import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { coreTables } from "../../core/storage/tables.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { BUILTIN_PLUGINS, FIXTURE_PLUGINS, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewerKey: string;
const configFile = join(tempDir("gantry-infra-"), "gantry.toml");

beforeAll(async () => {
  writeFileSync(configFile, "");
  process.env.INFRA_TEST_API_TOKEN = "super-secret-token-value";
  process.env.INFRA_TEST_DSN = "postgres://app:hunter2@db.internal:5432/app";
  process.env.INFRA_TEST_NOTE = "uses gk_abcdefghij_0123456789abcdefghijklmnopqrstuvwxyz inline";
  g = await startGantry({ builtins: BUILTIN_PLUGINS, configFile, config: { log: { level: "info" } } });
  await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));
  viewerKey = (await g.gantry.security.keys.create("infra-viewer", "viewer")).key;
});
afterAll(() => g.stop());

const send = (path: string, method = "GET", body?: unknown) =>
  g.api(path, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });

const ADMIN_ROUTES: [string, string][] = [
  ["POST", "/api/v1/infra/cache-invalidate"], ["GET", "/api/v1/infra/config"], ["GET", "/api/v1/infra/config/server.port"],
  ["POST", "/api/v1/infra/config/reload"], ["GET", "/api/v1/infra/version"], ["PUT", "/api/v1/infra/log-level"],
  ["GET", "/env"], ["GET", "/loglevel"], ["POST", "/metrics/reset"], ["GET", "/threads"], ["GET", "/periodic-threads"],
  ["GET", "/periodic-threads/hello-heartbeat"], ["GET", "/periodic-threads-health"], ["GET", "/api/v1/infra/env"],
  ["GET", "/api/v1/infra/loggers"], ["GET", "/api/v1/infra/tasks"], ["GET", "/api/v1/infra/tasks-health"],
];

describe("roles", () => {
  test("every infra route is admin-only: 401 without a key, 403 for a viewer", async () => {
    for (const [method, path] of ADMIN_ROUTES) {
      expect([method, path, (await g.api(path, { method, auth: false })).status]).toEqual([method, path, 401]);
      expect([method, path, (await g.api(path, { method, auth: viewerKey })).status]).toEqual([method, path, 403]);
    }
  });

  test("/metrics stays public", async () => {
    expect((await g.api("/metrics", { auth: false })).status).toBe(200);
  });

  test("the plugin registered its routes with the plugin host", () => {
    const info = g.gantry.host.info("infra");
    expect(info.status).toBe("active");
    expect(info.install_drops).toContainEqual({ kind: "route", name: "GET /periodic-threads" });
    expect(info.install_drops).toContainEqual({ kind: "route", name: "PUT /api/v1/infra/log-level" });
  });
});

describe("seed 000: /api/v1/infra", () => {
  test("cache-invalidate drops every registered cache, core's and plugins', and reports the keys", async () => {
    const before = (await (await send("/api/v1/hello/invalidations")).json()).invalidations;
    const body = await (await send("/api/v1/infra/cache-invalidate", "POST")).json();
    expect(body.ok).toBe(true);
    expect(body.cache_keys).toEqual(expect.arrayContaining(["api_keys", "feature_flags", "http_limits", "hello_greeting"]));
    expect(body.detail).toBe(`${body.cache_keys.length} cached values invalidated`);
    expect((await (await send("/api/v1/hello/invalidations")).json()).invalidations).toBe(before + 1);
  });

  test("a key revoked behind gantry's back works until the cache is invalidated", async () => {
    const key = await g.gantry.security.keys.create("doomed", "viewer");
    expect((await g.api("/api/v1/hello/heard", { auth: key.key })).status).toBe(200);
    const { apiKeys } = coreTables(g.gantry.core.database.db);
    await g.gantry.core.database.db.update(apiKeys).set({ revokedAt: new Date(1) }).where(eq(apiKeys.id, key.id));
    expect((await g.api("/api/v1/hello/heard", { auth: key.key })).status).toBe(200);
    await send("/api/v1/infra/cache-invalidate", "POST");
    expect((await g.api("/api/v1/hello/heard", { auth: key.key })).status).toBe(401);
  });

  test("config returns the merged configuration with secrets redacted", async () => {
    const res = await send("/api/v1/infra/config");
    const body = await res.json();
    expect(body.ok).toBe(true);
    expect(body.data.server.host).toBe("127.0.0.1");
    expect(body.data.auth.bootstrap_admin_key).toBe("[redacted]");
    expect(JSON.stringify(body)).not.toContain("gk_testadmin1");
  });

  test("config/{key} returns one dotted key; 404 for a key that does not exist", async () => {
    expect(await (await send("/api/v1/infra/config/log.level")).json()).toEqual({ ok: true, key: "log.level", value: "info" });
    expect(await (await send("/api/v1/infra/config/auth.bootstrap_admin_key")).json()).toEqual({ ok: true, key: "auth.bootstrap_admin_key", value: "[redacted]" });
    const missing = await send("/api/v1/infra/config/server.nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "Config key not found: server.nope", code: "CONFIG_KEY_NOT_FOUND", details: null });
  });

  test("config/reload applies live keys, reports restart-only keys, and keeps the running config when invalid", async () => {
    writeFileSync(configFile, `[log]\nrequests = false\n[server]\nport = 1\nbody_limit_bytes = 2048\n`);
    const res = await send("/api/v1/infra/config/reload", "POST");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.changed).toEqual(expect.arrayContaining(["log.requests", "server.port", "server.body_limit_bytes"]));
    expect(body.applied).toEqual(expect.arrayContaining(["log.requests", "server.body_limit_bytes"]));
    expect(body.restart_required).toEqual(["server.port"]);
    expect(body.data.server.port).toBe(0);
    expect(body.data.server.body_limit_bytes).toBe(2048);
    // The new body limit is in effect at once.
    expect((await send("/api/v1/hello/echo", "POST", { name: "x".repeat(3000), count: 1 })).status).toBe(413);

    writeFileSync(configFile, `[server]\nbody_limit_bytes = "huge"\nmystery = 1\n`);
    const bad = await send("/api/v1/infra/config/reload", "POST");
    expect(bad.status).toBe(400);
    const error = await bad.json();
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.details.problems).toEqual(expect.arrayContaining([expect.stringContaining("server.body_limit_bytes"), "server.mystery: unknown key"]));
    expect((await (await send("/api/v1/infra/config/server.body_limit_bytes")).json()).value).toBe(2048);

    writeFileSync(configFile, "");
    await send("/api/v1/infra/config/reload", "POST");
    expect((await (await send("/api/v1/infra/config/server.body_limit_bytes")).json()).value).toBe(1_048_576);
  });

  test("version comes from package.json, with build information", async () => {
    const body = await (await send("/api/v1/infra/version")).json();
    expect(body.ok).toBe(true);
    expect(body.version).toBe(pkg.version);
    expect(body.build.bun).toBe(Bun.version);
    expect(typeof body.build.started_at).toBe("string");
  });

  test("log-level changes every logger; the next log line obeys; an invalid level is 400", async () => {
    const res = await send("/api/v1/infra/log-level", "PUT", { level: "debug" });
    expect(await res.json()).toEqual({ ok: true, previous: "info", current: "debug" });
    const mark = g.logs.lines.length;
    g.gantry.loggers.get("plugin:hello")!.debug("debug line after change");
    expect(g.logs.lines.slice(mark).some((l) => l.includes("debug line after change"))).toBe(true);
    expect(await (await send("/api/v1/infra/log-level", "PUT", { level: "warning" })).json()).toEqual({ ok: true, previous: "debug", current: "warn" });
    const mark2 = g.logs.lines.length;
    g.gantry.loggers.root.info("info line while at warn");
    expect(g.logs.lines.slice(mark2).some((l) => l.includes("info line while at warn"))).toBe(false);

    const bad = await send("/api/v1/infra/log-level", "PUT", { level: "loud" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toStartWith("Invalid log level: loud");
    const missing = await send("/api/v1/infra/log-level", "PUT", {});
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toContain("level");
    await send("/api/v1/infra/log-level", "PUT", { level: "info" });
  });
});

describe("seed 003: common APIs", () => {
  test("/env is sorted by name with secrets redacted", async () => {
    const res = await send("/env");
    expect(res.headers.get("content-type")).toContain("application/json");
    const env = await res.json();
    const names = Object.keys(env);
    expect(names).toEqual([...names].sort());
    expect(env.INFRA_TEST_API_TOKEN).toBe("[redacted]");
    expect(env.INFRA_TEST_DSN).toBe("postgres://app:[redacted]@db.internal:5432/app");
    expect(env.INFRA_TEST_NOTE).toBe("uses [redacted] inline");
    expect(env.PATH).toBe(process.env.PATH);
    const text = JSON.stringify(env);
    expect(text).not.toContain("super-secret-token-value");
    expect(text).not.toContain("hunter2");
  });

  test("/loglevel lists, gets and sets as text, exactly as the document shows", async () => {
    const list = await send("/loglevel");
    expect(list.headers.get("content-type")).toContain("text/plain");
    const lines = (await list.text()).trimEnd().split("\n");
    expect(lines[0]).toBe("=== Loggers and Levels ===");
    expect(lines).toContain("gantry: INFO");
    expect(lines).toContain("plugin:hello: INFO");

    expect(await (await send("/loglevel?logger_name=plugin:hello")).text()).toBe("plugin:hello: INFO");
    const set = await send("/loglevel?logger_name=plugin:hello&level=DEBUG");
    expect(await set.text()).toBe("Set plugin:hello level to DEBUG (including all handlers)");
    const mark = g.logs.lines.length;
    g.gantry.loggers.get("plugin:hello")!.debug("hello debug visible");
    expect(g.logs.lines.slice(mark).some((l) => l.includes("hello debug visible"))).toBe(true);
    expect(await (await send("/loglevel?logger_name=plugin:hello")).text()).toBe("plugin:hello: DEBUG");
    expect(await (await send("/loglevel?logger_name=gantry")).text()).toBe("gantry: INFO");
    await send("/loglevel?logger_name=plugin:hello&level=INFO");
  });

  test("/loglevel errors: invalid level 400, unknown logger 404, level without logger 400", async () => {
    const invalid = await send("/loglevel?logger_name=gantry&level=INVALID_LEVEL");
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toBe("Invalid log level: INVALID_LEVEL");
    const unknown = await send("/loglevel?logger_name=no.such.logger");
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe("Logger not found: no.such.logger");
    expect((await send("/loglevel?level=DEBUG")).status).toBe(400);
  });

  test("POST /metrics/reset answers ok and resets every metric", async () => {
    await send("/api/v1/hello/greeting");
    expect(await (await send("/metrics")).text()).toMatch(/hello_greetings_total [1-9]/);
    const res = await send("/metrics/reset", "POST");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
    expect(await (await send("/metrics")).text()).toContain("hello_greetings_total 0");
  });

  test("/threads lists the main thread, supervised subprocesses and periodic tasks, with filters", async () => {
    const { pid } = await (await send("/api/v1/hello/spawn", "POST")).json();
    const all = await send("/threads");
    expect(all.headers.get("content-type")).toContain("text/plain");
    const text = await all.text();
    expect(text).toContain(`Thread Name: main\nThread ID: ${process.pid}`);
    expect(text).toContain(`Thread Name: hello:sleeper\nThread ID: ${pid}`);
    expect(text).toContain("Thread Name: hello-heartbeat");
    expect(text).toContain("=== Summary ===");
    const byName = await (await send("/threads?name=HEARTbeat")).text();
    expect(byName).toContain("=== Threads (1) ===");
    expect(byName).toContain("hello-heartbeat");
    const byId = await (await send(`/threads?thread_id=${pid}`)).text();
    expect(byId).toContain("=== Threads (1) ===");
    expect(byId).toContain("sleep 60");
    expect((await send("/threads?thread_id=abc")).status).toBe(400);
  });

  test("/periodic-threads reports every field and filters by level, running_only, active_only", async () => {
    await waitFor(async () => (await (await send("/periodic-threads/hello-heartbeat")).json()).total_runs > 0, 2000, "a heartbeat");
    const body = await (await send("/periodic-threads")).json();
    expect(body.summary.total_count).toBe(body.threads.length);
    const high = body.threads.filter((t: { level: string }) => t.level === "high");
    expect(body.summary.by_level.high).toEqual({ total: high.length, running: high.length, active: high.length });
    const beat = body.threads.find((t: { name: string }) => t.name === "hello-heartbeat");
    for (const field of ["name", "level", "interval", "init_wait", "is_running", "is_active", "last_run_time", "last_run_ago", "total_runs", "failed_runs", "success_rate", "last_summary"]) {
      expect(beat).toHaveProperty(field);
    }
    expect(beat).toMatchObject({ level: "high", interval: 0.05, init_wait: 0, is_running: true, is_active: true, failed_runs: 0, success_rate: 1, last_summary: "beat" });
    expect((await (await send("/periodic-threads?level=critical")).json()).threads).toEqual([]);
    expect((await (await send("/periodic-threads?level=high&running_only=true&active_only=true")).json()).threads.length).toBe(high.length);
    const bad = await send("/periodic-threads?level=unknown");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "Invalid level: unknown. Valid values: critical, high, medium, low" });
  });

  test("/periodic-threads/{name}: one task, or 404 in the documented shape", async () => {
    expect((await (await send("/periodic-threads/hello-heartbeat")).json()).name).toBe("hello-heartbeat");
    const missing = await send("/periodic-threads/heartbeat");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "Thread not found: heartbeat" });
  });

  test("a task that stops running turns /periodic-threads-health unhealthy within 3x its interval, always 200", async () => {
    expect(await (await send("/periodic-threads-health")).json()).toEqual({ healthy: true, unhealthy_count: 0, unhealthy_threads: [] });
    await g.gantry.core.flags.set("hello.stall", true);
    await waitFor(async () => !(await (await send("/periodic-threads-health")).json()).healthy, 5000, "the stalled task to turn health unhealthy");
    const res = await send("/periodic-threads-health");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.unhealthy_count).toBe(1);
    expect(body.unhealthy_threads[0]).toMatchObject({ name: "hello-heartbeat", level: "high", interval: 0.05 });
    expect(body.unhealthy_threads[0].last_run_ago).toBeGreaterThan(3 * 0.05); // unhealthy for being past 3 intervals (the exact bound: periodic-tasks.test.ts)
    const canonical = await (await send("/api/v1/infra/tasks-health")).json();
    expect(canonical).toMatchObject({ ok: true, healthy: false, unhealthy_count: 1 });
    await g.gantry.core.flags.set("hello.stall", false);
    await g.gantry.host.reload("hello"); // the hung run is aborted by the old instance's disposal
    await waitFor(async () => (await (await send("/periodic-threads-health")).json()).healthy, 2000, "healthy again");
  });
});

describe("canonical copies under /api/v1/infra", () => {
  test("env, loggers, tasks", async () => {
    const env = await (await send("/api/v1/infra/env")).json();
    expect(env.ok).toBe(true);
    expect(env.data.INFRA_TEST_API_TOKEN).toBe("[redacted]");
    const loggers = await (await send("/api/v1/infra/loggers")).json();
    expect(loggers.loggers).toContainEqual({ name: "plugin:infra", level: "info" });
    expect(await (await send("/api/v1/infra/loggers/plugin:infra", "PUT", { level: "error" })).json()).toEqual({ ok: true, name: "plugin:infra", previous: "info", current: "error" });
    expect((await send("/api/v1/infra/loggers/nope", "PUT", { level: "error" })).status).toBe(404);
    expect((await send("/api/v1/infra/loggers/gantry", "PUT", { level: "nope" })).status).toBe(400);
    const tasks = await (await send("/api/v1/infra/tasks?level=high")).json();
    expect(tasks.tasks.map((t: { name: string }) => t.name)).toContain("hello-heartbeat");
    expect((await send("/api/v1/infra/tasks?level=x")).status).toBe(400);
    expect((await (await send("/api/v1/infra/tasks/hello-heartbeat")).json()).task.name).toBe("hello-heartbeat");
    const missing = await send("/api/v1/infra/tasks/nope");
    expect(missing.status).toBe(404);
    expect((await missing.json()).code).toBe("TASK_NOT_FOUND");
  });

  test("a subprocess started through ctx.spawn is killed when its plugin is removed", async () => {
    const { pid } = await (await send("/api/v1/hello/spawn", "POST")).json();
    expect(() => process.kill(pid, 0)).not.toThrow();
    await g.gantry.host.uninstall("hello");
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await (await send("/threads")).text()).not.toContain("sleeper");
    await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));
  });
});
