/**
 * bench/idle: what an idle gantry costs. Gantry starts with every plugin and INSTANCES running stand-in
 * model servers, settles, then nothing calls it for SECONDS: its CPU seconds per 10 s and its threads'
 * context switches per second (wakeups) over that window. Goal: < 0.1 CPU-seconds per 10 s.
 * The same window is measured for a bare Bun server (bench/bare-server.ts) as the runtime's own floor.
 */
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ADMIN_KEY, STAND_IN_MODEL_SERVER as STAND_IN } from "../test/helpers.ts";
import { cpuSecondsOf, freePort, round, spawnGantry } from "./lib.ts";

const INSTANCES = Number(process.env.INSTANCES ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 30);
/** After start-up the runtime's collector keeps sweeping the freshly loaded heap for a while: not idle cost. */
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 15_000);

/** Context switches of each thread of `pid`, by thread id: each is a wakeup (or a preemption). */
function switchesOf(pid: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
      counts.set(task, [...status.matchAll(/_ctxt_switches:\s+(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0));
    } catch {
      // the thread ended meanwhile
    }
  }
  return counts;
}

/** Wakeups between two readings, over the threads alive at both (a thread that ended takes its count with it). */
function wakeupsBetween(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [task, n] of after) total += n - (before.get(task) ?? 0);
  return total;
}

async function idle(pid: number) {
  await Bun.sleep(SETTLE_MS);
  const cpu = cpuSecondsOf(pid);
  const switches = switchesOf(pid);
  await Bun.sleep(SECONDS * 1000);
  return { cpu_seconds_per_10s: round(((cpuSecondsOf(pid) - cpu) * 10) / SECONDS, 3), wakeups_per_s: round(wakeupsBetween(switches, switchesOf(pid)) / SECONDS, 1) };
}

/** A gantry of `root` (this checkout by default) with INSTANCES running stand-ins, measured idle. */
async function idleGantry(root?: string) {
  const server = await spawnGantry({ GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY }, undefined, root);
  const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
  try {
    for (let i = 0; i < INSTANCES; i++) {
      const name = `idle-${i}`;
      const port = await freePort();
      const command = [process.execPath, STAND_IN, "--port", "{port}"];
      const created = await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers, body: JSON.stringify({ name, backend: "command", model_path: name, port, command }) });
      const started = await fetch(`${server.url}/api/v1/instances/${name}/start`, { method: "POST", headers });
      if (!created.ok || !started.ok) throw new Error(`instance ${name}: ${await created.text()} ${await started.text()}`);
    }
    return await idle(server.proc.pid);
  } finally {
    await server.stop();
  }
}

// BEFORE=<another checkout>: its gantry is measured too, after this one (a before/after pair from one session).
const gantry = await idleGantry();
const before = process.env.BEFORE ? await idleGantry(resolve(process.env.BEFORE)) : undefined;
const barePort = await freePort();
const bare = Bun.spawn([process.execPath, resolve(import.meta.dir, "bare-server.ts"), String(barePort)], { stdout: "ignore", stderr: "inherit" });
const floor = await idle(bare.pid);
bare.kill();
console.log(JSON.stringify({ bench: "idle", instances: INSTANCES, seconds: SECONDS, settle_ms: SETTLE_MS, gantry, ...(before ? { gantry_before: before } : {}), bare_bun_server: floor, goal_cpu_seconds_per_10s: 0.1 }, null, 2));
