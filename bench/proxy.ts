/**
 * bench/proxy: gantry's OpenAI proxy against the floors a proxy on this machine can reach, in one
 * run: a bare Bun proxy (bench/bare-proxy.ts: read the body, find `model`, forward), nginx (Debian's
 * package, when installed: scripts/ensure-nginx.sh; started here with a generated config) and the
 * stand-in model server directly. Non-streaming chat requests at 16 and 64 connections, with the
 * stand-in answering at once (CPU-bound: the proxy's cost decides) and after LATENCY_MS (a model's
 * pace). Each server's CPU per request comes from /proc/<pid>/stat (utime + stime) around each run.
 *
 * The machine is shared, so absolute numbers drift: each round runs every target once, in an
 * order that rotates between rounds, and the report gives medians of per-round ratios. With
 * BEFORE=<another checkout of gantry> its gantry runs beside this one in the same rounds (a
 * before/after table from one session). Load comes from wrk when installed (scripts/ensure-wrk.sh;
 * a C client leaves the CPUs to the servers), else from a Bun fetch loop.
 * gantry runs in its default configuration (request and inference log lines on; only the rate
 * limit off for the load) and, as a second row, with those log lines off (CONFIGS=default,logs_off
 * picks). Goals: the default configuration ≤ 1.3× the bare proxy's CPU per request and ≥ 0.95×
 * direct at LATENCY_MS; with logs off ≥ 0.9× the bare proxy's rps, ≤ 1.15× its CPU per request and
 * ≥ 0.98× direct.
 */
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ADMIN_KEY, STAND_IN_MODEL_SERVER as STAND_IN } from "../test/helpers.ts";
import { cpuSecondsOf, freePort, listening, loadLoop, percentile, round, spawnGantry, startNginx } from "./lib.ts";

const SECONDS = Number(process.env.SECONDS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const CONNECTIONS = (process.env.CONNECTIONS ?? "16,64").split(",").map(Number);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 20);
const BEFORE = process.env.BEFORE ? resolve(process.env.BEFORE) : undefined;
const has = (command: string) => Bun.spawnSync(["sh", "-c", `command -v ${command}`]).exitCode === 0;
const WRK = has("wrk");
const NGINX = has("nginx") ? "nginx" : has("/usr/sbin/nginx") ? "/usr/sbin/nginx" : undefined;

type Setting = "cpu_bound" | "model_latency";
interface Target {
  name: string;
  /** The URL per setting. */
  url: Record<Setting, string>;
  /** Processes whose CPU counts as the target's (none for direct: the stand-in is not a proxy). */
  pids: () => number[];
  headers: Record<string, string>;
}

const defaultEnv = { GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_RATE_LIMIT__ENABLED: "false" };
const CONFIG_ENV: Record<string, Record<string, string>> = {
  default: defaultEnv,
  logs_off: { ...defaultEnv, GANTRY_LOG__REQUESTS: "false", GANTRY_PLUGIN__INSTANCES__LOG_INFERENCE: "false" },
};
const CONFIGS = (process.env.CONFIGS ?? "default,logs_off").split(",").filter((c) => c in CONFIG_ENV);
if (CONFIGS.length === 0) throw new Error(`CONFIGS: choose from ${Object.keys(CONFIG_ENV).join(", ")}`);
const admin = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

/** A gantry (this checkout's, or another's) with an instant and a slow stand-in instance; returns them and an inference key. */
async function gantry(name: string, env: Record<string, string>, root?: string) {
  const server = await spawnGantry(env, undefined, root);
  const ports = {} as Record<Setting, number>;
  for (const [setting, flags] of [["cpu_bound", []], ["model_latency", ["--latency-ms", String(LATENCY_MS)]]] as const) {
    const port = await freePort();
    const body = { name: setting, backend: "command", model_path: setting, port, command: [process.execPath, STAND_IN, "--port", "{port}", ...flags] };
    const created = await fetch(`${server.url}/api/v1/instances`, { method: "POST", headers: admin, body: JSON.stringify(body) });
    const started = await fetch(`${server.url}/api/v1/instances/${setting}/start`, { method: "POST", headers: admin });
    if (!created.ok || !started.ok) throw new Error(`${name}: instance ${setting}: ${await created.text()} ${await started.text()}`);
    ports[setting] = port;
  }
  const key = (await (await fetch(`${server.url}/api/v1/auth/keys`, { method: "POST", headers: admin, body: JSON.stringify({ name: "bench", role: "inference" }) })).json()).key as string;
  const target: Target = {
    name, url: { cpu_bound: `${server.url}/v1/chat/completions`, model_latency: `${server.url}/v1/chat/completions` },
    pids: () => [server.proc.pid], headers: { authorization: `Bearer ${key}` },
  };
  return { server, ports, target };
}

/** nginx in front of both stand-in instances (bench/lib.ts). */
async function nginx(upstreams: Record<Setting, number>) {
  const run = await startNginx(NGINX!, [upstreams.cpu_bound, upstreams.model_latency]);
  const [cpuBound, modelLatency] = run.ports;
  const target: Target = { name: "nginx", url: { cpu_bound: `http://127.0.0.1:${cpuBound}/v1/chat/completions`, model_latency: `http://127.0.0.1:${modelLatency}/v1/chat/completions` }, pids: run.pids, headers: {} };
  return { target, stop: run.stop };
}

/** One load run: requests per second and failures. */
async function load(target: Target, setting: Setting, connections: number): Promise<{ rps: number; requests: number; failed: number }> {
  const body = JSON.stringify({ model: setting, messages: [{ role: "user", content: "hello there" }] });
  const headers = { "content-type": "application/json", ...target.headers };
  if (!WRK) {
    const r = await loadLoop(target.url[setting], connections, SECONDS * 1000, { method: "POST", headers, body }).done;
    return { rps: r.rps, requests: r.ok + r.failed, failed: r.failed };
  }
  const script = join(tmpdir(), `gantry-bench-wrk-${process.pid}.lua`);
  writeFileSync(script, [`wrk.method = "POST"`, `wrk.body = ${JSON.stringify(body)}`, ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)].join("\n"));
  const run = Bun.spawn(["wrk", "-t1", `-c${connections}`, `-d${SECONDS}s`, "-s", script, target.url[setting]], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(run.stdout).text();
  await run.exited;
  rmSync(script, { force: true });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const failed = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + [...out.matchAll(/(?:connect|read|write|timeout) (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), requests, failed };
}

/** A run with the CPU its processes used per request (ms). */
async function measure(target: Target, setting: Setting, connections: number) {
  const cpu = () => target.pids().reduce((s, pid) => s + cpuSecondsOf(pid), 0);
  const before = cpu();
  const r = await load(target, setting, connections);
  return { ...r, cpuMsPerRequest: ((cpu() - before) * 1000) / Math.max(1, r.requests) };
}

/** Every gantry in the run: each configuration, this checkout's and (BEFORE) the other's. */
const gantries: { config: string; mine: boolean; run: Awaited<ReturnType<typeof gantry>> }[] = [];
for (const config of CONFIGS) {
  gantries.push({ config, mine: true, run: await gantry(`gantry ${config}${BEFORE ? " (after)" : ""}`, CONFIG_ENV[config]!) });
  if (BEFORE) gantries.push({ config, mine: false, run: await gantry(`gantry ${config} (before)`, CONFIG_ENV[config]!, BEFORE) });
}
const after = gantries[0]!.run;
const bareProcs = await Promise.all((["cpu_bound", "model_latency"] as const).map(async (setting) => {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "bare-proxy.ts"), String(port), String(after.ports[setting])], { stdout: "ignore", stderr: "inherit" });
  return { setting, port, proc };
}));
for (const b of bareProcs) await listening(`http://127.0.0.1:${b.port}/`);
const bare: Target = {
  name: "bare Bun proxy", url: { cpu_bound: `http://127.0.0.1:${bareProcs[0]!.port}/v1/chat/completions`, model_latency: `http://127.0.0.1:${bareProcs[1]!.port}/v1/chat/completions` },
  pids: () => bareProcs.map((b) => b.proc.pid), headers: {},
};
// Direct: the CPU counted is gantry's while the model server is called without it. Gantry supervises
// that server and reads the log line it prints per request; the bare proxy and nginx do not.
const direct: Target = {
  name: "direct", url: { cpu_bound: `http://127.0.0.1:${after.ports.cpu_bound}/v1/chat/completions`, model_latency: `http://127.0.0.1:${after.ports.model_latency}/v1/chat/completions` },
  pids: () => [after.server.proc.pid], headers: {},
};
const nginxRun = NGINX ? await nginx(after.ports) : undefined;
if (!NGINX) console.error("bench/proxy: nginx is not installed (bash scripts/ensure-nginx.sh): its row is left out");
if (!WRK) console.error("bench/proxy: wrk is not installed (bash scripts/ensure-wrk.sh): load comes from a Bun fetch loop, which takes CPU from the servers");

const targets = [...gantries.map((g) => g.run.target), bare, ...(nginxRun ? [nginxRun.target] : []), direct];
type Run = Awaited<ReturnType<typeof measure>>;
const runs = new Map<string, Run[]>(); // `${setting} ${connections} ${target}` → one run per round
const key = (setting: Setting, connections: number, target: string) => `${setting} ${connections} ${target}`;
try {
  // Warm-up: JIT and connection pools, not counted.
  for (const target of targets) for (const setting of ["cpu_bound", "model_latency"] as const) await load(target, setting, 16).catch(() => undefined);
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)];
    for (const setting of ["cpu_bound", "model_latency"] as const) {
      for (const connections of CONNECTIONS) {
        for (const target of order) {
          const r = await measure(target, setting, connections);
          const k = key(setting, connections, target.name);
          runs.set(k, [...(runs.get(k) ?? []), r]);
        }
      }
    }
  }
} finally {
  nginxRun?.stop();
  for (const b of bareProcs) b.proc.kill();
  for (const g of gantries) await g.run.server.stop();
}

/** Median over rounds of a per-round ratio of `target` to `base`. */
const medianRatio = (setting: Setting, connections: number, target: string, base: string, of: (r: Run) => number) => {
  const a = runs.get(key(setting, connections, target))!;
  const b = runs.get(key(setting, connections, base))!;
  return round(percentile(a.map((r, i) => of(r) / of(b[i]!)), 50), 3);
};
/** The lowest and highest per-round ratio, "low–high": the spread behind a median on a shared machine. */
const ratioRange = (setting: Setting, connections: number, target: string, base: string, of: (r: Run) => number) => {
  const a = runs.get(key(setting, connections, target))!;
  const b = runs.get(key(setting, connections, base))!;
  const ratios = a.map((r, i) => of(r) / of(b[i]!));
  return `${round(Math.min(...ratios), 2)}–${round(Math.max(...ratios), 2)}`;
};
const median = (setting: Setting, connections: number, target: string, of: (r: Run) => number, digits = 0) =>
  round(percentile(runs.get(key(setting, connections, target))!.map(of), 50), digits);

const table: Record<string, unknown>[] = [];
for (const connections of CONNECTIONS) {
  for (const target of targets) {
    const row: Record<string, unknown> = { target: target.name, connections };
    row.cpu_bound_rps = median("cpu_bound", connections, target.name, (r) => r.rps);
    if (target === direct) {
      row.gantry_log_reading_cpu_ms_per_request = median("cpu_bound", connections, target.name, (r) => r.cpuMsPerRequest, 4);
    } else {
      row.cpu_ms_per_request = median("cpu_bound", connections, target.name, (r) => r.cpuMsPerRequest, 4);
      row.rps_vs_bare_proxy = medianRatio("cpu_bound", connections, target.name, bare.name, (r) => r.rps);
      row.cpu_per_request_vs_bare_proxy = medianRatio("cpu_bound", connections, target.name, bare.name, (r) => r.cpuMsPerRequest);
      row.cpu_vs_bare_proxy_range = ratioRange("cpu_bound", connections, target.name, bare.name, (r) => r.cpuMsPerRequest);
      if (target.name.startsWith("gantry")) {
        // Less what reading the model server's log lines costs (measured in the same round), which the floors do not do.
        const own = runs.get(key("cpu_bound", connections, target.name))!;
        const logs = runs.get(key("cpu_bound", connections, direct.name))!;
        const floor = runs.get(key("cpu_bound", connections, bare.name))!;
        row.cpu_less_log_reading_vs_bare_proxy = round(percentile(own.map((r, i) => (r.cpuMsPerRequest - logs[i]!.cpuMsPerRequest) / floor[i]!.cpuMsPerRequest), 50), 3);
      }
    }
    row.latency_rps = median("model_latency", connections, target.name, (r) => r.rps);
    row.latency_rps_vs_direct = medianRatio("model_latency", connections, target.name, direct.name, (r) => r.rps);
    row.latency_rps_vs_direct_range = ratioRange("model_latency", connections, target.name, direct.name, (r) => r.rps);
    table.push(row);
  }
}
const failed = [...runs.values()].flat().reduce((n, r) => n + r.failed, 0);
const rowsOf = (config: string) => {
  const names = new Set(gantries.filter((g) => g.mine && g.config === config).map((g) => g.run.target.name));
  return table.filter((r) => names.has(r.target as string));
};
const [defaultRows, logsOffRows] = [rowsOf("default"), rowsOf("logs_off")];
console.log(JSON.stringify({
  bench: "proxy", client: WRK ? "wrk -t1" : "bun fetch loop", seconds_per_run: SECONDS, rounds: ROUNDS, latency_ms: LATENCY_MS, nginx: NGINX ? "included" : "not installed",
  before: BEFORE ?? null, configs: CONFIGS, failed, table,
  goals: {
    ...(defaultRows.length > 0 ? {
      default_cpu_per_request_at_most_1_3_of_bare_proxy: defaultRows.every((r) => (r.cpu_per_request_vs_bare_proxy as number) <= 1.3),
      default_latency_rps_at_least_0_95_of_direct: defaultRows.every((r) => (r.latency_rps_vs_direct as number) >= 0.95),
    } : {}),
    ...(logsOffRows.length > 0 ? {
      logs_off_rps_at_least_0_9_of_bare_proxy: logsOffRows.every((r) => (r.rps_vs_bare_proxy as number) >= 0.9),
      logs_off_cpu_per_request_at_most_1_15_of_bare_proxy: logsOffRows.every((r) => (r.cpu_per_request_vs_bare_proxy as number) <= 1.15),
      logs_off_latency_rps_at_least_0_98_of_direct: logsOffRows.every((r) => (r.latency_rps_vs_direct as number) >= 0.98),
    } : {}),
  },
}, null, 2));
const columns = ["target", "connections", "cpu_bound_rps", "rps_vs_bare_proxy", "cpu_ms_per_request", "cpu_per_request_vs_bare_proxy", "cpu_vs_bare_proxy_range", "cpu_less_log_reading_vs_bare_proxy", "gantry_log_reading_cpu_ms_per_request", "latency_rps", "latency_rps_vs_direct", "latency_rps_vs_direct_range"];
console.error(`\n| ${columns.join(" | ")} |\n|${columns.map(() => "---").join("|")}|\n${table.map((r) => `| ${columns.map((c) => r[c] ?? "").join(" | ")} |`).join("\n")}`);
