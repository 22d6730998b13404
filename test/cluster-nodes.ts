/** Test helpers for cluster mode: real gantry processes, one data dir each, sharing one PostgreSQL schema. */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { ADMIN_KEY, BUILTIN_PLUGINS, dropTestDatabase, modelPortsOf, portRangeEnv, tempDir, testDatabase, testDatabaseEnv } from "./helpers.ts";

const ROOT = resolve(import.meta.dir, "..");

export interface ClusterNode {
  name: string;
  url: string;
  dataDir: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Log lines so far (JSON). */
  lines: string[];
  api(path: string, init?: RequestInit & { auth?: string | false }): Promise<Response>;
  /** The node's id (GET /api/v1/nodes on itself). */
  id(): Promise<string>;
}

export interface TestCluster {
  nodes: ClusterNode[];
  /** Rows of a query on the cluster's database (its schema is the search path). */
  sql(query: string): Promise<Record<string, unknown>[]>;
  /** Starts one more node (same database), e.g. to replace a killed one; `env` over the cluster's. */
  add(name: string, env?: Record<string, string>): Promise<ClusterNode>;
  /** SIGTERM to every node still running, then drops the schema and data dirs. */
  stop(): Promise<void>;
}

/** Cluster timing short enough for tests: lease 1.5 s, heartbeat 0.3 s, a node down after 1.5 s. */
export const TEST_CLUSTER_TIMING = { lease_s: 1.5, heartbeat_interval_s: 0.3, node_timeout_s: 1.5 };

/** Starts `count` nodes with the built-in plugins `plugins` (all others disabled); the first alone, so it migrates the schema first. */
export async function startCluster(count: number, plugins: string[], env: Record<string, string> = {}): Promise<TestCluster> {
  const clusterDir = tempDir("gantry-cluster-");
  const disabled = readdirSync(BUILTIN_PLUGINS, { withFileTypes: true }).filter((e) => e.isDirectory() && !plugins.includes(e.name)).map((e) => e.name);
  const nodes: ClusterNode[] = [];
  const add = async (name: string, extra: Record<string, string> = {}) => {
    const node = await spawnNode(name, join(clusterDir, name), {
      ...testDatabaseEnv(clusterDir),
      GANTRY_PLUGINS__DIR: BUILTIN_PLUGINS,
      GANTRY_PLUGINS__DISABLED: disabled.join(","),
      GANTRY_CLUSTER__ENABLED: "true",
      GANTRY_AUTH__SECRET_KEY: `cluster-test-secret-key-${clusterDir}`, // the same on every node
      GANTRY_CLUSTER__NODE_NAME: name,
      GANTRY_CLUSTER__LEASE_S: String(TEST_CLUSTER_TIMING.lease_s),
      GANTRY_CLUSTER__HEARTBEAT_INTERVAL_S: String(TEST_CLUSTER_TIMING.heartbeat_interval_s),
      GANTRY_CLUSTER__NODE_TIMEOUT_S: String(TEST_CLUSTER_TIMING.node_timeout_s),
      ...env,
      ...extra,
    });
    nodes.push(node);
    return node;
  };
  let client: postgres.Sql | undefined;
  const database = testDatabase(clusterDir);
  await add("node-a");
  await Promise.all(Array.from({ length: count - 1 }, (_, i) => add(`node-${String.fromCharCode(98 + i)}`)));
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  return {
    nodes, add,
    async sql(query) {
      if (!database) throw new Error("cluster tests need GANTRY_TEST_PG_URL");
      client ??= postgres(database.url, { max: 1, onnotice: () => {}, connection: { search_path: database.schema } });
      return [...(await client.unsafe(query))];
    },
    async stop() {
      await client?.end({ timeout: 1 });
      for (const node of nodes) if (node.proc.exitCode === null && !node.proc.killed) node.proc.kill("SIGTERM");
      await Promise.all(nodes.map((n) => n.proc.exited));
      rmSync(clusterDir, { recursive: true, force: true });
      await dropTestDatabase(clusterDir);
    },
  };
}

async function spawnNode(name: string, dataDir: string, env: Record<string, string>): Promise<ClusterNode> {
  // Each node reads its own gantry.toml (empty until a test writes it), as separate machines would.
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(join(dataDir, "gantry.toml"))) writeFileSync(join(dataDir, "gantry.toml"), "");
  const proc = Bun.spawn([process.execPath, join(ROOT, "core/main.ts"), "serve", "--port", "0"], {
    env: {
      PATH: process.env.PATH ?? "",
      GANTRY_DATA_DIR: dataDir,
      GANTRY_CONFIG: join(dataDir, "gantry.toml"),
      GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      GANTRY_LOG__FORMAT: "json",
      GANTRY_RATE_LIMIT__ENABLED: "false",
      ...portRangeEnv(await modelPortsOf(dataDir)),
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  let url = "";
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of proc.stdout) {
      buffered += decoder.decode(chunk);
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (!url && line.includes("gantry listening")) url = JSON.parse(line).url;
      }
    }
  })();
  void new Response(proc.stderr).text().then((text) => text && lines.push(text));
  const deadline = Date.now() + 60_000; // a ceiling for a hang: a loaded machine starts slowly
  while (!url && Date.now() < deadline && proc.exitCode === null) await Bun.sleep(20);
  if (!url) {
    proc.kill("SIGKILL");
    await proc.exited;
    await Bun.sleep(50); // the last of its output
    throw new Error(`cluster node ${name} did not start:\n${lines.slice(-20).join("\n")}`);
  }
  let id: string | undefined;
  const node: ClusterNode = {
    name, url, dataDir, proc, lines,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      const key = init.auth === undefined ? ADMIN_KEY : init.auth;
      if (key && !headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
      return fetch(url + path, { ...init, headers });
    },
    async id() {
      id ??= (await (await node.api("/api/v1/nodes")).json()).node as string;
      return id;
    },
  };
  return node;
}
