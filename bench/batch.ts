/**
 * bench/batch: agent runs per second through a batch (concurrency 4) against the same runs invoked
 * over the API by 4 concurrent clients, same run, same agent and stand-in model.
 */
import { ADMIN_KEY, STAND_IN_MODEL_SERVER } from "../test/helpers.ts";
import { freePort, round, spawnGantry } from "./lib.ts";

const LINES = Number(process.env.LINES ?? 300);
const CONCURRENCY = 4;
const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false",
  GANTRY_PLUGIN__AGENT__DEFAULT_MODEL: '"brain"', GANTRY_PLUGIN__AGENT__AGENTS: JSON.stringify({ echo: { prompt: "Repeat." } }), GANTRY_PLUGIN__AGENT__RUNS_KEPT: "100000",
  GANTRY_PLUGIN__BATCH__CONCURRENCY: String(CONCURRENCY),
});
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
const post = async (path: string, body: string, type = "application/json") => {
  const res = await fetch(`${server.url}${path}`, { method: "POST", headers: { ...headers, "content-type": type }, body });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
await post("/api/v1/instances", JSON.stringify({ name: "brain", backend: "command", model_path: "brain", port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] }));
await post("/api/v1/instances/brain/start", "{}");

async function viaApi(n: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < n) await post("/api/v1/agents/echo/invoke", JSON.stringify({ input: `line ${next}` }));
  }));
  return n / ((performance.now() - t0) / 1000);
}
async function viaBatch(id: string, n: number): Promise<number> {
  const body = Array.from({ length: n }, (_, i) => JSON.stringify({ agent: "echo", input: `line ${i}` })).join("\n");
  const t0 = performance.now();
  await post(`/api/v1/batch/${id}`, body, "application/x-ndjson");
  for (;;) {
    const status = await (await fetch(`${server.url}/api/v1/batch/${id}/status`, { headers })).json();
    if (status.status === "completed") break;
    await Bun.sleep(10);
  }
  return n / ((performance.now() - t0) / 1000);
}
await viaApi(40);
await viaBatch("warm-up", 40);
const api = await viaApi(LINES);
const batch = await viaBatch("measured", LINES);
await server.stop();
console.log(JSON.stringify({ bench: "batch", lines: LINES, concurrency: CONCURRENCY, api_runs_per_s: round(api, 1), batch_runs_per_s: round(batch, 1), batch_vs_api: round(batch / api, 3) }, null, 2));
