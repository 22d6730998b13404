/**
 * bench/cluster: three gantry nodes on one PostgreSQL (GANTRY_TEST_PG_URL, default the local server).
 * - leader failover: kill -9 of the leader, time until another node holds the lease (median, max over
 *   KILLS kills; the lease is the baseline: the design bound is lease + lease / 3);
 * - proxy: a chat completion on the node that runs the model vs on another node that forwards it
 *   (p50/p99 and the ratio);
 * - messages: NOTIFY throughput between two nodes' channels (small and by-reference payloads), and
 *   the PostgreSQL connections each node holds;
 * - queue drain: ENTRIES recache entries (a local page, 2 Chromium tabs per node) drained by 1, 2 and
 *   3 nodes (the others' schedulers paused), as throughput and its ratio to one node.
 */
import postgres from "postgres";
import { ClusterChannel } from "../core/cluster/cluster-channel.ts";
import type { ClusterNode } from "../test/cluster-nodes.ts";

// The test helpers (lib.ts imports them too) read the database URL when loaded: set it first.
const PG_URL = process.env.GANTRY_TEST_PG_URL || "postgres://postgres@127.0.0.1:5432/test";
process.env.GANTRY_TEST_PG_URL = PG_URL;
const { startCluster, TEST_CLUSTER_TIMING } = await import("../test/cluster-nodes.ts");
const { freePort, json, STAND_IN_MODEL_SERVER } = await import("../test/helpers.ts");
const { percentile, round, sequentialTimes } = await import("./lib.ts");
const KILLS = Number(process.env.KILLS ?? 10);
const REQUESTS = Number(process.env.REQUESTS ?? 300);
const MESSAGES = Number(process.env.MESSAGES ?? 5000);

const ENTRIES = Number(process.env.ENTRIES ?? 200);
const INTERNAL_KEY = "bench-cluster-internal-key";
const site = Bun.serve({ port: 0, fetch: (request) => new Response(`<!doctype html><html><body><p>${new URL(request.url).pathname}</p></body></html>`, { headers: { "content-type": "text/html" } }) });
const cluster = await startCluster(3, ["instances", "cache"], {
  GANTRY_AUTH__INTERNAL_KEY: INTERNAL_KEY,
  GANTRY_OUTBOUND__ALLOW: `127.0.0.1:${site.port}`, // the stand-in site is on loopback
  GANTRY_PLUGIN__CACHE__HOSTS: JSON.stringify([{ id: 1, name: "site", origins: [`http://127.0.0.1:${site.port}`], dimensions: [{ id: 1, name: "desktop", width: 800, height: 600, user_agent: "Bot/1.0" }] }]),
  GANTRY_PLUGIN__CACHE__TABS: "2", GANTRY_PLUGIN__CACHE__RESERVE_ONLINE_PERCENT: "0", GANTRY_PLUGIN__CACHE__TICK_S: "0.1",
  GANTRY_PLUGIN__CACHE__SCHEDULER_CONTROL_API: "true", GANTRY_LOG__REQUESTS: "false",
});
const internal = (node: ClusterNode, path: string, body?: unknown) =>
  fetch(`${node.url}${path}`, { method: "POST", headers: { "x-internal-auth": INTERNAL_KEY, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
const leaseMs = TEST_CLUSTER_TIMING.lease_s * 1000;
const leaderName = async (node: ClusterNode) => {
  const res = await node.api("/api/v1/nodes").catch(() => undefined);
  if (!res?.ok) return undefined;
  return ((await res.json()).nodes as { name: string; leader: boolean; status: string }[]).find((n) => n.leader && n.status === "up")?.name;
};

try {
  // Queue drain by 1, 2, 3 nodes: the nodes not taking part have their scheduler paused.
  const drain: Record<string, number> = {};
  for (let working = 1; working <= 3; working++) {
    for (const [i, node] of cluster.nodes.entries()) await internal(node, i < working ? "/internal/scheduler/resume" : "/internal/scheduler/pause");
    const urls = Array.from({ length: ENTRIES }, (_, i) => `http://127.0.0.1:${site.port}/n${working}/p${i}`);
    const started = performance.now();
    await internal(cluster.nodes[0]!, "/internal/cache/recache", { host_id: 1, urls, priority: "normal" });
    while (Number((await cluster.sql("SELECT count(*)::int AS n FROM cache_queue WHERE priority <> 'autorecache'"))[0]!.n) > 0) await Bun.sleep(20);
    drain[`nodes_${working}`] = round(ENTRIES / ((performance.now() - started) / 1000), 1);
  }
  for (const node of cluster.nodes) await internal(node, "/internal/scheduler/pause");

  // Proxy: local vs forwarded.
  const [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
  const created = await a.api("/api/v1/instances", json("POST", { name: "bench-model", backend: "command", model_path: "m", port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] }));
  const started = await a.api("/api/v1/instances/bench-model/start", json("POST"));
  if (created.status !== 201 || started.status !== 200) throw new Error(`model not started: ${await created.text()} ${await started.text()}`);
  const chat = (node: ClusterNode) => async () => {
    const res = await node.api("/v1/chat/completions", json("POST", { model: "bench-model", messages: [{ role: "user", content: "hi" }] }));
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`status ${res.status}`);
  };
  await sequentialTimes(30, chat(a));
  await sequentialTimes(30, chat(b));
  const local = await sequentialTimes(REQUESTS, chat(a));
  const forwarded = await sequentialTimes(REQUESTS, chat(b));

  // Connections per node (every node names its connections "gantry"; this schema's nodes only are running here).
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
  const [counted] = await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'gantry'`;
  const connections = Number(counted!.n);

  // Failover: kill the leader, time until a survivor reports another leader; a new node replaces it.
  const failovers: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const live = cluster.nodes.filter((n) => n.proc.exitCode === null && !n.proc.killed);
    const current = await leaderName(live[0]!);
    const leader = live.find((n) => n.name === current);
    if (!leader) throw new Error("no leader");
    const survivor = live.find((n) => n !== leader)!;
    leader.proc.kill("SIGKILL");
    const killed = performance.now();
    for (;;) {
      const next = await leaderName(survivor);
      if (next && next !== leader.name) break;
      await Bun.sleep(10);
    }
    failovers.push(performance.now() - killed);
    await cluster.add(`node-r${i}`);
  }

  // NOTIFY throughput between two channels on one schema.
  const schema = `bench_channel_${process.pid}`;
  await admin.unsafe(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".cluster_messages (id bigserial PRIMARY KEY, payload text NOT NULL, created_at timestamptz(3) NOT NULL)`);
  const scoped = postgres(PG_URL, { max: 4, onnotice: () => {}, connection: { search_path: schema } });
  const quiet = { warn: () => {} } as unknown as ConstructorParameters<typeof ClusterChannel>[3];
  const sender = new ClusterChannel(scoped, `gantry_${schema}`, "sender", quiet);
  const receiver = new ClusterChannel(scoped, `gantry_${schema}`, "receiver", quiet);
  await Promise.all([sender.start(), receiver.start()]);
  const rate = async (count: number, payload: unknown) => {
    let received = 0;
    const off = receiver.on("bench", () => void received++);
    const started = performance.now();
    for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => sender.send("bench", payload)));
    while (received < count) await Bun.sleep(5);
    off();
    return round(count / ((performance.now() - started) / 1000), 0);
  };
  const smallPerS = await rate(MESSAGES, { type: "instance_stats_updated", data: { name: "m", stats: { cpu: 1 } } });
  const largePerS = await rate(Math.max(100, MESSAGES / 10), { text: "x".repeat(20_000) });
  await Promise.all([sender.stop(), receiver.stop()]);
  await scoped.end({ timeout: 1 });
  await admin.unsafe(`DROP SCHEMA "${schema}" CASCADE`);
  await admin.end({ timeout: 1 });

  console.log(JSON.stringify({
    bench: "cluster",
    lease_ms: leaseMs,
    failover: { kills: KILLS, median_ms: round(percentile(failovers, 50)), max_ms: round(Math.max(...failovers)), max_over_lease: round(Math.max(...failovers) / leaseMs) },
    proxy: {
      requests: REQUESTS,
      local: { p50_ms: round(percentile(local, 50)), p99_ms: round(percentile(local, 99)) },
      forwarded: { p50_ms: round(percentile(forwarded, 50)), p99_ms: round(percentile(forwarded, 99)) },
      added_p50_ms: round(percentile(forwarded, 50) - percentile(local, 50)),
      p50_ratio_to_local: round(percentile(forwarded, 50) / percentile(local, 50)),
    },
    notify: { small_messages_per_s: smallPerS, by_reference_20kb_per_s: largePerS },
    pg_connections_per_node: round(connections / 3, 1),
    queue_drain: {
      entries: ENTRIES, renders_per_s: drain,
      ratio_to_1_node: { nodes_2: round(drain.nodes_2! / drain.nodes_1!), nodes_3: round(drain.nodes_3! / drain.nodes_1!) },
    },
  }, null, 2));
} finally {
  await cluster.stop();
  site.stop();
}
