/**
 * bench/real-llama: streamed chat completions from the real llama.cpp llama-server (GANTRY_LLAMA_SERVER)
 * to 16 concurrent clients, directly and through gantry, a bare Bun proxy (bench/bare-proxy.ts) and
 * nginx (when installed: scripts/ensure-nginx.sh). Per target: tokens/s delivered, time to first
 * token, and the relaying process's CPU per streamed chunk (/proc/<pid>/stat). Each round runs every
 * target once, in an order that rotates between rounds; the table gives medians of per-round ratios.
 * Goals: gantry ≥ 0.98× direct tokens/s; added TTFT p50 < 1 ms. Failed requests are counted and
 * their statuses printed: under load llama-server now and then resets a reused connection, which
 * every relay (and a direct client) sees.
 */
import { join, resolve } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { ADMIN_KEY } from "../test/helpers.ts";
import { writeTinyLlama } from "../test/fixtures/gguf/tiny-llama.ts";
import { cpuSecondsOf, freePort, listening, percentile, round, spawnGantry, startNginx } from "./lib.ts";

const LLAMA_SERVER = process.env.GANTRY_LLAMA_SERVER ?? "";
if (!LLAMA_SERVER) {
  console.error("bench/real-llama: set GANTRY_LLAMA_SERVER to a llama.cpp llama-server binary");
  process.exit(2);
}
const CLIENTS = Number(process.env.CLIENTS ?? 16);
const SECONDS = Number(process.env.SECONDS ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MAX_TOKENS = Number(process.env.MAX_TOKENS ?? 64);
const has = (command: string) => Bun.spawnSync(["sh", "-c", `command -v ${command}`]).exitCode === 0;
const NGINX = has("nginx") ? "nginx" : has("/usr/sbin/nginx") ? "/usr/sbin/nginx" : undefined;
const admin = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The relaying processes (none for direct). */
  pids: () => number[];
}
interface Run {
  tokensPerS: number;
  chunks: number;
  ttftMs: number[];
  failed: number;
  cpuMsPerChunk: number;
}

/** One streaming client: requests one after another until `until`, counting content chunks and each request's time to first one. */
async function client(target: Target, until: number, run: { chunks: number; ttft: number[]; failed: number; why: Map<string, number> }): Promise<void> {
  const body = JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hello" }], max_tokens: MAX_TOKENS, stream: true });
  const decoder = new TextDecoder();
  while (performance.now() < until) {
    const sent = performance.now();
    const res = await fetch(target.url, { method: "POST", headers: { "content-type": "application/json", ...target.headers }, body }).catch(() => undefined);
    if (!res?.ok || !res.body) {
      run.failed++;
      run.why.set(String(res?.status ?? "no answer"), (run.why.get(String(res?.status ?? "no answer")) ?? 0) + 1);
      await res?.body?.cancel();
      continue;
    }
    let first = true;
    let buffered = "";
    for await (const bytes of res.body) {
      buffered += decoder.decode(bytes as Uint8Array, { stream: true });
      const events = buffered.split("\n\n");
      buffered = events.pop()!;
      for (const event of events) {
        if (!event.includes('"content":"') || event.includes('"content":""')) continue;
        if (first) run.ttft.push(performance.now() - sent);
        first = false;
        run.chunks++;
      }
    }
  }
}

async function measure(target: Target): Promise<Run> {
  const cpu = () => target.pids().reduce((s, pid) => s + cpuSecondsOf(pid), 0);
  const before = cpu();
  const started = performance.now();
  const run = { chunks: 0, ttft: [] as number[], failed: 0, why: new Map<string, number>() };
  await Promise.all(Array.from({ length: CLIENTS }, () => client(target, started + SECONDS * 1000, run)));
  const seconds = (performance.now() - started) / 1000;
  if (run.failed > 0) console.error(`bench/real-llama: ${target.name}: ${run.failed} failed (${[...run.why].map(([why, n]) => `${why}: ${n}`).join(", ")})`);
  return { tokensPerS: run.chunks / seconds, chunks: run.chunks, ttftMs: run.ttft, failed: run.failed, cpuMsPerChunk: ((cpu() - before) * 1000) / Math.max(1, run.chunks) };
}

const modelDir = mkdtempSync(join(tmpdir(), "gantry-bench-model-"));
const model = await writeTinyLlama(join(modelDir, "tiny-llama.gguf"));
const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false", GANTRY_LOG__REQUESTS: "false",
  GANTRY_PLUGIN__INSTANCES__LOG_INFERENCE: "false", GANTRY_PLUGIN__INSTANCES__EXECUTABLES__LLAMA_CPP: LLAMA_SERVER,
});
const llamaPort = await freePort();
// 16 slots (-np 16) of 512 tokens each: every client has a slot; one thread computes (this is a 2-core machine).
// llama-server serves HTTP from a fixed pool of threads (--threads-http; small by default) and a
// kept-alive connection holds one: the idle pools of four relays (nginx keeps 64) would starve it.
const instance = {
  name: "tiny", backend: "llama_cpp", model_path: model, port: llamaPort, parallel: CLIENTS,
  options: { threads: 1, context_size: 512 * CLIENTS, threads_http: 8 * CLIENTS + 16 },
};
const created = await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers: admin, body: JSON.stringify(instance) });
const started = await fetch(`${server.url}/api/v1/instances/tiny/start`, { method: "POST", headers: admin });
if (!created.ok || !started.ok) throw new Error(`instance: ${await created.text()} ${await started.text()}`);
const key = (await (await fetch(`${server.url}/api/v1/auth/keys`, { method: "POST", headers: admin, body: JSON.stringify({ name: "bench", role: "inference" }) })).json()).key as string;
const barePort = await freePort();
const bareProc = Bun.spawn([process.execPath, resolve(import.meta.dir, "bare-proxy.ts"), String(barePort), String(llamaPort)], { stdout: "ignore", stderr: "inherit" });
await listening(`http://127.0.0.1:${barePort}/`);
const nginxRun = NGINX ? await startNginx(NGINX, [llamaPort]) : undefined;
if (!NGINX) console.error("bench/real-llama: nginx is not installed (bash scripts/ensure-nginx.sh): its row is left out");

const direct: Target = { name: "direct", url: `http://127.0.0.1:${llamaPort}/v1/chat/completions`, headers: {}, pids: () => [] };
const gantry: Target = { name: "gantry", url: `${server.url}/v1/chat/completions`, headers: { authorization: `Bearer ${key}` }, pids: () => [server.proc.pid] };
const bare: Target = { name: "bare Bun proxy", url: `http://127.0.0.1:${barePort}/v1/chat/completions`, headers: {}, pids: () => [bareProc.pid] };
const nginxTarget: Target | undefined = nginxRun && { name: "nginx", url: `http://127.0.0.1:${nginxRun.ports[0]}/v1/chat/completions`, headers: {}, pids: nginxRun.pids };
const targets = [gantry, bare, ...(nginxTarget ? [nginxTarget] : []), direct];
const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
try {
  for (const target of targets) await measure({ ...target }).catch(() => undefined); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    const order = [...targets.slice(r % targets.length), ...targets.slice(0, r % targets.length)];
    for (const target of order) runs.get(target.name)!.push(await measure(target));
  }
} finally {
  nginxRun?.stop();
  bareProc.kill();
  await server.stop();
  rmSync(modelDir, { recursive: true, force: true });
}

const perRound = (name: string, base: string, of: (r: Run) => number) => round(percentile(runs.get(name)!.map((r, i) => of(r) / of(runs.get(base)![i]!)), 50), 3);
const addedTtft = (name: string, p: number) => round(percentile(runs.get(name)!.map((r, i) => percentile(r.ttftMs, p) - percentile(runs.get("direct")![i]!.ttftMs, p)), 50), 2);
const median = (name: string, of: (r: Run) => number, digits = 1) => round(percentile(runs.get(name)!.map(of), 50), digits);
const table = targets.map((t) => ({
  target: t.name,
  tokens_per_s: median(t.name, (r) => r.tokensPerS),
  tokens_per_s_vs_direct: perRound(t.name, "direct", (r) => r.tokensPerS),
  ttft_p50_ms: median(t.name, (r) => percentile(r.ttftMs, 50), 2),
  ttft_p99_ms: median(t.name, (r) => percentile(r.ttftMs, 99), 2),
  added_ttft_p50_ms: t === direct ? "" : addedTtft(t.name, 50),
  added_ttft_p99_ms: t === direct ? "" : addedTtft(t.name, 99),
  cpu_ms_per_chunk: t === direct ? "" : median(t.name, (r) => r.cpuMsPerChunk, 4),
  cpu_per_chunk_vs_bare_proxy: t === direct ? "" : perRound(t.name, bare.name, (r) => r.cpuMsPerChunk),
  cpu_per_chunk_vs_nginx: t === direct || !nginxRun ? "" : perRound(t.name, "nginx", (r) => r.cpuMsPerChunk),
  failed: runs.get(t.name)!.reduce((n, r) => n + r.failed, 0),
}));
const g = table[0]!;
console.log(JSON.stringify({
  bench: "real-llama", clients: CLIENTS, seconds_per_run: SECONDS, rounds: ROUNDS, max_tokens: MAX_TOKENS, nginx: NGINX ? "included" : "not installed", table,
  goals: { tokens_per_s_at_least_0_98_of_direct: (g.tokens_per_s_vs_direct as number) >= 0.98, added_ttft_p50_under_1_ms: (g.added_ttft_p50_ms as number) < 1 },
}, null, 2));
const columns = Object.keys(table[0]!);
console.error(`\n| ${columns.join(" | ")} |\n|${columns.map(() => "---").join("|")}|\n${table.map((r) => `| ${columns.map((c) => (r as Record<string, unknown>)[c]).join(" | ")} |`).join("\n")}`);
