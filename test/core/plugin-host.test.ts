import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { copyFixture, FIXTURE_PLUGINS, sqlRows, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry | undefined;
afterEach(async () => {
  await g?.stop();
  g = undefined;
});

const fixture = (name: string) => join(FIXTURE_PLUGINS, name);

describe("install", () => {
  test("a plugin's routes, command, task, flag, service and metric become reachable", async () => {
    g = await startGantry();
    const info = await g.gantry.host.install(fixture("hello"));
    expect(info.status).toBe("active");
    expect(info.version).toBe("1.0.0");
    const kinds = new Set(info.install_drops.map((d) => d.kind));
    for (const kind of ["route", "command", "task", "flag", "service", "subscription", "metric", "logger"]) expect(kinds.has(kind as never)).toBe(true);
    expect(info.install_drops).toContainEqual({ kind: "route", name: "GET /api/v1/hello/greeting" });

    const res = await g.api("/api/v1/hello/greeting", { auth: false });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: "hello, world" });
    expect(g.gantry.core.commands.get("hello:greet")?.description).toBe("Greets someone");
    expect(g.gantry.core.services.get("greeter")?.greet("bob")).toBe("hello, bob");
    expect(await (await g.api("/metrics")).text()).toContain("hello_greetings_total 1");
  });

  test("a bad manifest is refused with every problem named and nothing registered", async () => {
    g = await startGantry();
    const error = await g.gantry.host.install(fixture("bad-manifest")).catch((e) => e);
    expect(error.code).toBe("PLUGIN_MANIFEST_INVALID");
    expect(error.status).toBe(400);
    expect(error.message).toContain("name");
    expect(error.message).toContain("version");
    expect(error.message).toContain("dependsOn");
    expect(error.message).toContain("surprise");
    expect(g.gantry.host.list()).toEqual([]);
  });

  test("a plugin's `gantry` range is checked against this version: a range it meets installs, one it does not is a 400 naming both", async () => {
    g = await startGantry();
    const manifest = (gantry: string) => JSON.stringify({ name: "hello", version: "1.0.0", gantry, config: { greeting: "hello" } });
    const tooNew = copyFixture("hello");
    writeFileSync(join(tooNew, "plugin.json"), manifest(">=99.0.0"));
    const error = await g.gantry.host.install(tooNew).catch((e) => e);
    expect(error.code).toBe("PLUGIN_MANIFEST_INVALID");
    expect(error.status).toBe(400);
    expect(error.message).toContain("requires gantry >=99.0.0");
    expect(g.gantry.host.list()).toEqual([]);
    const fits = copyFixture("hello");
    writeFileSync(join(fits, "plugin.json"), manifest(">=0.1.0 <1.0.0"));
    expect((await g.gantry.host.install(fits)).status).toBe("active");
  });

  test("a missing path is a clear 400", async () => {
    g = await startGantry();
    const error = await g.gantry.host.install("/nonexistent/plugin").catch((e) => e);
    expect(error.code).toBe("PLUGIN_PATH_NOT_FOUND");
    expect(error.status).toBe(400);
  });

  test("a second plugin of the same name is 409", async () => {
    g = await startGantry();
    await g.gantry.host.install(fixture("hello"));
    const error = await g.gantry.host.install(copyFixture("hello")).catch((e) => e);
    expect(error.code).toBe("PLUGIN_EXISTS");
    expect(error.status).toBe(409);
  });

  test("a setup that throws leaves nothing half-installed", async () => {
    g = await startGantry();
    const error = await g.gantry.host.install(fixture("throws")).catch((e) => e);
    expect(error.code).toBe("PLUGIN_SETUP_FAILED");
    expect(error.status).toBe(422);
    expect(error.message).toContain("setup exploded on purpose");
    expect(g.gantry.host.list()).toEqual([]);
    expect((await g.api("/api/v1/throws/never")).status).toBe(404);
    expect(g.gantry.core.tasks.size).toBe(0);
    expect(g.gantry.core.services.has("never-provided")).toBe(false);
  });

  test("a route without a role is refused at registration", async () => {
    g = await startGantry();
    const error = await g.gantry.host.install(fixture("no-role")).catch((e) => e);
    expect(error.code).toBe("PLUGIN_ROUTE_WITHOUT_ROLE");
    expect(error.message).toContain("GET /api/v1/no-role/open");
    expect((await g.api("/api/v1/no-role/open", { auth: false })).status).toBe(404);
  });

  test("a route another plugin owns is a conflict and the owner keeps it", async () => {
    g = await startGantry();
    await g.gantry.host.install(fixture("hello"));
    const error = await g.gantry.host.install(fixture("clash")).catch((e) => e);
    expect(error.status).toBe(422);
    expect(error.details.cause_code).toBe("PLUGIN_REGISTRATION_CONFLICT");
    expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "hello, world" });
  });

  test("dependencies: missing is refused; present is consumed through services", async () => {
    g = await startGantry();
    const error = await g.gantry.host.install(fixture("consumer")).catch((e) => e);
    expect(error.code).toBe("PLUGIN_DEPENDENCY_MISSING");
    expect(error.message).toContain("'hello'");
    await g.gantry.host.install(fixture("hello"));
    await g.gantry.host.install(fixture("consumer"));
    expect(await (await g.api("/api/v1/consumer/greet/ann")).json()).toEqual({ text: "hello, ann" });
  });
});

describe("plugin tables", () => {
  test("a plugin's own migrations are applied at install, once, and its data survives reloads", async () => {
    g = await startGantry();
    const info = await g.gantry.host.install(fixture("notes"));
    expect(info.install_drops).toContainEqual({ kind: "migration", name: `drizzle/${g.gantry.core.database.dialect}` });
    const created = await g.api("/api/v1/notes/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ body: "first" }) });
    expect(await created.json()).toEqual({ id: 1, body: "first" });
    await g.gantry.host.reload("notes");
    expect(await (await g.api("/api/v1/notes/")).json()).toEqual([{ id: 1, body: "first" }]);
    const [applied] = await sqlRows(g, "SELECT count(*) AS n FROM __gantry_migrations_notes");
    expect(Number(applied!.n)).toBe(1);
  });
});

describe("start-up", () => {
  test("built-ins start in dependency order; a failing or cyclic plugin does not stop gantry", async () => {
    g = await startGantry({ builtins: FIXTURE_PLUGINS, config: { plugins: { disabled: ["clash"] } } });
    const byName = Object.fromEntries(g.gantry.host.list().map((p) => [p.name, p]));
    expect(byName.clash!.status).toBe("disabled");
    expect(byName.hello!.status).toBe("active");
    expect(byName.consumer!.status).toBe("active");
    expect(byName.throws!.status).toBe("failed");
    expect(byName.throws!.error?.message).toContain("setup exploded on purpose");
    expect(byName["cycle-a"]!.error?.code).toBe("PLUGIN_DEPENDENCY_CYCLE");
    expect(byName["cycle-a"]!.error?.message).toContain("cycle-a -> cycle-b -> cycle-a");
    expect(byName["no-role"]!.status).toBe("failed");
    const invalid = g.gantry.host.list().find((p) => p.path.endsWith("bad-manifest"));
    expect(invalid?.error?.code).toBe("PLUGIN_MANIFEST_INVALID");
    const order = g.gantry.host.activeInstances().map((i) => i.plugin);
    expect(order.indexOf("hello")).toBeLessThan(order.indexOf("consumer"));
    expect((await g.api("/healthz")).status).toBe(200);
    expect(await (await g.api("/api/v1/consumer/greet/x")).json()).toEqual({ text: "hello, x" });
  });

  test("routes go live in one build at start; a clash found then fails only the plugin at fault and its dependents", async () => {
    g = await startGantry({ builtins: FIXTURE_PLUGINS });
    const byName = Object.fromEntries(g.gantry.host.list().map((p) => [p.name, p]));
    const failed = ["clash", "hello"].filter((name) => byName[name]!.status === "failed");
    expect(failed).toHaveLength(1);
    expect(byName[failed[0]!]!.error?.message).toMatch(/is already registered by plugin '(clash|hello)'/);
    expect(byName.consumer!.status).toBe(failed[0] === "hello" ? "failed" : "active");
    expect(byName["no-role"]!.error?.code).toBe("PLUGIN_ROUTE_WITHOUT_ROLE");
    expect(byName.graph!.status).toBe("active");
    expect((await g.api("/api/v1/graph/version")).status).toBe(200); // the plugins that passed serve their routes
    expect((await g.api("/healthz")).status).toBe(200);
  });

  test("a restart restores plugins installed from a path, and their enabled state", async () => {
    const first = await startGantry();
    const dataDir = first.dataDir;
    await first.gantry.host.install(fixture("hello"));
    await first.gantry.host.install(fixture("graph"));
    await first.gantry.host.setEnabled("graph", false);
    await first.gantry.stop();

    g = await startGantry({ dataDir });
    const byName = Object.fromEntries(g.gantry.host.list().map((p) => [p.name, p.status]));
    expect(byName).toEqual({ hello: "active", graph: "disabled" });
    expect((await g.api("/api/v1/hello/greeting")).status).toBe(200);
    expect((await g.api("/api/v1/graph/version")).status).toBe(404);
  });
});

describe("reload", () => {
  test("re-imports every module of the plugin, not only its entry", async () => {
    g = await startGantry();
    const dir = copyFixture("graph");
    await g.gantry.host.install(dir);
    expect(await (await g.api("/api/v1/graph/version")).json()).toEqual({ version: "inner-1" });
    writeFileSync(join(dir, "lib", "inner.ts"), "export const INNER_VERSION = 2;\n");
    await g.gantry.host.reload("graph");
    expect(await (await g.api("/api/v1/graph/version")).json()).toEqual({ version: "inner-2" });
  });

  test("a failing reload answers 422 and the old version keeps serving", async () => {
    g = await startGantry();
    const dir = copyFixture("graph");
    await g.gantry.host.install(dir);
    writeFileSync(join(dir, "index.ts"), 'export default { setup() { throw new Error("broken v2"); } };\n');
    const error = await g.gantry.host.reload("graph").catch((e) => e);
    expect(error.code).toBe("PLUGIN_RELOAD_FAILED");
    expect(error.status).toBe(422);
    expect(error.message).toContain("broken v2");
    expect(await (await g.api("/api/v1/graph/version")).json()).toEqual({ version: "inner-1" });
    expect(g.gantry.host.info("graph").status).toBe("active");
  });

  test("routes removed by the new version are 404 and new ones appear", async () => {
    g = await startGantry();
    const dir = copyFixture("graph");
    await g.gantry.host.install(dir);
    writeFileSync(join(dir, "index.ts"), `export default { setup(ctx) { ctx.routes((app) => app.get("/v2", () => "v2", { role: "public" })); } };\n`);
    await g.gantry.host.reload("graph");
    expect((await g.api("/api/v1/graph/version")).status).toBe(404);
    expect(await (await g.api("/api/v1/graph/v2")).text()).toBe("v2");
  });

  test("no request fails while a client keeps sending during 20 reloads", async () => {
    g = await startGantry({ config: { rate_limit: { enabled: false } } }); // hundreds of anonymous requests a second
    await g.gantry.host.install(fixture("hello"));
    let stop = false;
    const statuses: number[] = [];
    const client = async () => {
      while (!stop) {
        const res = await fetch(`${g!.url}/api/v1/hello/greeting`);
        statuses.push(res.status);
        await res.arrayBuffer();
      }
    };
    const clients = [client(), client(), client(), client()];
    for (let i = 0; i < 20; i++) {
      await g.gantry.host.reload("hello");
      await Bun.sleep(5); // let requests land between swaps, not only during them
    }
    stop = true;
    await Promise.all(clients);
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  test("concurrent reloads of one plugin are serialized", async () => {
    g = await startGantry();
    await g.gantry.host.install(fixture("hello"));
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => g!.gantry.host.reload("hello")));
    expect(results.every((r) => r.status === "active")).toBe(true);
    expect(g.gantry.core.tasks.size).toBe(1);
    expect(g.gantry.core.commands.size).toBe(1);
  });

  test("a metric keeps its count across a reload", async () => {
    g = await startGantry();
    await g.gantry.host.install(fixture("hello"));
    await g.api("/api/v1/hello/greeting");
    await g.gantry.host.reload("hello");
    await g.api("/api/v1/hello/greeting");
    expect(await (await g.api("/metrics")).text()).toContain("hello_greetings_total 2");
  });
});

describe("uninstall", () => {
  test("leaves no surface: routes, commands, tasks, flags, services, subscriptions, metrics, logger", async () => {
    g = await startGantry();
    const core = g.gantry.core;
    const subscribersBefore = core.events.subscriberCount;
    await g.gantry.host.install(fixture("hello"));
    await g.gantry.host.reload("hello");
    expect(core.events.subscriberCount).toBe(subscribersBefore + 1);
    await g.gantry.host.uninstall("hello");

    expect((await g.api("/api/v1/hello/greeting")).status).toBe(404);
    expect(core.commands.size).toBe(0);
    expect(core.tasks.size).toBe(0);
    expect(core.flags.list()).toEqual([]);
    expect(core.services.has("greeter")).toBe(false);
    expect(core.events.subscriberCount).toBe(subscribersBefore);
    expect(core.metrics.pluginMetricNames()).toEqual([]);
    expect(await (await g.api("/metrics")).text()).not.toContain("hello_greetings_total");
    expect(g.gantry.loggers.get("plugin:hello")).toBeUndefined();
    expect(g.gantry.host.list()).toEqual([]);
    const spec = await (await g.api("/openapi.json")).json();
    expect(Object.keys(spec.paths).some((p) => p.startsWith("/api/v1/hello"))).toBe(false);
  });

  test("refuses while another plugin depends on it, unless forced", async () => {
    g = await startGantry();
    await g.gantry.host.install(fixture("hello"));
    await g.gantry.host.install(fixture("consumer"));
    const error = await g.gantry.host.uninstall("hello").catch((e) => e);
    expect(error.code).toBe("PLUGIN_HAS_DEPENDENTS");
    expect(error.status).toBe(409);
    await g.gantry.host.uninstall("hello", { force: true });
    const res = await g.api("/api/v1/consumer/greet/x");
    expect(res.status).toBe(503);
    expect((await res.json()).code).toBe("SERVICE_UNAVAILABLE");
  });

  test("a dispose that hangs is cut off at the dispose timeout", async () => {
    g = await startGantry();
    await g.gantry.host.install(fixture("slow-dispose"));
    // The dispose never settles: that uninstall returns at all is the cut-off; the report names the step.
    await g.gantry.host.uninstall("slow-dispose");
    expect((await g.api("/api/v1/slow-dispose/ping")).status).toBe(404);
    const cutOff = g.logs.records.filter((r) => r.msg === "plugin dispose steps timed out");
    expect(cutOff).toHaveLength(1);
    expect(cutOff[0]).toMatchObject({ plugin: "slow-dispose", steps: [expect.any(String)] });
  });

  test("unknown plugin is 404", async () => {
    g = await startGantry();
    const error = await g.gantry.host.uninstall("nope").catch((e) => e);
    expect(error.code).toBe("PLUGIN_NOT_FOUND");
    expect(error.status).toBe(404);
  });
});
