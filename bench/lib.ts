/** Shared pieces of the benchmarks: percentiles, a closed-loop HTTP load generator, server processes. */
import { join, resolve } from "node:path";

import { freePort } from "../test/helpers.ts";

export { freePort };
export const ROOT = resolve(import.meta.dir, "..");

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** `concurrency` clients each sending the same request back to back until `stop()` or `durationMs`; throughput and latency of the 200s. */
export function loadLoop(url: string, concurrency: number, durationMs = Infinity, init: RequestInit = {}) {
  let stopped = false;
  let failed = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  const client = async () => {
    while (!stopped && performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const res = await fetch(url, init);
        await res.arrayBuffer();
        if (res.status === 200) latencies.push(performance.now() - t0);
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, client)).then(() => {
    const seconds = (performance.now() - started) / 1000;
    return { ok: latencies.length, failed, seconds, rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  });
  return { stop: () => void (stopped = true), done };
}

/** Calls `call` `n` times one after another; the duration of each call in ms. */
export async function sequentialTimes(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return times;
}

/** Polls `url` until it answers 200; returns ms since `since`. */
export async function waitForOk(url: string, since: number, timeoutMs = 15_000): Promise<number> {
  while (performance.now() - since < timeoutMs) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await Bun.sleep(2);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** Resident set size of a process in bytes, from /proc. */
export function rssOf(pid: number): number {
  const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** CPU seconds (user + system) a process has used so far, from /proc (10 ms resolution). */
export function cpuSecondsOf(pid: number): number {
  const stat = require("node:fs").readFileSync(`/proc/${pid}/stat`, "utf8") as string;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime and stime, in clock ticks of 1/100 s
}

/** Starts `gantry serve` on a free port with a fresh data dir; `root`: another checkout's gantry (a before/after bench). */
export async function spawnGantry(env: Record<string, string> = {}, existingDataDir?: string, root = ROOT) {
  const port = await freePort();
  const dataDir = existingDataDir ?? (require("node:fs").mkdtempSync(join(require("node:os").tmpdir(), "gantry-bench-")) as string);
  const started = performance.now();
  // BENCH_BUN_ARGS (e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/prof") profiles the server under load.
  const bunArgs = (process.env.BENCH_BUN_ARGS ?? "").split(" ").filter(Boolean);
  const proc = Bun.spawn([process.execPath, ...bunArgs, join(root, "core/main.ts"), "serve", "--port", String(port)], {
    env: { PATH: process.env.PATH ?? "", GANTRY_DATA_DIR: dataDir, GANTRY_LOG__FORMAT: "json", ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  const startupMs = await waitForOk(`${url}/healthz`, started);
  return {
    proc, url, startupMs,
    dataDir,
    async stop(keepData = false) {
      proc.kill("SIGTERM");
      await proc.exited;
      if (!keepData) require("node:fs").rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function mb(bytes: number): number {
  return round(bytes / 1024 / 1024, 1);
}
