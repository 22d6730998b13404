/**
 * Chaos: gantry is killed with -9 at random moments (seeded) while a cron job, a batch run, a model
 * server and an agent run waiting at an approval gate are in flight, then restarted on the same data.
 * Asserted: no model server of the previous run alive when /healthz first answers, no batch line
 * lost or run twice, no cron run left "running" or duplicated, no agent run left in flight, the
 * database intact, and the interrupted batch resumes to completion.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { Database } from "bun:sqlite";
import { ADMIN_KEY, freePort, portRangeEnv, reservePortBlock, STAND_IN_MODEL_SERVER, tempDir, waitFor } from "../helpers.ts";

const KILLS = Number(process.env.CHAOS_KILLS ?? 3);
const SEED = Number(process.env.CHAOS_SEED ?? 11);
const LINES = 12;
const dataDir = tempDir();
// Model-server ports held by this file alone, the same for every gantry it boots on the data dir.
const modelPorts = await reservePortBlock();
const started: Subprocess[] = [];
afterAll(() => {
  for (const proc of started) proc.kill("SIGKILL");
});

/** A small seeded generator (mulberry32), so a failing schedule of kills can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function groupMembers(group: number): number[] {
  return readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return state !== "Z" && Number(pgrp) === group;
    } catch {
      return false;
    }
  });
}

async function boot() {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../core/main.ts"), "serve", "--port", String(port)], {
    env: {
      PATH: process.env.PATH ?? "", GANTRY_DATA_DIR: dataDir, GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_LOG__LEVEL: "warn",
      GANTRY_PLUGINS__DISABLED: '["cache", "mcp"]', GANTRY_RATE_LIMIT__ENABLED: "false",
      ...portRangeEnv(modelPorts), GANTRY_PLUGIN__BATCH__CONCURRENCY: "2",
      GANTRY_PLUGIN__AGENT__DEFAULT_MODEL: "brain",
      GANTRY_PLUGIN__AGENT__AGENTS: JSON.stringify({ echo: { prompt: "Repeat.", tools: ["/scripts:run", "/cron:list"], allow: ["/scripts:run"], ask: ["/cron:list"] } }),
    },
    stdout: "ignore", stderr: "ignore",
  });
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  for (;;) {
    if ((await fetch(`${url}/healthz`).catch(() => null))?.status === 200) break;
    if (performance.now() - t0 > 60_000) throw new Error("gantry did not answer /healthz within 60 s");
    await Bun.sleep(5);
  }
  const call = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json", ...(init.headers ?? {}) } });
  return { proc, call, healthzMs: performance.now() - t0 };
}

test("kill -9 at random points loses nothing, duplicates nothing and leaves no orphan", async () => {
  const next = random(SEED);
  let g = await boot();
  const model = [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "brain", "--latency-ms", "40"];
  expect((await g.call("/api/v1/instances", { method: "POST", body: JSON.stringify({ name: "brain", backend: "command", model_path: "brain", on_demand_start: true, command: model }) })).status).toBe(201);
  const job = await (await g.call("/api/v1/cron/jobs", { method: "POST", body: JSON.stringify({ name: "tick", schedule: "* * * * * *", command: "/scripts:run 1 + 1" }) })).json();
  const lines = Array.from({ length: LINES }, (_, i) => JSON.stringify({ custom_id: `l${i}`, agent: "echo", input: `line ${i}` })).join("\n");
  expect((await g.call("/api/v1/batch/chaos", { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: lines })).status).toBe(202);

  const figures: { killAfterMs: number; healthzMs: number; orphans: number }[] = [];
  for (let round = 0; round < KILLS; round++) {
    // Something in flight at the kill: a run waiting at a gate and the model server running.
    await g.call("/api/v1/agents/echo/invoke", { method: "POST", body: JSON.stringify({ input: "CALL cron__list {}", wait: false }) });
    const serverPid = (await (await g.call("/api/v1/instances/brain")).json()).pid as number | null;
    const killAfterMs = Math.round(100 + next() * 900);
    await Bun.sleep(killAfterMs);
    g.proc.kill("SIGKILL");
    await g.proc.exited;
    g = await boot();
    const orphans = serverPid ? groupMembers(serverPid) : [];
    figures.push({ killAfterMs, healthzMs: Math.round(g.healthzMs), orphans: orphans.length });
    expect(orphans).toEqual([]); // checked right at the first 200 of /healthz
    const batch = await (await g.call("/api/v1/batch/chaos/status")).json();
    if (batch.status === "interrupted") expect((await g.call("/api/v1/batch/chaos/resume", { method: "POST" })).status).toBeLessThan(300);
  }

  // The interrupted work resumes to completion; every line exactly once.
  await waitFor(async () => (await (await g.call("/api/v1/batch/chaos/status")).json()).status === "completed", 60_000, "the resumed batch to complete");
  const results = (await (await g.call("/api/v1/batch/chaos/results")).text()).trim().split("\n").map((l) => JSON.parse(l));
  expect(results.map((r) => r.line)).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
  if (results.some((r) => r.status !== "succeeded")) console.log("chaos results:", JSON.stringify(results.slice(0, 3)));
  expect(results.filter((r) => r.status === "succeeded").length).toBe(LINES);

  g.proc.kill("SIGTERM");
  await g.proc.exited;
  const db = new Database(`${dataDir}/gantry.db`, { readonly: true });
  expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  const cronRuns = db.query("SELECT id, status FROM cron_runs WHERE job_id = ?").all(job.id) as { id: number; status: string }[];
  expect(new Set(cronRuns.map((r) => r.id)).size).toBe(cronRuns.length);
  expect(cronRuns.filter((r) => r.status === "running")).toEqual([]);
  expect(cronRuns.length).toBeGreaterThan(0); // the job did fire in between the kills
  const inFlight = db.query("SELECT COUNT(*) AS n FROM agent_runs WHERE status IN ('running', 'waiting_approval')").get() as { n: number };
  expect(inFlight.n).toBe(0);
  const items = db.query("SELECT line, COUNT(*) AS n FROM batch_items WHERE run_id = 'chaos' GROUP BY line HAVING n > 1").all();
  expect(items).toEqual([]);
  db.close();
  console.log(`chaos: ${KILLS} kills (seed ${SEED}) ${JSON.stringify(figures)}; ${cronRuns.length} cron runs, ${LINES} batch lines`);
}, 300_000); // five boots of a gantry subprocess on a loaded machine
