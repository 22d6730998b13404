/**
 * bench/cron: how late scheduled runs start after their second (a job every second, 10 ticks),
 * and the cost of a run (manual runs of a trivial command, back to back: runs/s and p50/p99, with a
 * plain slash-command invocation of the same command as the baseline).
 */
import { ADMIN_KEY } from "../test/helpers.ts";
import { percentile, round, sequentialTimes, spawnGantry } from "./lib.ts";

const TICKS = Number(process.env.TICKS ?? 10);
const RUNS = Number(process.env.RUNS ?? 300);
const server = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false", GANTRY_PLUGIN__CRON__HISTORY_PER_JOB: "1000" });
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
const post = (path: string, body?: unknown) => fetch(`${server.url}${path}`, { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });

const ticking = await (await post("/api/v1/cron/jobs", { name: "tick", schedule: "* * * * * *", command: "/cron:list" })).json();
await Bun.sleep((TICKS + 1.5) * 1000);
await fetch(`${server.url}/api/v1/cron/jobs/${ticking.id}`, { method: "PUT", headers, body: JSON.stringify({ enabled: false }) });
const ticks = (await (await fetch(`${server.url}/api/v1/cron/jobs/${ticking.id}/runs?limit=${TICKS}`, { headers })).json()).runs as { started_at: string }[];
const lateness = ticks.map((r) => Date.parse(r.started_at) % 1000);

const timed = (call: () => Promise<Response>) => sequentialTimes(RUNS, async () => {
  const res = await call();
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`status ${res.status}`);
});
const manual = await (await post("/api/v1/cron/jobs", { name: "manual", schedule: "0 0 1 1 *", command: "/cron:list" })).json();
await timed(() => post(`/api/v1/cron/jobs/${manual.id}/run`)); // warm-up
const runs = await timed(() => post(`/api/v1/cron/jobs/${manual.id}/run`));
const invokes = await timed(() => post("/api/v1/plugins/commands/cron:list/invoke", {}));
await server.stop();

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
console.log(JSON.stringify({
  bench: "cron",
  tick_lateness_ms: { ticks: lateness.length, p50: percentile(lateness, 50), max: Math.max(...lateness) },
  run_now: { runs: RUNS, runs_per_s: round(RUNS / (sum(runs) / 1000), 0), p50_ms: round(percentile(runs, 50), 3), p99_ms: round(percentile(runs, 99), 3) },
  invoke_baseline: { per_s: round(RUNS / (sum(invokes) / 1000), 0), p50_ms: round(percentile(invokes, 50), 3), p99_ms: round(percentile(invokes, 99), 3) },
  run_cost_over_invoke_p50_ms: round(percentile(runs, 50) - percentile(invokes, 50), 3),
}, null, 2));
