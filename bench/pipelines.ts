/**
 * bench/pipelines: what a pipeline adds per phase. A run of PHASES empty command phases in a chain
 * (each needs the one before) vs invoking the same command PHASES times directly over HTTP, in the
 * same run on the same server: per-phase ms and runs per second.
 */
import { ADMIN_KEY } from "../test/helpers.ts";
import { percentile, round, sequentialTimes, spawnGantry } from "./lib.ts";

const RUNS = Number(process.env.RUNS ?? 30);
const PHASES = Number(process.env.PHASES ?? 10);
const COMMAND = "/cron:list";
const phases = Object.fromEntries(Array.from({ length: PHASES }, (_, i) => [`p${i}`, { command: COMMAND, ...(i > 0 ? { needs: [`p${i - 1}`] } : {}) }]));
const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false",
  GANTRY_PLUGINS__DISABLED: "cache,mcp", GANTRY_PIPELINES__CHAIN: JSON.stringify({ phases }),
});
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};

const direct = () => (async () => {
  for (let i = 0; i < PHASES; i++) await call("POST", `/api/v1/plugins/commands/${COMMAND.slice(1)}/invoke`, {});
})();
const pipeline = async () => {
  const { run_id } = await call("POST", "/api/v1/pipelines", { template: "chain" });
  for (;;) {
    const run = await call("GET", `/api/v1/pipelines/${run_id}`);
    if (run.state === "succeeded") return;
    if (run.state !== "running") throw new Error(`run ${run_id} ${run.state}: ${run.error}`);
    await Bun.sleep(1);
  }
};
await sequentialTimes(3, direct);
await sequentialTimes(3, pipeline);
const directTimes = await sequentialTimes(RUNS, direct);
const pipelineTimes = await sequentialTimes(RUNS, pipeline);
await server.stop();

const p50 = (xs: number[]) => percentile(xs, 50);
console.log(JSON.stringify({
  bench: "pipelines",
  runs: RUNS, phases_per_run: PHASES,
  direct: { p50_ms: round(p50(directTimes), 3), per_command_ms: round(p50(directTimes) / PHASES, 3) },
  pipeline: { p50_ms: round(p50(pipelineTimes), 3), per_phase_ms: round(p50(pipelineTimes) / PHASES, 3), runs_per_s: round(1000 / p50(pipelineTimes), 2) },
  added_per_phase_ms: round((p50(pipelineTimes) - p50(directTimes)) / PHASES, 3),
  ratio: round(p50(pipelineTimes) / p50(directTimes), 2),
}, null, 2));
