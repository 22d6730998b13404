/**
 * bench/deployments: what a deployment costs the client and how fast it switches.
 * 1. Client latency through a served name with shadowing on (sample_rate 1 and 0.1) vs off, same
 *    run, interleaved blocks of sequential requests (the baseline: the same served name, no shadow).
 *    The client path may slow by at most 0.05 ms at p50; the mirrors' own work runs after the answer.
 *    Paced: a 3 ms pause between requests, so the mirror (and the challenger's server) gets CPU of its
 *    own as on a machine with spare cores; back to back: the mirror competes with the next request.
 * 2. Promotion switch time under load (8 clients): from the approval's POST to the first answer of the
 *    new version, and a rollback's round trip; failed requests counted (must be 0).
 */
import { ADMIN_KEY, STAND_IN_MODEL_SERVER } from "../test/helpers.ts";
import { freePort, percentile, round, spawnGantry } from "./lib.ts";

const BLOCK = Number(process.env.BLOCK ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const server = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false", GANTRY_PLUGIN__INSTANCES__LOG_INFERENCE: "false" });
const call = async (path: string, body: unknown, key = ADMIN_KEY) => {
  const res = await fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
for (const [name, prefix] of [["v1", "one: "], ["v2", "two: "]] as const) {
  await call("/api/v1/instances", { name, backend: "command", model_path: name, port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--answer-prefix", prefix] });
  await call(`/api/v1/instances/${name}/start`, {});
}
const approver = (await call("/api/v1/auth/keys", { name: "approver", role: "operator" })).key as string;
/** Asks as the admin, approves as the other key; answers when the approval's POST was sent. */
async function promote(version: string): Promise<number> {
  const promotion = await call("/api/v1/deployments/promote", { model: "chat", version, comment: "bench" });
  const sent = performance.now();
  await call(`/api/v1/approvals/${promotion.gate_id}/approve`, {}, approver);
  return sent;
}
await promote("v1");
const body = JSON.stringify({ model: "chat", messages: [{ role: "user", content: "hello" }] });
const chat = async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body });
  const text = await res.text();
  return { ok: res.status === 200, v2: text.includes("two: ") };
};
for (let i = 0; i < 20 && !(await chat()).ok; i++) await Bun.sleep(100); // the switch lands

async function block(pauseMs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < BLOCK; i++) {
    const t0 = performance.now();
    await chat();
    times.push(performance.now() - t0);
    if (pauseMs > 0) await Bun.sleep(pauseMs);
  }
  return times;
}
type Sides = Record<"off" | "rate_1" | "rate_0_1", number[]>;
const p50 = (xs: number[]) => round(percentile(xs, 50), 3);
async function compare(pauseMs: number) {
  const samples: Sides = { off: [], rate_1: [], rate_0_1: [] };
  await block(pauseMs); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    samples.off.push(...(await block(pauseMs)));
    await call("/api/v1/deployments/shadow-start", { model: "chat", challenger: "v2", sample_rate: 1 });
    samples.rate_1.push(...(await block(pauseMs)));
    await call("/api/v1/deployments/shadow-stop", { model: "chat" });
    await call("/api/v1/deployments/shadow-start", { model: "chat", challenger: "v2", sample_rate: 0.1 });
    samples.rate_0_1.push(...(await block(pauseMs)));
    await call("/api/v1/deployments/shadow-stop", { model: "chat" });
  }
  return {
    requests_per_side: samples.off.length,
    p50_ms: { shadow_off: p50(samples.off), shadow_rate_1: p50(samples.rate_1), shadow_rate_0_1: p50(samples.rate_0_1) },
    p50_added_ms: { shadow_rate_1: round(p50(samples.rate_1) - p50(samples.off), 3), shadow_rate_0_1: round(p50(samples.rate_0_1) - p50(samples.off), 3), target: 0.05 },
    p99_ms: { shadow_off: round(percentile(samples.off, 99), 3), shadow_rate_1: round(percentile(samples.rate_1, 99), 3), shadow_rate_0_1: round(percentile(samples.rate_0_1, 99), 3) },
  };
}
const paced = await compare(3);
const backToBack = await compare(0);

// Switch under load: 8 clients; each answer's time is kept, so the first v2 answer dates the switch.
let running = true;
let failed = 0;
const answers: { at: number; v2: boolean }[] = [];
const clients = Array.from({ length: 8 }, async () => {
  while (running) {
    const r = await chat();
    if (!r.ok) failed++;
    answers.push({ at: performance.now(), v2: r.v2 });
  }
});
await Bun.sleep(500);
const approvedAt = await promote("v2");
while (!answers.some((a) => a.v2 && a.at > approvedAt)) await Bun.sleep(1);
const switchMs = answers.find((a) => a.v2 && a.at > approvedAt)!.at - approvedAt;
await Bun.sleep(300);
const rollbackSent = performance.now();
await call("/api/v1/deployments/rollback", { model: "chat" });
const rollbackMs = performance.now() - rollbackSent;
await Bun.sleep(300);
running = false;
await Promise.all(clients);
await server.stop();
console.log(JSON.stringify({
  bench: "deployments", client_paced_3ms: paced, client_back_to_back: backToBack,
  switch_under_load: { clients: 8, approval_to_first_new_answer_ms: round(switchMs, 1), rollback_round_trip_ms: round(rollbackMs, 1), requests: answers.length, failed },
}, null, 2));
