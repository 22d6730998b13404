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

/**
 * nginx as a reverse proxy in front of each upstream port (upstream keepalive, no buffering), one
 * worker, in the foreground, from a generated config; `pids` are the master's and its worker's.
 */
export async function startNginx(nginx: string, upstreams: number[]): Promise<{ ports: number[]; pids(): number[]; stop(): void }> {
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import("node:fs");
  const dir = mkdtempSync(join(require("node:os").tmpdir(), "gantry-bench-nginx-"));
  const ports = await Promise.all(upstreams.map(() => freePort()));
  const blocks = upstreams.map((upstream, i) => `
    upstream u${i} { server 127.0.0.1:${upstream}; keepalive 128; }
    server {
      listen 127.0.0.1:${ports[i]};
      location / { proxy_pass http://u${i}; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
    }`);
  writeFileSync(join(dir, "nginx.conf"), `
    worker_processes 1;
    daemon off;
    pid ${dir}/nginx.pid;
    error_log ${dir}/error.log warn;
    events { worker_connections 4096; }
    http {
      access_log off;
      client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
      ${blocks.join("\n")}
    }`);
  const proc = Bun.spawn([nginx, "-p", dir, "-c", join(dir, "nginx.conf")], { stdout: "ignore", stderr: "inherit" });
  await waitForOk(`http://127.0.0.1:${ports[0]}/health`, performance.now(), 5000);
  // The master only manages; its worker serves. Both count.
  const pids = () => [proc.pid, ...readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)];
  return { ports, pids, stop: () => { proc.kill(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Resolves once `url` answers anything (a proxy without a route for GET answers an error: listening is enough). */
export async function listening(url: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await fetch(url).then(() => true, () => false)) return;
    await Bun.sleep(10);
  }
  throw new Error(`${url} is not listening`);
}
