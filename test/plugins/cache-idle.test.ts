/**
 * Idle means idle: with nothing to do, the cache scheduler sleeps instead of reading the queues every
 * tick. Observed through the database's statement count (every statement gantry sends).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, databaseSettled, startGantry, waitFor, type TestGantry } from "../helpers.ts";

const INTERNAL_KEY = "cache-idle-internal-key";
const started: TestGantry[] = [];
afterAll(() => Promise.all(started.map((g) => g.stop())));

/** Statements sent over `ms`, after earlier background writes have settled. */
async function statementsOver(g: TestGantry, ms: number): Promise<number> {
  const before = await databaseSettled(g, 200);
  await Bun.sleep(ms);
  return g.gantry.core.database.statements() - before;
}

const scheduler = async (g: TestGantry) =>
  (await (await g.api("/periodic-threads/cache-scheduler")).json()) as { total_runs: number; is_sleeping: boolean; is_active: boolean; last_summary: string | null };

describe("idle cache scheduler", () => {
  test("with no hosts configured, an idle gantry with every built-in plugin sends no database statement at all", async () => {
    // A 50 ms tick: a scheduler that polled would send 40 queue reads in the window; a deployments check
    // every second that did not sleep (with nothing to promote and no fleet to follow) would send two.
    const g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { plugin: { cache: { tick_s: 0.05 }, deployments: { check_interval_s: 1 } } } });
    started.push(g);
    await waitFor(async () => (await scheduler(g)).is_sleeping, 5000, "the scheduler to sleep");
    const deployments = async () => (await (await g.api("/periodic-threads/deployments-gates-and-warm")).json()) as { is_sleeping: boolean };
    await waitFor(async () => (await deployments()).is_sleeping, 5000, "the deployments check to sleep");
    expect(await statementsOver(g, 2000)).toBe(0);
    const task = await scheduler(g);
    expect(task).toMatchObject({ is_sleeping: true, is_active: true, last_summary: "no hosts configured: sleeping" });
    expect((await (await g.api("/periodic-threads-health")).json()).healthy).toBe(true);
  });

  test("with a host and empty queues it reads them once and sleeps; a queued entry wakes it", async () => {
    const g = await startGantry({
      builtins: BUILTIN_PLUGINS,
      config: {
        auth: { internal_key: INTERNAL_KEY },
        rate_limit: { enabled: false }, // the test polls /status faster than 100 requests a minute
        plugin: { deployments: { check_interval_s: 3600 }, cache: { tick_s: 0.05, scheduler_control_api: true, hosts: [{ id: 1, name: "site", origins: ["http://127.0.0.1:9"], dimensions: [{ id: 1, name: "desktop", width: 800, height: 600, user_agent: "Bot/1.0" }] }] } },
      },
    });
    started.push(g);
    const internal = (path: string, body?: unknown) =>
      fetch(`${g.url}${path}`, { method: body === undefined ? "GET" : "POST", headers: { "x-internal-auth": INTERNAL_KEY, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    await waitFor(async () => (await scheduler(g)).is_sleeping, 5000, "the scheduler to sleep");
    const runs = (await scheduler(g)).total_runs;
    expect(await statementsOver(g, 1500)).toBe(0);
    expect((await scheduler(g)).total_runs).toBe(runs);
    // Paused, a queued entry waits; resumed, the scheduler takes it at once (no render needs to succeed for that).
    expect((await internal("/internal/scheduler/pause", {})).status).toBe(200);
    expect((await internal("/internal/cache/recache", { host_id: 1, urls: ["http://127.0.0.1:9/never"], priority: "high" })).status).toBe(200);
    await Bun.sleep(300);
    expect((await (await internal("/status")).json()).queues["1"].high.total).toBe(1);
    expect((await internal("/internal/scheduler/resume", {})).status).toBe(200);
    // Taken: a render of it runs (the claimed entry stays queued until the render ends), or it already ended.
    await waitFor(async () => {
      const status = await (await internal("/status")).json();
      return status.internal_queue.size > 0 || status.queues["1"]?.high.total !== 1;
    }, 10_000, "the entry to be taken");
    expect((await scheduler(g)).total_runs).toBeGreaterThan(runs);
  });
});
