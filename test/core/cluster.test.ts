/**
 * Cluster mode. Without GANTRY_TEST_PG_URL (and with it, cluster mode off) gantry is one node that
 * always leads and lists itself. With it, three real gantry processes share one PostgreSQL schema.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import postgres from "postgres";
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterChannel } from "../../core/cluster/cluster-channel.ts";
import { migratePlugin, openDatabase, type DatabaseHandle } from "../../core/storage/db.ts";
import { BatchStore } from "../../plugins/batch/batch-store.ts";
import { ADMIN_KEY, BUILTIN_PLUGINS, dropTestDatabase, FIXTURE_PLUGINS, freePort, tempDir, testDatabase, STAND_IN_MODEL_SERVER, TEST_PG_URL, json, startGantry, waitFor, type TestGantry } from "../helpers.ts";
import { startCluster, TEST_CLUSTER_TIMING, type ClusterNode, type TestCluster } from "../cluster-nodes.ts";

const OIDC_PROVIDER = join(import.meta.dir, "../fixtures/oidc-provider/server.ts");

describe("a single node", () => {
  let g: TestGantry;
  // The data dir outlives one gantry (a restart below); removed with its database at the end.
  const options = { dataDir: tempDir(), builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, plugins: { disabled: ["ui", "cache", "agent", "batch", "pipelines", "evaluations", "datasets", "knowledge", "mcp", "scripts", "infra", "instances"] } } };
  beforeAll(async () => {
    g = await startGantry(options);
  });
  afterAll(async () => {
    await g.stop();
    rmSync(options.dataDir, { recursive: true, force: true });
    await dropTestDatabase(options.dataDir);
  });

  test("is the leader and lists itself at /api/v1/nodes; core.cluster says so to plugins", async () => {
    const res = await g.api("/api/v1/nodes");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.cluster).toBe(false);
    expect(body.leader).toEqual({ is_self: true, generation: 1 });
    expect(body.nodes).toHaveLength(1);
    const [self] = body.nodes;
    expect(self).toMatchObject({ id: body.node, status: "up", leader: true, self: true, url: g.url });
    expect(Date.parse(self.started_at)).toBeGreaterThan(0);
    expect((await (await g.api(`/api/v1/nodes/${self.id}`)).json()).id).toBe(self.id);

    const cluster = g.gantry.core.services.consume("core.cluster");
    expect(cluster.enabled).toBe(false);
    expect(cluster.isLeader).toBe(true);
    expect(await cluster.confirmLeadership()).toBe(true);
    const leadership: boolean[] = [];
    cluster.onLeadership((leader) => leadership.push(leader));
    await waitFor(() => leadership.length === 1);
    expect(leadership).toEqual([true]);
  });

  test("the node id is kept in the data dir across restarts", async () => {
    const id = (await (await g.api("/api/v1/nodes")).json()).node;
    await g.stop(); // one gantry per data dir: a restart
    g = await startGantry(options);
    expect((await (await g.api("/api/v1/nodes")).json()).node).toBe(id);
  });

  test("unknown node 404, forgetting a live node 409, forgetting needs admin", async () => {
    const { node } = await (await g.api("/api/v1/nodes")).json();
    const missing = await g.api("/api/v1/nodes/no-such-node");
    expect(missing.status).toBe(404);
    expect((await missing.json()).code).toBe("NODE_NOT_FOUND");
    expect((await g.api("/api/v1/nodes/bad%20id")).status).toBe(404);
    expect((await g.api(`/api/v1/nodes/${"x".repeat(65)}`)).status).toBe(400);
    const alive = await g.api(`/api/v1/nodes/${node}`, { method: "DELETE" });
    expect(alive.status).toBe(409);
    expect((await alive.json()).code).toBe("NODE_ALIVE");
    const viewer = (await g.gantry.security.keys.create("nodes-viewer", "viewer")).key;
    expect((await g.api("/api/v1/nodes", { auth: viewer })).status).toBe(200);
    expect((await g.api(`/api/v1/nodes/${node}`, { method: "DELETE", auth: viewer })).status).toBe(403);
    expect((await g.api("/api/v1/nodes", { auth: false })).status).toBe(401);
  });

  test("cron runs record the tick they are for, once", async () => {
    const created = await g.api("/api/v1/cron/jobs", json("POST", { name: "every-second", schedule: "* * * * * *", command: "/cron:list" }));
    expect(created.status).toBe(201);
    const job = await created.json();
    const runs = async () => (await (await g.api(`/api/v1/cron/jobs/${job.id}/runs`)).json()).runs as { scheduled_at: string | null; trigger: string }[];
    await waitFor(async () => (await runs()).length >= 2, 5000, "two scheduled runs");
    const ticks = (await runs()).map((r) => r.scheduled_at);
    expect(ticks.every((t) => t !== null && Date.parse(t) % 1000 === 0)).toBe(true);
    expect(new Set(ticks).size).toBe(ticks.length);
    await g.api(`/api/v1/cron/jobs/${job.id}`, { method: "DELETE" });
  });
});

describe("work claims", () => {
  let database: DatabaseHandle;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = tempDir("gantry-claims-");
    const db = testDatabase(dataDir);
    database = await openDatabase({ dataDir, url: db?.url ?? "", schema: db?.schema ?? "public", poolSize: 8 });
    await migratePlugin(database, "batch", join(BUILTIN_PLUGINS, "batch"));
  });
  afterAll(async () => {
    await database.close();
    await dropTestDatabase(dataDir);
  });

  test("batch lines: two claimers at once take every line once; a dead claimer's lines go to the other when its claims lapse", async () => {
    const one = new BatchStore(database.db);
    const two = new BatchStore(database.db);
    await one.create("run-1", "test", "operator", Array.from({ length: 40 }, (_, i) => ({ custom_id: `c${i}`, agent: "a", input: `line ${i}` })));
    const taken = new Map<number, string>();
    const drain = async (store: BatchStore, claimer: string, stopAfter = Infinity) => {
      for (let n = 0; n < stopAfter; n++) {
        const line = await store.claim("run-1", claimer, 60_000);
        if (!line) return;
        expect(taken.has(line.line)).toBe(false);
        taken.set(line.line, claimer);
        if (claimer !== "dead") await store.finish("run-1", line.line, { status: "succeeded", output: "ok", error: null, agentRunId: null, toolCalls: [] });
      }
    };
    await Promise.all([drain(one, "dead", 5), drain(two, "alive")]);
    expect(taken.size).toBe(40);
    const held = [...taken].filter(([, c]) => c === "dead").map(([line]) => line);
    expect(held).toHaveLength(5);
    expect(await two.claim("run-1", "alive", 60_000)).toBeUndefined(); // the dead claimer's lines are still claimed
    // Its claims lapse (seen from a minute later): the live claimer takes them, once each.
    const later = new Date(Date.now() + 61_000);
    const retaken: number[] = [];
    for (let line = await two.claim("run-1", "alive", 60_000, later); line; line = await two.claim("run-1", "alive", 60_000, later)) {
      retaken.push(line.line);
      await two.finish("run-1", line.line, { status: "succeeded", output: "ok", error: null, agentRunId: null, toolCalls: [] });
    }
    expect(retaken.sort((x, y) => x - y)).toEqual(held.sort((x, y) => x - y));
    expect(await two.counts("run-1")).toEqual({ pending: 0, running: 0, succeeded: 40, failed: 0 });
  });
});

// Three processes on one PostgreSQL: registered only on the PostgreSQL leg (the tests above run on both).
if (TEST_PG_URL) {
  describe("three nodes on one PostgreSQL", () => {
    let cluster: TestCluster;
    let a: ClusterNode, b: ClusterNode, c: ClusterNode;
    const ADMIN_PASSWORD = "cluster-admin-password-1";

    /** The stand-in OIDC provider's port, known before the nodes start: outbound.allow lists it (and nothing else on loopback). */
    let oidcPort: number;

    beforeAll(async () => {
      oidcPort = await freePort();
      cluster = await startCluster(3, ["cron", "instances", "infra"], { GANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD, GANTRY_OUTBOUND__ALLOW: `127.0.0.1:${oidcPort}` });
      [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
      await waitFor(async () => (await leaderOf(a)) !== undefined, 10_000, "a leader");
    }, 60_000);
    /** Model servers started on a node this describe kills -9 outlive it (as they would in production): stopped here. */
    const orphanedGroups: number[] = [];
    afterAll(async () => {
      await cluster?.stop();
      for (const group of orphanedGroups) {
        try {
          process.kill(-group, "SIGKILL");
        } catch {
          // already gone
        }
      }
    });

    const nodesOf = async (node: ClusterNode) => (await (await node.api("/api/v1/nodes")).json()).nodes as { id: string; name: string; status: string; leader: boolean }[];
    const leaderOf = async (node: ClusterNode) => (await nodesOf(node)).find((n) => n.leader && n.status === "up");

    test("every node answers the API and lists the same three nodes, one of them leader", async () => {
      for (const node of [a, b, c]) {
        const listed = await nodesOf(node);
        expect(listed.map((n) => n.name)).toEqual(["node-a", "node-b", "node-c"]);
        expect(listed.every((n) => n.status === "up")).toBe(true);
        expect(listed.filter((n) => n.leader)).toHaveLength(1);
      }
      const ids = await Promise.all([a.id(), b.id(), c.id()]);
      expect(new Set(ids).size).toBe(3);
      const alive = await a.api(`/api/v1/nodes/${ids[1]}`, { method: "DELETE" });
      expect(alive.status).toBe(409);
    });

    test("a node with another auth.secret_key refuses to join (what one node seals, every node must open)", async () => {
      const failed = await cluster.add("node-x", { GANTRY_AUTH__SECRET_KEY: "another-key" }).catch((error: Error) => error);
      expect(failed).toBeInstanceOf(Error);
      expect(String(failed)).toContain("auth.secret_key");
      expect(String(failed)).not.toContain("another-key");
    });

    test("an API key made on A works on B; revoked on A, B refuses it", async () => {
      const made = await (await a.api("/api/v1/auth/keys", json("POST", { name: "shared", role: "viewer" }))).json();
      expect(typeof made.key).toBe("string");
      await waitFor(async () => (await b.api("/api/v1/nodes", { auth: made.key })).status === 200, 2000, "the key on B");
      expect((await a.api(`/api/v1/auth/keys/${made.id}`, { method: "DELETE" })).status).toBe(200);
      await waitFor(async () => (await b.api("/api/v1/nodes", { auth: made.key })).status === 401, 2000, "the key refused on B");
      // C too: the next test needs every node done with this change (its reload would read that test's key).
      await waitFor(async () => (await c.api("/api/v1/nodes", { auth: made.key })).status === 401, 2000, "the key refused on C");
    });

    test("POST /api/v1/infra/cache-invalidate on A drops the caches of every node", async () => {
      // A key written straight into the table (no node told): unknown to the nodes' caches until they reload.
      const key = "gk_clustkey01_abcdefghijklmnopqrstuvwxyz012345";
      const hash = createHash("sha256").update(key).digest("hex");
      await cluster.sql(`INSERT INTO api_keys (id, name, hash, prefix, role, created_at) VALUES ('clustkey01', 'direct', '${hash}', 'gk_clustkey01', 'viewer', now())`);
      expect((await c.api("/api/v1/nodes", { auth: key })).status).toBe(401);
      expect((await a.api("/api/v1/infra/cache-invalidate", json("POST"))).status).toBe(200);
      // Each node hears the invalidation in its own time: wait for each (C knowing it says nothing of B).
      await waitFor(async () => (await c.api("/api/v1/nodes", { auth: key })).status === 200, 3000, "C to know the key");
      await waitFor(async () => (await b.api("/api/v1/nodes", { auth: key })).status === 200, 3000, "B to know the key");
    });

    test("a config reload on A makes every node re-read its own gantry.toml", async () => {
      writeFileSync(join(b.dataDir, "gantry.toml"), "[rate_limit]\nexpensive_per_minute = 7\n");
      const reloaded = await a.api("/api/v1/infra/config/reload", json("POST"));
      expect(reloaded.status).toBe(200);
      const expensive = async (node: ClusterNode) => (await (await node.api("/api/v1/infra/config/rate_limit.expensive_per_minute")).json()).value;
      await waitFor(async () => (await expensive(b)) === 7, 3000, "B to reload");
      expect(await expensive(a)).toBe(10); // A's file did not change
      writeFileSync(join(b.dataDir, "gantry.toml"), "");
    });

    test("a user logs in on A, uses the token on B, logs out on A: B refuses the token", async () => {
      const login = await a.api("/api/v1/auth/login", { ...json("POST", { username: "admin", password: ADMIN_PASSWORD }), auth: false });
      expect(login.status).toBe(200);
      const { access_token: token } = await login.json();
      expect((await b.api("/api/v1/auth/whoami", { auth: token })).status).toBe(200);
      expect((await c.api("/api/v1/auth/whoami", { auth: token })).status).toBe(200);
      expect((await a.api("/api/v1/auth/logout", { method: "POST", auth: token })).status).toBe(200);
      expect((await a.api("/api/v1/auth/whoami", { auth: token })).status).toBe(401);
      // Logout answers once the other nodes were notified; they refuse as soon as the notification lands.
      await waitFor(async () => (await b.api("/api/v1/auth/whoami", { auth: token })).status === 401, 1000, "B to refuse the token");
      await waitFor(async () => (await c.api("/api/v1/auth/whoami", { auth: token })).status === 401, 1000, "C to refuse the token");
    });

    test("an OpenID Connect sign-in started on A finishes on B (the provider sends the browser there), once", async () => {
      const port = oidcPort;
      const issuer = `http://127.0.0.1:${port}`;
      const provider = Bun.spawn([process.execPath, OIDC_PROVIDER, "--port", String(port), "--client-id", "gantry-test", "--client-secret", "provider-secret"], { stdout: "ignore", stderr: "inherit" });
      try {
        await waitFor(async () => (await fetch(`${issuer}/jwks`).catch(() => null))?.ok === true, 10_000, "the stand-in provider");
        const configured = await a.api("/api/v1/auth/oidc/config", json("PUT", {
          enabled: true, issuer, client_id: "gantry-test", client_secret: "provider-secret", redirect_uri: `${b.url}/api/v1/auth/oidc/callback`,
          scopes: ["openid", "email", "profile"], default_role: "viewer", role_claim: "groups", role_map: { "ops-admins": "admin" },
        }));
        expect(configured.status).toBe(200);
        const start = await fetch(`${a.url}/api/v1/auth/oidc/login?login_hint=alice`, { redirect: "manual" });
        expect(start.status).toBe(302);
        const atProvider = await fetch(start.headers.get("location")!, { redirect: "manual" });
        const callback = atProvider.headers.get("location")!;
        expect(callback).toStartWith(b.url);
        const finished = await fetch(callback);
        expect(finished.status).toBe(200);
        const session = await finished.json();
        expect((await c.api("/api/v1/auth/whoami", { auth: session.access_token })).status).toBe(200);
        const replayed = await fetch(callback.replace(b.url, a.url));
        expect(replayed.status).toBe(400); // one use, whichever node
        expect((await replayed.json()).code).toBe("OIDC_STATE_INVALID");
      } finally {
        provider.kill();
      }
    });

    test("a WebSocket client on B sees an instance started on A, with A's node id", async () => {
      const seen: { type: string; node?: string; data: { name?: string; status?: string } }[] = [];
      const ws = new WebSocket(`${b.url.replace("http", "ws")}/api/v1/ws?api_key=${ADMIN_KEY}&types=instance_status_changed`);
      ws.onmessage = (m) => seen.push(JSON.parse(String(m.data)));
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      try {
        const created = await a.api("/api/v1/instances", json("POST", {
          name: "on-a", backend: "command", model_path: "on-a", port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"],
        }));
        expect(created.status).toBe(201);
        // Names and ports are unique across the cluster: B cannot take A's, and picks another free port.
        const port = (await created.json()).instance.port as number;
        const twin = await b.api("/api/v1/instances", json("POST", { name: "on-a", backend: "command", model_path: "x", command: ["x"] }));
        expect([twin.status, (await twin.json()).code]).toEqual([409, "INSTANCE_EXISTS_ON_NODE"]);
        const samePort = await b.api("/api/v1/instances", json("POST", { name: "on-b-port", backend: "command", model_path: "x", command: ["x"], port }));
        expect([samePort.status, (await samePort.json()).code]).toEqual([409, "PORT_IN_USE"]);
        const started = await a.api("/api/v1/instances/on-a/start", json("POST"));
        expect(started.status).toBe(200);
        orphanedGroups.push((await started.json()).pid);
        await waitFor(() => seen.some((e) => e.data.name === "on-a" && e.data.status === "running"), 5000, "instance_status_changed on B");
        const aId = await a.id();
        expect(seen.every((e) => e.node === aId)).toBe(true);
      } finally {
        ws.close();
      }
    });

    test("the proxy on B reaches the model on A (OpenAI client, streaming too); logs, health and the list on any node", async () => {
      const client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${b.url}/v1`, maxRetries: 0 });
      const reply = await client.chat.completions.create({ model: "on-a", messages: [{ role: "user", content: "hello from b" }] });
      expect(reply.choices[0]!.message.content).toBe("You said: hello from b");
      const chunks: string[] = [];
      for await (const chunk of await client.chat.completions.create({ model: "on-a", stream: true, messages: [{ role: "user", content: "one two three" }] })) {
        chunks.push(chunk.choices[0]?.delta?.content ?? "");
      }
      expect(chunks.filter(Boolean).length).toBeGreaterThan(2);
      expect(chunks.join("")).toBe("You said: one two three");
      expect((await client.models.list()).data.map((m) => m.id)).toContain("on-a");
      expect((await client.models.retrieve("on-a")).id).toBe("on-a");
      const tags = await (await c.api("/api/tags")).json();
      expect(tags.models.map((m: { name: string }) => m.name)).toContain("on-a");
      const claude = new Anthropic({ apiKey: ADMIN_KEY, baseURL: c.url, maxRetries: 0 });
      const message = await claude.messages.create({ model: "on-a", max_tokens: 32, messages: [{ role: "user", content: "anthropic via c" }] });
      expect(message.content).toMatchObject([{ type: "text", text: "You said: anthropic via c" }]);
      const single = await c.api("/api/v1/inference/on-a", json("POST", { messages: [{ role: "user", content: "via c" }] }));
      expect(single.status).toBe(200);
      expect((await single.json()).choices[0].message.content).toBe("You said: via c");

      const aId = await a.id();
      const listed = (await (await b.api("/api/v1/instances")).json()).instances as { name: string; node: string; status: string }[];
      expect(listed.find((i) => i.name === "on-a")).toMatchObject({ node: aId, status: "running" });
      expect((await (await c.api("/api/v1/instances/on-a")).json())).toMatchObject({ name: "on-a", node: aId, status: "running" });
      expect((await (await b.api("/api/v1/instances/on-a/health")).json()).status).toBe("healthy");
      expect(((await (await b.api("/api/v1/instances/on-a/logs?lines=50")).json()).logs as unknown[]).length).toBeGreaterThan(0);
      const following = new AbortController();
      const followed = await b.api("/api/v1/instances/on-a/logs?follow=true&lines=5", { signal: following.signal });
      expect(followed.headers.get("content-type")).toContain("text/event-stream");
      const first = await followed.body!.getReader().read();
      expect(new TextDecoder().decode(first.value)).toStartWith("data: ");
      following.abort();
      const missing = await b.api("/v1/chat/completions", json("POST", { model: "nowhere", messages: [] }));
      expect(missing.status).toBe(404);

      // Placed on C from B: C supervises it.
      const cId = await c.id();
      const placed = await b.api("/api/v1/instances", json("POST", { name: "on-c", backend: "command", model_path: "on-c", node: cId, port: await freePort(), command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] }));
      expect(placed.status).toBe(201);
      expect((await placed.json()).instance.node).toBe(cId);
      expect((await (await c.api("/api/v1/instances/on-c")).json()).node).toBe(cId);
      const duplicate = await b.api("/api/v1/instances", json("POST", { name: "on-c", backend: "command", model_path: "x", command: ["x"] }));
      expect(duplicate.status).toBe(409);
      const nowhere = await b.api("/api/v1/instances", json("POST", { name: "on-z", backend: "command", model_path: "x", command: ["x"], node: "no-such-node" }));
      expect(nowhere.status).toBe(400);
      expect((await nowhere.json()).code).toBe("INSTANCE_NODE_UNKNOWN");
      expect((await b.api("/api/v1/instances/on-c", { method: "DELETE" })).status).toBe(200);
      expect((await c.api("/api/v1/instances/on-c")).status).toBe(404);
    });

    test("a plugin installed on A runs on every node; a flag set on B applies on C; reload and uninstall reach all, reported per node", async () => {
      const installed = await a.api("/api/v1/plugins", json("POST", { path: join(FIXTURE_PLUGINS, "hello") }));
      expect(installed.status).toBe(201);
      for (const node of [b, c]) await waitFor(async () => (await node.api("/api/v1/hello/greeting")).status === 200, 10_000, `hello on ${node.name}`);
      const report = async (node: ClusterNode) => (await (await node.api("/api/v1/plugins/hello")).json()) as { status: string; nodes: { name: string; action: string; ok: boolean; error: string | null }[] };
      await waitFor(async () => (await report(b)).nodes?.length === 3, 5000, "three node reports");
      expect((await report(b)).nodes.map((n) => [n.name, n.action, n.ok])).toEqual([["node-a", "install", true], ["node-b", "install", true], ["node-c", "install", true]]);

      expect((await b.api("/api/v1/features/hello.shout", json("PUT", { value: true }))).status).toBe(200);
      await waitFor(async () => (await (await c.api("/api/v1/hello/greeting")).json()).text === (await (await b.api("/api/v1/hello/greeting")).json()).text.toUpperCase(), 3000, "the flag on C");
      expect((await (await c.api("/api/v1/hello/greeting")).json()).text).toMatch(/^[A-Z, ]+$/);

      expect((await b.api("/api/v1/plugins/hello/reload", json("POST"))).status).toBe(200);
      await waitFor(async () => (await report(c)).nodes.every((n) => n.action === "reload" && n.ok), 10_000, "reloaded everywhere");
      expect((await c.api("/api/v1/plugins/hello", { method: "DELETE" })).status).toBe(200);
      for (const node of [a, b]) await waitFor(async () => (await node.api("/api/v1/plugins/hello")).status === 404, 10_000, `hello gone on ${node.name}`);
      expect((await a.api("/api/v1/hello/greeting")).status).toBe(404);
    });

    test("a cron job every second while the leader is killed -9: each tick runs at most once; another node takes over", async () => {
      const created = await b.api("/api/v1/cron/jobs", json("POST", { name: "tick", schedule: "* * * * * *", command: "/cron:list" }));
      expect(created.status).toBe(201);
      const job = await created.json();
      await Bun.sleep(2500);
      const before = await leaderOf(a);
      expect(before).toBeDefined();
      const leader = cluster.nodes.find((n) => n.name === before!.name)!;
      const survivor = cluster.nodes.find((n) => n !== leader)!;
      const seen: { type: string; data: { id: string } }[] = [];
      const ws = new WebSocket(`${survivor.url.replace("http", "ws")}/api/v1/ws?api_key=${ADMIN_KEY}&types=node_down,leader_changed`);
      ws.onmessage = (m) => seen.push(JSON.parse(String(m.data)));
      await new Promise((resolve) => (ws.onopen = resolve));
      leader.proc.kill("SIGKILL");
      const killedAt = Date.now();
      await waitFor(async () => {
        const next = await leaderOf(survivor);
        return next !== undefined && next.name !== leader.name;
      }, 2 * TEST_CLUSTER_TIMING.lease_s * 1000 + 3000, "a new leader");
      await Bun.sleep(2500);
      const runs = (await (await survivor.api(`/api/v1/cron/jobs/${job.id}/runs?limit=100`)).json()).runs as { scheduled_at: string; trigger: string }[];
      const ticks = runs.map((r) => Date.parse(r.scheduled_at)).sort((x, y) => x - y);
      expect(runs.every((r) => r.trigger === "schedule")).toBe(true);
      expect(new Set(ticks).size).toBe(ticks.length); // no tick twice
      expect(ticks.some((t) => t < killedAt)).toBe(true);
      expect(ticks.some((t) => t > killedAt + 1000)).toBe(true); // the new leader fires
      // How soon the new leader takes over (the gap in the ticks) is a speed: bench/cluster.ts measures the failover.

      // The killed node goes down; it can then be forgotten.
      const killedId = await leader.id();
      await waitFor(async () => (await nodesOf(survivor)).find((n) => n.id === killedId)?.status === "down", 5000, "the killed node down");
      await waitFor(() => seen.some((e) => e.type === "node_down" && e.data.id === killedId), 5000, "node_down on the WebSocket");
      expect(seen.some((e) => e.type === "leader_changed" && e.data.id !== killedId)).toBe(true);
      ws.close();
      const forgotten = await survivor.api(`/api/v1/nodes/${killedId}`, { method: "DELETE" });
      expect(forgotten.status).toBe(200);
      expect((await survivor.api(`/api/v1/nodes/${killedId}`)).status).toBe(404);
    }, 30_000);

    test("when the node that runs a model is gone, the proxy answers 503 naming it", async () => {
      if (a.proc.exitCode === null) {
        a.proc.kill("SIGKILL");
        await a.proc.exited;
      }
      const client = new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${b.url}/v1`, maxRetries: 0 });
      const failed = await client.chat.completions.create({ model: "on-a", messages: [{ role: "user", content: "hello?" }] }).catch((e) => e);
      expect(failed).toBeInstanceOf(OpenAI.APIError);
      expect(failed.status).toBe(503);
      expect(failed.message).toContain(await a.id()); // and its name while the node is still listed
      // Listed as stored, unreachable, on any node.
      const onA = async () => ((await (await b.api("/api/v1/instances")).json()).instances as { name: string; status: string; node: string }[]).find((i) => i.name === "on-a");
      await waitFor(async () => (await onA())?.status === "unreachable", 5000, "on-a listed unreachable once node-a is down");
      expect(await onA()).toMatchObject({ status: "unreachable", node: await a.id() });
    });
  });

  describe("a recache queue drained by three nodes", () => {
    const INTERNAL_KEY = "cluster-cache-internal-key";
    const ENTRIES = 120;
    let cluster: TestCluster;
    let site: ReturnType<typeof Bun.serve>;
    const hits = new Map<string, number>();

    beforeAll(async () => {
      site = Bun.serve({
        port: 0,
        fetch(request) {
          const path = new URL(request.url).pathname;
          hits.set(path, (hits.get(path) ?? 0) + 1);
          return new Response(`<!doctype html><html><body><p>page ${path}</p></body></html>`, { headers: { "content-type": "text/html" } });
        },
      });
      const hosts = [{ id: 1, name: "site", origins: [`http://127.0.0.1:${site.port}`], dimensions: [{ id: 1, name: "desktop", width: 800, height: 600, user_agent: "Bot/1.0" }] }];
      cluster = await startCluster(3, ["cache"], {
        GANTRY_AUTH__INTERNAL_KEY: INTERNAL_KEY,
        GANTRY_OUTBOUND__ALLOW: `127.0.0.1:${site.port}`, // the stand-in site is on loopback
        GANTRY_PLUGIN__CACHE__HOSTS: JSON.stringify(hosts),
        GANTRY_PLUGIN__CACHE__TABS: "2",
        GANTRY_PLUGIN__CACHE__RESERVE_ONLINE_PERCENT: "0",
        GANTRY_PLUGIN__CACHE__TICK_S: "0.2",
        GANTRY_PLUGIN__CACHE__RENDER_TIMEOUT_MS: "8000",
        GANTRY_PLUGIN__CACHE__RETRY_AFTER_S: "1",
        GANTRY_PLUGIN__CACHE__CLAIM_TIMEOUT_S: "2",
      });
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
      site?.stop();
    });

    const renders = async (node: ClusterNode, outcome: "ok" | "failed") => {
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      return Number(new RegExp(`gantry_cache_renders_total\\{[^}]*kind="recache"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    };

    test("one node killed -9 mid-way: every entry is rendered, none lost; only the dead node's claims render twice", async () => {
      const urls = Array.from({ length: ENTRIES }, (_, i) => `http://127.0.0.1:${site.port}/p/${i}`);
      const [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
      const queued = await fetch(`${a.url}/internal/cache/recache`, {
        method: "POST", headers: { "x-internal-auth": INTERNAL_KEY, "content-type": "application/json" },
        body: JSON.stringify({ host_id: 1, urls, priority: "normal" }),
      });
      expect(queued.status).toBe(200);
      await waitFor(() => [...hits.values()].reduce((x, y) => x + y, 0) >= ENTRIES / 3, 30_000, "a third rendered");
      const bId = await b.id();
      const failedOnB = await renders(b, "failed");
      b.proc.kill("SIGKILL");
      await b.proc.exited;
      // What B held when it died: claimed, not finished (it may have rendered some without recording it).
      const heldByB = new Set((await cluster.sql(`SELECT url FROM cache_queue WHERE claimed_by LIKE '${bId}@%'`)).map((r) => new URL(String(r.url)).pathname));
      const count = async (query: string) => Number((await cluster.sql(query))[0]!.n);
      await waitFor(async () => (await count("SELECT count(*)::int AS n FROM cache_queue")) === 0, 60_000, "the queue drained");
      expect(await count("SELECT count(*)::int AS n FROM cache_entries")).toBe(ENTRIES);
      const paths = urls.map((u) => new URL(u).pathname);
      expect(paths.every((p) => (hits.get(p) ?? 0) >= 1)).toBe(true);
      // Twice only what B held when it died, or a render that failed (a slow machine) and was retried; nothing else.
      const survivors = cluster.nodes.filter((n) => n !== b);
      const failed = failedOnB + (await Promise.all(survivors.map((n) => renders(n, "failed")))).reduce((x, y) => x + y, 0);
      const extra = paths.reduce((sum, p) => sum + Math.max(0, (hits.get(p) ?? 0) - 1 - (heldByB.has(p) ? 1 : 0)), 0);
      expect(extra).toBeLessThanOrEqual(failed);
      // The survivors both took part.
      for (const node of survivors) expect(await renders(node, "ok")).toBeGreaterThan(0);
    }, 120_000);
  });

  describe("rate limits across nodes", () => {
    let cluster: TestCluster;
    beforeAll(async () => {
      cluster = await startCluster(2, [], { GANTRY_RATE_LIMIT__ENABLED: "true", GANTRY_RATE_LIMIT__REGULAR_PER_MINUTE: "10" });
    }, 60_000);
    afterAll(() => cluster?.stop());

    test("a caller's requests count on every node: 6 on A leave 4 on B, then 429", async () => {
      const [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
      // Keep clear of a minute boundary (the window the counts share starts on the minute).
      if (Date.now() % 60_000 > 45_000) await Bun.sleep(60_100 - (Date.now() % 60_000));
      for (let i = 0; i < 6; i++) expect((await a.api("/api/v1/nodes")).status).toBe(200);
      await Bun.sleep(1500); // both nodes publish and read the counts every 0.5 s
      let allowedOnB = 0;
      let refused: Response | undefined;
      for (let i = 0; i < 10 && !refused; i++) {
        const res = await b.api("/api/v1/nodes");
        if (res.status === 200) allowedOnB++;
        else refused = res;
      }
      expect(allowedOnB).toBe(4);
      expect(refused?.status).toBe(429);
      expect((await refused!.json()).code).toBe("RATE_LIMITED");
      expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
      await Bun.sleep(1500);
      expect((await a.api("/api/v1/nodes")).status).toBe(429); // and A counts B's requests
    }, 30_000);
  });

  describe("messages between nodes", () => {
    let pg: postgres.Sql;
    beforeAll(() => {
      pg = postgres(TEST_PG_URL, { max: 2, onnotice: () => {} });
    });
    afterAll(() => pg.end({ timeout: 1 }));

    test("a message larger than a NOTIFY payload goes by reference; a node ignores its own", async () => {
      const schema = `t_channel_${process.pid}`;
      await pg.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"; CREATE TABLE "${schema}".cluster_messages (id bigserial PRIMARY KEY, payload text NOT NULL, created_at timestamptz(3) NOT NULL)`);
      const scoped = postgres(TEST_PG_URL, { max: 2, onnotice: () => {}, connection: { search_path: schema } });
      const log = { warn: () => {} } as unknown as ConstructorParameters<typeof ClusterChannel>[3];
      const one = new ClusterChannel(scoped, `gantry_${schema}`, "node-1", log);
      const two = new ClusterChannel(scoped, `gantry_${schema}`, "node-2", log);
      try {
        await Promise.all([one.start(), two.start()]);
        const atOne: unknown[] = [];
        const atTwo: unknown[] = [];
        one.on("probe", (data) => void atOne.push(data));
        two.on("probe", (data) => void atTwo.push(data));
        const large = { text: "x".repeat(20_000) };
        await one.send("probe", { small: true });
        await one.send("probe", large);
        await waitFor(() => atTwo.length === 2, 3000, "both messages at node-2");
        expect(atTwo).toEqual([{ small: true }, large]);
        expect(one.counts.by_reference).toBe(1);
        await Bun.sleep(100);
        expect(atOne).toEqual([]);
      } finally {
        await Promise.all([one.stop(), two.stop()]);
        await scoped.end({ timeout: 1 });
        await pg.unsafe(`DROP SCHEMA "${schema}" CASCADE`);
      }
    });
  });
}
