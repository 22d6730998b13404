/**
 * The kernel's lifecycle contract: kept resources across reloads, dispose reasons, tracked work
 * awaited at dispose, ctx refused after dispose, and what it reports about work a plugin leaked.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FIXTURES, json, running, startGantry, waitFor, type TestGantry } from "../helpers.ts";

/** Not under fixtures/plugins: tests that load every fixture there as a built-in must not load these. */
const LIFECYCLE_PLUGINS = join(FIXTURES, "lifecycle-plugins");

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({ config: { plugins: { dispose_timeout_ms: 1000 } } });
});
afterAll(() => g.stop());

type Journal = { disposals: string[]; closes: { reason: string; ticks: number }[]; creates: number; tracked: string[]; contexts: { emit(t: string, d: unknown): unknown; setTimeout(f: () => void, ms: number): unknown }[] };
const journal = () => (globalThis as unknown as { keeperJournal: Journal }).keeperJournal;
const state = async () => (await g.api("/api/v1/keeper/state")).json();

describe("ctx.keep and dispose reasons", () => {
  test("a kept resource is created once, lives on across reloads with its timers, and closes when the plugin goes", async () => {
    expect((await g.api("/api/v1/plugins", json("POST", { path: join(LIFECYCLE_PLUGINS, "keeper") }))).status).toBe(201);
    const first = await state();
    expect(first.created_by).toBe(first.generation);

    // Work tracked by the serving generation is awaited before the reload disposes it.
    await g.api("/api/v1/keeper/work?ms=150", json("POST"));
    expect((await g.api("/api/v1/plugins/keeper/reload", json("POST"))).status).toBe(200);
    expect(journal().tracked).toEqual([`g${first.generation}`]);
    const second = await state();
    expect(second.generation).toBeGreaterThan(first.generation);
    expect(second.created_by).toBe(first.generation); // the same object
    expect(journal().creates).toBe(1);
    expect(journal().disposals).toEqual(["reload"]);
    expect(journal().closes).toEqual([]);
    await waitFor(async () => (await state()).ticks > second.ticks, 1000, "the kept resource's timer to keep ticking");

    // The retired generation's context refuses every call, emit included.
    const old = journal().contexts[0]!;
    expect(() => old.emit("keeper.late", null)).toThrow(/PLUGIN_CONTEXT_CLOSED|disposed or gone/);
    expect(() => old.setTimeout(() => {}, 1)).toThrow(/disposed or gone/);

    expect((await g.api("/api/v1/plugins/keeper/disable", json("POST"))).status).toBe(200);
    expect(journal().disposals).toEqual(["reload", "disable"]);
    expect(journal().closes.map((c) => c.reason)).toEqual(["disable"]);
    const ticks = journal().closes[0]!.ticks;
    await Bun.sleep(50);
    expect(journal().closes[0]!.ticks).toBe(ticks); // its timer stopped with it

    expect((await g.api("/api/v1/plugins/keeper/enable", json("POST"))).status).toBe(200);
    expect(journal().creates).toBe(2); // nothing held it: created afresh
    expect((await g.api("/api/v1/plugins/keeper", { method: "DELETE" })).status).toBe(200);
    expect(journal().disposals).toEqual(["reload", "disable", "uninstall"]);
    expect(journal().closes.map((c) => c.reason)).toEqual(["disable", "uninstall"]);
    expect((await (await g.api("/api/v1/plugins/leaks")).json()).kept).toEqual([]);
  });
});

describe("what the kernel reports about leaked work", () => {
  test("a raw interval calling ctx after uninstall, and a child spawned around ctx.spawn", async () => {
    const events: string[] = [];
    g.gantry.core.events.subscribe("leaky.*", (e) => void events.push(e.type));
    expect((await g.api("/api/v1/plugins", json("POST", { path: join(LIFECYCLE_PLUGINS, "leaky") }))).status).toBe(201);
    const leaked = (globalThis as unknown as { leakyFixture: { interval: ReturnType<typeof setInterval>; pid: number } }).leakyFixture;
    try {
      const before = await (await g.api("/api/v1/plugins/leaks")).json();
      expect(before.unowned_processes.map((p: { pid: number }) => p.pid)).toContain(leaked.pid);
      expect(before.unowned_processes.find((p: { pid: number }) => p.pid === leaked.pid).command).toEqual(["sleep", "30"]);
      await waitFor(() => events.includes("leaky.owned") && events.includes("leaky.tick"), 2000, "both intervals to fire");

      expect((await g.api("/api/v1/plugins/leaky", { method: "DELETE" })).status).toBe(200);
      events.length = 0;
      await waitFor(async () => (await (await g.api("/api/v1/plugins/leaks")).json()).late_calls.some((c: { plugin: string }) => c.plugin === "leaky"), 2000, "the late call report");
      const report = await (await g.api("/api/v1/plugins/leaks")).json();
      expect(report.late_calls.find((c: { plugin: string }) => c.plugin === "leaky")).toMatchObject({ plugin: "leaky", call: "emit" });
      expect(events).toEqual([]); // the owned interval was cleared; the raw one's emits were refused
      expect(running(leaked.pid)).toBe(true); // the kernel could not stop what it never owned: it names it instead
      expect(report.unowned_processes.map((p: { pid: number }) => p.pid)).toContain(leaked.pid);
      expect((await g.api("/api/v1/plugins/leaks", { auth: false })).status).toBe(401);
    } finally {
      clearInterval(leaked.interval);
      process.kill(leaked.pid, "SIGKILL");
    }
  });
});

describe("ctx.db", () => {
  test("sees the plugin's tables and core's readable ones, not credentials: builders, raw SQL, transactions and the driver are refused", async () => {
    expect((await g.api("/api/v1/plugins", json("POST", { path: join(LIFECYCLE_PLUGINS, "snoop") }))).status).toBe(201);
    for (const what of ["builder", "raw", "driver", "transaction"]) {
      expect(await (await g.api(`/api/v1/snoop/try/${what}`)).json()).toEqual({ ok: false, code: "PLUGIN_DB_TABLE_HIDDEN" });
    }
    expect(await (await g.api("/api/v1/snoop/try/allowed")).json()).toMatchObject({ ok: true });
    expect((await g.api("/api/v1/plugins/snoop", { method: "DELETE" })).status).toBe(200);
  });
});
