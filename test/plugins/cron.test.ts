import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { pickTables } from "../../core/storage/tables.ts";
import * as cronPg from "../../plugins/cron/schema-pg.ts";
import * as cronSqlite from "../../plugins/cron/schema.ts";
import { join } from "node:path";
import { ADMIN_KEY, BUILTIN_PLUGINS, FIXTURE_PLUGINS, json, startGantry, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;
let operator: string;

beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, plugin: { cron: { history_per_job: 5, max_result_bytes: 200 } } } });
  expect((await g.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "chores") }))).status).toBe(201);
  viewer = (await g.gantry.security.keys.create("cron-viewer", "viewer")).key;
  operator = (await g.gantry.security.keys.create("cron-operator", "operator")).key;
});
afterAll(() => g.stop());

async function createJob(body: Record<string, unknown>) {
  const res = await g.api("/api/v1/cron/jobs", json("POST", { schedule: "0 0 1 1 *", ...body }));
  expect(res.status).toBe(201);
  return res.json();
}
const runs = async (id: string, query = "") => (await (await g.api(`/api/v1/cron/jobs/${id}/runs${query}`)).json()).runs as { id: number; status: string; trigger: string; result: unknown; error: string | null }[];

describe("jobs", () => {
  test("create, read, update, delete; the documented roles", async () => {
    const job = await createJob({ name: "yearly", command: "/chores:count", description: "once a year", timezone: "Europe/Berlin" });
    expect(job).toMatchObject({ name: "yearly", enabled: true, timeout_s: 300, running: false, last_run: null, timezone: "Europe/Berlin" });
    expect(job.id).toMatch(/^cj_/);
    expect(Date.parse(job.next_run_at)).toBeGreaterThan(Date.now());
    expect((await (await g.api(`/api/v1/cron/jobs/${job.id}`, { auth: viewer })).json()).name).toBe("yearly");
    expect((await (await g.api("/api/v1/cron/jobs", { auth: viewer })).json()).jobs.map((j: { name: string }) => j.name)).toContain("yearly");
    expect((await g.api(`/api/v1/cron/jobs/${job.id}/runs`, { auth: viewer })).status).toBe(200);
    expect((await g.api("/api/v1/cron/jobs", { ...json("POST", { name: "nope", schedule: "* * * * *", command: "/chores:count" }), auth: operator })).status).toBe(403);
    expect((await g.api(`/api/v1/cron/jobs/${job.id}/run`, { ...json("POST"), auth: operator })).status).toBe(403);
    expect((await g.api(`/api/v1/cron/jobs/${job.id}`, { ...json("PUT", { enabled: false }), auth: viewer })).status).toBe(403);

    const paused = await (await g.api(`/api/v1/cron/jobs/${job.id}`, json("PUT", { enabled: false, schedule: "*/5 * * * *" }))).json();
    expect(paused).toMatchObject({ enabled: false, schedule: "*/5 * * * *", next_run_at: null });
    expect(await (await g.api(`/api/v1/cron/jobs/${job.id}`, { method: "DELETE" })).json()).toEqual({ message: "Cron job deleted" });
    expect((await g.api(`/api/v1/cron/jobs/${job.id}`)).status).toBe(404);
    expect((await g.api(`/api/v1/cron/jobs/${job.id}/runs`)).status).toBe(404);
  });

  test("bad input is a 400 naming the problem; a duplicate name 409; nothing is stored", async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ name: "bad-schedule", schedule: "every day", command: "/chores:count" }, 400, "SCHEDULE_INVALID"],
      [{ name: "bad-minute", schedule: "61 * * * *", command: "/chores:count" }, 400, "SCHEDULE_INVALID"],
      [{ name: "bad-zone", schedule: "* * * * *", timezone: "Mars/Olympus", command: "/chores:count" }, 400, "TIMEZONE_INVALID"],
      [{ name: "not-slash", schedule: "* * * * *", command: "chores count" }, 400, "COMMAND_INVALID"],
      [{ name: "unknown", schedule: "* * * * *", command: "/ghost:haunt" }, 400, "COMMAND_UNKNOWN"],
      [{ name: "../etc", schedule: "* * * * *", command: "/chores:count" }, 400, "VALIDATION_FAILED"],
      [{ name: "zero-timeout", schedule: "* * * * *", command: "/chores:count", timeout_s: 0 }, 400, "VALIDATION_FAILED"],
    ];
    for (const [body, status, code] of cases) {
      const res = await g.api("/api/v1/cron/jobs", json("POST", body));
      expect([res.status, (await res.json()).code]).toEqual([status, code]);
    }
    await createJob({ name: "twice", command: "/chores:count" });
    const again = await g.api("/api/v1/cron/jobs", json("POST", { name: "twice", schedule: "* * * * *", command: "/chores:count" }));
    expect([again.status, (await again.json()).code]).toEqual([409, "JOB_EXISTS"]);
    const names = (await (await g.api("/api/v1/cron/jobs")).json()).jobs.map((j: { name: string }) => j.name);
    expect(names.filter((n: string) => cases.some(([body]) => body.name === n))).toEqual([]);
  });
});

describe("runs", () => {
  test("a schedule runs the command; cron_run events; disabling stops it; run-now still works", async () => {
    const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/ws?api_key=${ADMIN_KEY}&types=cron_run`);
    const events: { data: { job: string; status: string; trigger: string } }[] = [];
    ws.onmessage = (m) => events.push(JSON.parse(String(m.data)));
    await new Promise((resolve) => (ws.onopen = resolve));
    const job = await createJob({ name: "every-second", schedule: "* * * * * *", command: "/chores:count" });
    await waitFor(async () => (await runs(job.id)).filter((r) => r.status === "succeeded").length >= 2, 4000, "two scheduled runs");
    const [latest] = await runs(job.id);
    expect(latest).toMatchObject({ trigger: "schedule", status: "succeeded", error: null });
    expect((latest!.result as { calls: number }).calls).toBeGreaterThan(0);
    await waitFor(() => events.filter((e) => e.data.job === "every-second" && e.data.status === "succeeded").length >= 2, 2000, "cron_run events");
    ws.close();

    await g.api(`/api/v1/cron/jobs/${job.id}`, json("PUT", { enabled: false }));
    const count = (await runs(job.id)).length;
    await Bun.sleep(1500);
    expect((await runs(job.id)).length).toBe(count);
    const manual = await (await g.api(`/api/v1/cron/jobs/${job.id}/run`, json("POST"))).json();
    expect(manual).toMatchObject({ trigger: "manual", actor: "key:bootstrap-admin", status: "succeeded" });
  });

  test("a failing command is a failed run; a slow one times out; a busy job refuses run-now and skips its ticks", async () => {
    const failing = await createJob({ name: "failing", command: "/chores:fail disk on fire" });
    const failed = await (await g.api(`/api/v1/cron/jobs/${failing.id}/run`, json("POST"))).json();
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain("disk on fire");

    const slow = await createJob({ name: "slow", command: "/chores:sleep 1500", timeout_s: 1 });
    const timedOut = await (await g.api(`/api/v1/cron/jobs/${slow.id}/run`, json("POST"))).json();
    expect(timedOut.status).toBe("timed_out");
    expect(timedOut.duration_ms).toBeGreaterThanOrEqual(990);

    const busy = await createJob({ name: "busy", command: "/chores:sleep 2500", timeout_s: 10 });
    const started = await g.api(`/api/v1/cron/jobs/${busy.id}/run?wait=false`, json("POST"));
    expect(started.status).toBe(202);
    expect((await started.json()).status).toBe("running");
    const refused = await g.api(`/api/v1/cron/jobs/${busy.id}/run`, json("POST"));
    expect([refused.status, (await refused.json()).code]).toEqual([409, "JOB_RUNNING"]);
    expect((await (await g.api(`/api/v1/cron/jobs/${busy.id}`)).json()).running).toBe(true);
    await g.api(`/api/v1/cron/jobs/${busy.id}`, json("PUT", { schedule: "* * * * * *" }));
    await waitFor(async () => (await runs(busy.id)).some((r) => r.status === "skipped"), 3000, "a skipped tick");
    await g.api(`/api/v1/cron/jobs/${busy.id}`, json("PUT", { enabled: false }));
    await waitFor(async () => (await runs(busy.id, "?status=succeeded")).length === 1, 4000, "the slow run to end");
  });

  test("history keeps history_per_job runs, pages with before_id; long results are cut to max_result_bytes", async () => {
    const job = await createJob({ name: "chatty", command: "/chores:big 500" });
    for (let i = 0; i < 7; i++) await g.api(`/api/v1/cron/jobs/${job.id}/run`, json("POST"));
    const all = await runs(job.id);
    expect(all).toHaveLength(5);
    const page = await (await g.api(`/api/v1/cron/jobs/${job.id}/runs?limit=2`)).json();
    expect(page.runs).toHaveLength(2);
    const next = await (await g.api(`/api/v1/cron/jobs/${job.id}/runs?limit=2&before_id=${page.next_before_id}`)).json();
    expect(next.runs[0].id).toBeLessThan(page.runs[1].id);
    expect(typeof all[0]!.result).toBe("string");
    expect(all[0]!.result as string).toContain("[truncated: 502 bytes]");
  });

  test("/cron:run runs a job by name through the slash-command API", async () => {
    await createJob({ name: "by-name", command: "/chores:count" });
    const res = await g.api("/api/v1/plugins/commands/cron:run/invoke", json("POST", { arguments: "by-name" }));
    expect(res.status).toBe(200);
    expect((await res.json()).result).toMatchObject({ trigger: "manual", status: "succeeded" });
    const missing = await g.api("/api/v1/plugins/commands/cron:run/invoke", json("POST", { arguments: "no-such-job" }));
    expect(missing.status).toBe(422);
  });

  test("a run a previous gantry process left running is recorded as interrupted; a reload re-arms jobs and lets a run in progress finish", async () => {
    const job = await createJob({ name: "survivor", schedule: "*/10 * * * *", command: "/chores:count" });
    const { cronRuns } = pickTables(g.gantry.core.database.db, { sqlite: cronSqlite, pg: cronPg });
    await g.gantry.core.database.db.insert(cronRuns).values({ jobId: job.id, trigger: "schedule", actor: "cron:survivor", status: "running", startedAt: new Date(Date.now() - 3_600_000) });
    const slow = await createJob({ name: "through-reload", command: "/chores:sleep 600" });
    const inFlight = await (await g.api(`/api/v1/cron/jobs/${slow.id}/run?wait=false`, json("POST"))).json();
    // Reload stages the new instance beside the old one, whose timers still exist (croner's job names are global: not used).
    expect((await g.api("/api/v1/plugins/cron/reload", json("POST"))).status).toBe(200);
    const [run] = await runs(job.id);
    expect(run).toMatchObject({ status: "failed", error: "interrupted: gantry stopped during the run" });
    expect((await (await g.api(`/api/v1/cron/jobs/${job.id}`)).json()).next_run_at).not.toBeNull();
    // A run of this process in progress during the reload is not "interrupted": it ends and is recorded.
    await waitFor(async () => (await runs(slow.id)).some((r) => r.id === inFlight.id && r.status === "succeeded"), 3000, "the in-flight run to finish");
  });
});
