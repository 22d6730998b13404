import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import OpenAI from "openai";
import { ADMIN_KEY, BUILTIN_PLUGINS, databaseSettled, freePort, json, STAND_IN_MODEL_SERVER, startGantry, tempDir, testDatabaseEnv, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let inferenceKey: string;

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: { instances: { stop_timeout_s: 2, max_restarts: 2, executables: { llama_cpp: "/nonexistent/llama-server" } } },
    },
  });
  inferenceKey = (await g.gantry.security.keys.create("inference", "inference")).key;
});
afterAll(() => g.stop());

const standIn = (...flags: string[]) => [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "{model_path}", ...flags];
const create = (name: string, extra: Record<string, unknown> = {}) => g.api("/api/v1/instances", json("POST", { name, backend: "command", model_path: `${name}-model`, command: standIn(), ...extra }));

describe("instances lifecycle", () => {
  test("create → start (healthy) → proxy → stop → delete", async () => {
    const created = await create("alpha");
    expect(created.status).toBe(201);
    const { message, instance } = await created.json();
    expect(message).toBe("Instance created successfully");
    expect(instance).toMatchObject({ name: "alpha", status: "stopped", backend: "command", model_path: "alpha-model", pid: null });
    expect(instance.port).toBeGreaterThanOrEqual(g.modelPorts.from);

    const startedAt = new Date().toISOString();
    const started = await (await g.api("/api/v1/instances/alpha/start", json("POST"))).json();
    expect(started).toMatchObject({ message: "Instance started", status: "running" });
    expect(started.pid).toBeGreaterThan(0);
    const health = await (await g.api("/api/v1/instances/alpha/health")).json();
    expect(health).toMatchObject({ status: "healthy", checks: { process: "running", port: "open", response: "ok" }, instance_status: "running" });
    expect(health.last_check >= startedAt).toBe(true); // checked since the start, not a stale result
    const detail = await (await g.api("/api/v1/instances/alpha")).json();
    expect(detail.stats.memory_usage).toBeGreaterThan(0);

    expect((await g.api("/api/v1/instances/alpha", { method: "DELETE" })).status).toBe(409);
    const logs = await (await g.api("/api/v1/instances/alpha/logs?lines=5")).json();
    expect(logs.logs[0]).toMatchObject({ level: "info", stream: "stdout" });
    expect(logs.logs.map((l: { message: string }) => l.message).join("\n")).toContain("listening on");
    expect((await (await g.api("/api/v1/instances/alpha/logs?level=error")).json()).logs).toEqual([]);
    const logFile = join(g.dataDir, "plugins", "instances", "alpha.log");
    await waitFor(() => existsSync(logFile) && readFileSync(logFile, "utf8").includes("listening on"), 2000, "the line in the log file (written in batches)");

    const stopped = await (await g.api("/api/v1/instances/alpha/stop", json("POST", {}))).json();
    expect(stopped).toMatchObject({ message: "Instance stopped", status: "stopped", pid: null });
    expect(await (await g.api("/api/v1/instances/alpha/health")).json()).toMatchObject({ status: "stopped", checks: { process: "stopped", port: "closed", response: "none" }, instance_status: "stopped" });
    expect(() => process.kill(started.pid, 0)).toThrow();
    expect(await (await g.api("/api/v1/instances/alpha", { method: "DELETE" })).json()).toEqual({ message: "Instance deleted successfully" });
    expect((await g.api("/api/v1/instances/alpha")).status).toBe(404);
  });

  test("bad inputs: path tricks, clashing port, duplicate name, command backend without command", async () => {
    expect((await g.api("/api/v1/instances", json("POST", { name: "../etc", model_path: "x" }))).status).toBe(400);
    expect((await g.api("/api/v1/instances", json("POST", { name: "ok" }))).status).toBe(400);
    await create("port-a", { port: g.modelPorts.to });
    const clash = await create("port-b", { port: g.modelPorts.to });
    expect(clash.status).toBe(409);
    expect((await clash.json()).code).toBe("PORT_IN_USE");
    expect((await create("port-a")).status).toBe(409);
    const noCommand = await g.api("/api/v1/instances", json("POST", { name: "cmdless", backend: "command", model_path: "m" }));
    expect(noCommand.status).toBe(400);
    expect((await g.api("/api/v1/instances/nope/start", json("POST"))).status).toBe(404);
    await g.api("/api/v1/instances/port-a", { method: "DELETE" });
  });

  test("a missing executable leaves the instance failed with that message", async () => {
    await g.api("/api/v1/instances", json("POST", { name: "llama", backend: "llama_cpp", model_path: "/models/x.gguf", options: { threads: 4, context_size: 2048 } }));
    const res = await g.api("/api/v1/instances/llama/start", json("POST"));
    expect(res.status).toBe(422);
    expect((await res.json()).error).toContain("executable not found: /nonexistent/llama-server");
    expect((await (await g.api("/api/v1/instances/llama")).json()).status).toBe("failed");
    await g.api("/api/v1/instances/llama", { method: "DELETE" });
  });

  test("a port another program holds is refused at start (its server would answer the health checks)", async () => {
    const port = await freePort();
    let reached = 0;
    const foreign = Bun.serve({ port, hostname: "127.0.0.1", fetch: () => (reached++, new Response("ok")) });
    try {
      expect((await create("squatted", { port })).status).toBe(201);
      const res = await g.api("/api/v1/instances/squatted/start", json("POST"));
      expect(res.status).toBe(422);
      expect((await res.json()).error).toContain(`port ${port} is already in use by a program gantry did not start`);
      expect(await (await g.api("/api/v1/instances/squatted")).json()).toMatchObject({ status: "failed", pid: null });
      expect(reached).toBe(0);
    } finally {
      foreign.stop(true);
    }
    await g.api("/api/v1/instances/squatted", { method: "DELETE" });
  });

  test("a crash restarts with backoff, then the instance is failed", async () => {
    await create("crashy", { command: standIn("--exit-after-ms", "300") });
    const statuses: string[] = [];
    g.gantry.core.events.subscribe("instance_status_changed", (e) => {
      const data = e.data as { name: string; status: string };
      if (data.name === "crashy") statuses.push(data.status);
    });
    await g.api("/api/v1/instances/crashy/start", json("POST"));
    await waitFor(async () => (await (await g.api("/api/v1/instances/crashy")).json()).status === "failed", 10_000, "failed");
    const detail = await (await g.api("/api/v1/instances/crashy")).json();
    expect(detail.restarts).toBe(2);
    expect(detail.last_error).toContain("gave up after 2 restarts");
    expect(statuses.filter((s) => s === "running").length).toBe(3);
    // The server's last lines come before gantry's word on the exit, every time.
    const logs = ((await (await g.api("/api/v1/instances/crashy/logs?lines=200")).json()).logs as { message: string }[]).map((l) => l.message);
    const byes = logs.flatMap((m, i) => (m === "stand-in: bye" ? [i] : []));
    const exits = logs.flatMap((m, i) => (m.startsWith("[gantry] crashy exited with code 4") ? [i] : []));
    expect(byes).toHaveLength(3);
    expect(exits).toHaveLength(3);
    expect(byes.every((b, n) => b < exits[n]!)).toBe(true);
    await g.api("/api/v1/instances/crashy", { method: "DELETE" });
  });

  test("stop escalates to SIGKILL after the timeout", async () => {
    await create("stubborn", { command: standIn("--ignore-sigterm") });
    const { pid } = await (await g.api("/api/v1/instances/stubborn/start", json("POST"))).json();
    const started = performance.now();
    const stopped = await (await g.api("/api/v1/instances/stubborn/stop", json("POST", { timeout: 0.3 }))).json();
    expect(stopped.status).toBe("stopped");
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(() => process.kill(pid, 0)).toThrow();
    const logs = await (await g.api("/api/v1/instances/stubborn/logs?stream=stderr")).json();
    expect(logs.logs.map((l: { message: string }) => l.message).join("\n")).toContain("sent SIGKILL");
    await g.api("/api/v1/instances/stubborn", { method: "DELETE" });
  });
});

describe("logs follow, events, system", () => {
  test("follow=true streams new lines until the client leaves; status events reach /api/v1/ws", async () => {
    const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/ws?api_key=${ADMIN_KEY}&types=instance_status_changed`);
    const events: { data: { name: string; status: string } }[] = [];
    ws.onmessage = (m) => events.push(JSON.parse(String(m.data)));
    await new Promise((resolve) => (ws.onopen = resolve));
    await create("follow");
    await g.api("/api/v1/instances/follow/start", json("POST"));
    const controller = new AbortController();
    const res = await fetch(`${g.url}/api/v1/instances/follow/logs?follow=true&lines=1`, { headers: { authorization: `Bearer ${ADMIN_KEY}` }, signal: controller.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    await g.api("/v1/completions", json("POST", { model: "follow", prompt: "ping" }));
    while (!text.includes("request 1")) text += decoder.decode((await reader.read()).value);
    controller.abort();
    expect(text).toContain('"message":"request 1 /v1/completions"');
    await waitFor(() => events.some((e) => e.data.name === "follow" && e.data.status === "running"), 2000, "the status event");
    ws.close();
    await g.api("/api/v1/instances/follow/stop", json("POST", {}));
  });

  test("slash commands list, start and stop instances (the CLI's way in)", async () => {
    await create("slashy");
    const invoke = (command: string, args = "") => g.api(`/api/v1/plugins/commands/instances:${command}/invoke`, json("POST", { arguments: args }));
    expect((await (await invoke("start", "slashy")).json()).result).toMatchObject({ name: "slashy", status: "running" });
    const table = (await (await invoke("list")).json()).result as string; // a table for people
    expect(table).toMatch(/^NAME\s+STATUS\s+ORIGIN\s+BACKEND\s+PORT\s+PID/);
    expect(table).toMatch(/slashy\s+running\s+api\s+command\s+\d+\s+\d+/);
    expect((await (await invoke("stop", "slashy")).json()).result).toMatchObject({ status: "stopped", pid: null });
    const missing = await invoke("start", "ghost");
    expect([missing.status, (await missing.json()).error]).toEqual([422, "Command 'instances:start' failed: Instance 'ghost' does not exist"]);
    await g.api("/api/v1/instances/slashy", { method: "DELETE" });
  });

  test("system status and info carry the seed's fields", async () => {
    const status = await (await g.api("/api/v1/system/status")).json();
    expect(Object.keys(status)).toEqual(["version", "uptime", "instances", "resources"]);
    expect(Object.keys(status.resources)).toEqual(["cpu_usage", "memory_usage", "memory_total", "disk_usage"]);
    expect(status.instances.total).toBe(status.instances.running + status.instances.stopped);
    const info = await (await g.api("/api/v1/system/info")).json();
    expect(info).toMatchObject({ os: "linux", arch: "amd64", version: "0.1.0" });
    expect(info.cpu_count).toBeGreaterThan(0);
    expect(info.memory_total).toBeGreaterThan(0);
  });
});

describe("OpenAI-compatible proxy", () => {
  test("non-streaming and streaming through the official openai client, embeddings, models", async () => {
    await create("chat");
    await g.api("/api/v1/instances/chat/start", json("POST"));
    const client = new OpenAI({ apiKey: inferenceKey, baseURL: `${g.url}/v1` });
    const completion = await client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hello proxy" }] });
    expect(completion.choices[0]!.message.content).toBe("You said: hello proxy");
    const chunks: string[] = [];
    const stream = await client.chat.completions.create({ model: "chat", stream: true, messages: [{ role: "user", content: "one two three" }] });
    for await (const chunk of stream) chunks.push(chunk.choices[0]?.delta?.content ?? "");
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.join("")).toBe("You said: one two three");
    const embeddings = await client.embeddings.create({ model: "chat", input: ["abc", "de"] });
    expect(embeddings.data.map((d) => d.embedding[0])).toEqual([3, 2]);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain("chat");
  });

  test("a proxied request sends no query to the database once the key cache is warm; a revoked key stops at once", async () => {
    await create("hot");
    await g.api("/api/v1/instances/hot/start", json("POST"));
    const key = (await g.gantry.security.keys.create("hot-path", "inference")).key;
    const ask = () => g.api("/v1/chat/completions", { ...json("POST", { model: "hot", messages: [{ role: "user", content: "hi" }] }), auth: key });
    expect((await ask()).status).toBe(200);
    const database = g.gantry.core.database;
    // Background writes of earlier admin requests (audit rows, the server's pid) settle first.
    const before = await databaseSettled(g);
    for (let i = 0; i < 50; i++) expect((await ask()).status).toBe(200);
    // A query per request would be 50 or more; what little may still show up is the supervisor's own
    // writes (a health flap's pid on a loaded machine), not the request path.
    expect(database.statements() - before).toBeLessThan(5);
    const { id } = (await g.gantry.security.keys.list()).find((k) => k.name === "hot-path")!;
    expect((await g.api(`/api/v1/auth/keys/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await ask()).status).toBe(401);
  });

  test("missing or unknown model: 400 and 404 in OpenAI's error shape; management routes refuse the inference key", async () => {
    const missing = await g.api("/v1/chat/completions", { ...json("POST", { messages: [] }), auth: inferenceKey });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: { message: "You must provide a model parameter", type: "invalid_request_error", param: "model", code: "model_required" } });
    const unknown = await g.api("/v1/chat/completions", { ...json("POST", { model: "ghost", messages: [] }), auth: inferenceKey });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toMatchObject({ param: "model", code: "model_not_found" });
    expect((await g.api("/api/v1/instances", { auth: inferenceKey })).status).toBe(403);
    expect((await g.api("/v1/models", { auth: false })).status).toBe(401);
    for (const bad of ["{not json", "[1, 2]", "\"chat\"", ""]) {
      const res = await g.api("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: bad, auth: inferenceKey });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ type: "invalid_request_error", code: "body_not_object" });
    }
  });

  test("the request body reaches the model server byte for byte", async () => {
    // Spacing, key order and an integer beyond double precision: a parse-and-serialize proxy changes all three.
    const raw = `{ "seed": 12345678901234567890,\n  "model": "chat", "messages": [ { "role": "user", "content": "exact" } ] }`;
    const res = await g.api("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: raw, auth: inferenceKey });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-stand-in-body-sha256")).toBe(new Bun.CryptoHasher("sha256").update(raw).digest("hex"));
    expect((await res.json()).choices[0].message.content).toBe("You said: exact");
  });

  test("a stopped instance is 503, or started on demand", async () => {
    await create("sleepy");
    const refused = await g.api("/v1/completions", { ...json("POST", { model: "sleepy", prompt: "x" }), auth: inferenceKey });
    expect(refused.status).toBe(503);
    await g.api("/api/v1/instances/sleepy", json("PUT", { on_demand_start: true }));
    const res = await g.api("/v1/completions", { ...json("POST", { model: "sleepy", prompt: "wake up" }), auth: inferenceKey });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].text).toBe("You said: wake up");
    expect((await (await g.api("/api/v1/instances/sleepy")).json()).status).toBe("running");
    await g.api("/api/v1/instances/sleepy/stop", json("POST", {}));
  });

  test("a client that leaves mid-stream cancels the upstream request", async () => {
    await create("long", { command: standIn("--chunk-delay-ms", "50") });
    await g.api("/api/v1/instances/long/start", json("POST"));
    const controller = new AbortController();
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: "POST", signal: controller.signal,
      headers: { "content-type": "application/json", authorization: `Bearer ${inferenceKey}` },
      body: JSON.stringify({ model: "long", stream: true, messages: [{ role: "user", content: Array(60).fill("w").join(" ") }] }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor(async () => {
      const logs = await (await g.api("/api/v1/instances/long/logs")).json();
      return logs.logs.some((l: { message: string }) => l.message.includes("stream aborted by client"));
    }, 5000, "the upstream to see the abort");
  });
});

describe("stats", () => {
  test("memory and CPU cover the whole process group; stopping the server stops its workers", async () => {
    await create("forked", { command: standIn("--spawn-worker") });
    const { pid } = await (await g.api("/api/v1/instances/forked/start", json("POST"))).json();
    const logs = await (await g.api("/api/v1/instances/forked/logs?lines=20")).json();
    const worker = Number(/worker pid (\d+)/.exec(logs.logs.map((l: { message: string }) => l.message).join("\n"))?.[1]);
    expect(worker).toBeGreaterThan(0);
    const rss = (p: number) => Number(readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[21]) * 4096;
    const { stats } = await (await g.api("/api/v1/instances/forked")).json();
    expect(stats.processes).toBe(2);
    expect(stats.memory_usage).toBeGreaterThan(rss(pid)); // the worker's memory counts too
    expect(typeof stats.cpu_usage).toBe("number");
    await g.api("/api/v1/instances/forked/stop", json("POST", {}));
    const alive = (p: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, "utf8"));
      } catch {
        return false; // gone, or exiting while being read (ESRCH)
      }
    };
    await waitFor(() => !alive(worker), 3000, "the worker to stop with its server");
    await g.api("/api/v1/instances/forked", { method: "DELETE" });
  });
});

describe("health watch", () => {
  test("a server that stops answering its health checks is restarted, then failed after max_restarts", async () => {
    const watched = await startGantry({
      builtins: BUILTIN_PLUGINS,
      config: { rate_limit: { enabled: false }, plugin: { instances: { health_interval_s: 0.2, health_interval_healthy_s: 0.2, unhealthy_threshold: 2, max_restarts: 1, stop_timeout_s: 1 } } },
    });
    try {
      const info = async () => (await (await watched.api("/api/v1/instances/hung")).json());
      const ws = new WebSocket(`${watched.url.replace("http", "ws")}/api/v1/ws?api_key=${ADMIN_KEY}&types=system_alert,instance_stats_updated`);
      const alerts: { data: { severity: string; instance: string; message: string } }[] = [];
      const stats: { data: { name: string; stats: { memory_usage: number } } }[] = [];
      ws.onmessage = (m) => {
        const event = JSON.parse(String(m.data));
        (event.type === "system_alert" ? alerts : stats).push(event);
      };
      await new Promise((resolve) => (ws.onopen = resolve));
      await watched.api("/api/v1/instances", json("POST", { name: "hung", backend: "command", model_path: "hung", restart: "always", command: standIn("--unhealthy-after-ms", "600") }));
      const first = await (await watched.api("/api/v1/instances/hung/start", json("POST"))).json();
      expect(first.status).toBe("running");
      // Stats (a /proc scan) are sent on each health tick while a client listens for them.
      await waitFor(() => stats.some((e) => e.data.name === "hung" && e.data.stats.memory_usage > 0), 2000, "a stats event");
      await waitFor(async () => (await info()).restarts === 1 && (await info()).status === "running", 8000, "a restart after failed health checks");
      expect((await info()).pid).not.toBe(first.pid);
      expect(() => process.kill(first.pid, 0)).toThrow(); // the hung process is gone
      await waitFor(async () => (await info()).status === "failed", 8000, "failed once max_restarts is used up");
      expect((await info()).last_error).toContain("stopped answering its health checks (2 failed in a row)");
      const logs = await (await watched.api("/api/v1/instances/hung/logs?stream=stderr&lines=50")).json();
      expect(logs.logs.map((l: { message: string }) => l.message).join("\n")).toContain("failed 2 health checks in a row: restarting it");
      await waitFor(() => alerts.some((a) => a.data.severity === "error"), 2000, "the failure alert");
      ws.close();
      expect(alerts.map((a) => [a.data.severity, a.data.instance])).toEqual([["warning", "hung"], ["error", "hung"]]);
      expect(alerts[0]!.data.message).toContain("is restarting: stopped answering its health checks");
    } finally {
      await watched.stop();
    }
  });
});

describe("capacity: max_running, idle timeout, start-all / stop-all, single-call inference", () => {
  test("LRU eviction at max_running; idle instances are stopped", async () => {
    const small = await startGantry({
      builtins: BUILTIN_PLUGINS,
      config: { rate_limit: { enabled: false }, plugin: { instances: { max_running: 1, health_interval_s: 0.2 } } },
    });
    try {
      const mk = (name: string, extra: Record<string, unknown> = {}) =>
        small.api("/api/v1/instances", json("POST", { name, backend: "command", model_path: name, command: standIn(), on_demand_start: true, ...extra }));
      await mk("first");
      await mk("second", { idle_timeout: 1 });
      const ask = (model: string) => small.api("/api/v1/inference/" + model, json("POST", { messages: [{ role: "user", content: `to ${model}` }] }));
      expect((await (await ask("first")).json()).choices[0].message.content).toBe("You said: to first");
      expect((await (await ask("second")).json()).choices[0].message.content).toBe("You said: to second");
      const status = async (name: string) => (await (await small.api(`/api/v1/instances/${name}`)).json()).status;
      expect(await status("first")).toBe("stopped"); // evicted as least recently used
      expect(await status("second")).toBe("running");
      await waitFor(async () => (await status("second")) === "stopped", 5000, "the idle instance to stop");

      const all = await (await small.api("/api/v1/instances/start-all", json("POST"))).json();
      expect(all.started.length + Object.keys(all.failed).length).toBe(2);
      await small.api("/api/v1/instances/stop-all", json("POST"));
      expect([await status("first"), await status("second")]).toEqual(["stopped", "stopped"]);
    } finally {
      await small.stop();
    }
  });

  test("gantry's shutdown stops the model servers it started", async () => {
    const own = await startGantry({ builtins: BUILTIN_PLUGINS });
    await own.api("/api/v1/instances", json("POST", { name: "bye", backend: "command", model_path: "bye", command: standIn() }));
    const { pid } = await (await own.api("/api/v1/instances/bye/start", json("POST"))).json();
    await own.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe("kill -9 of gantry", () => {
  test("leaves no model server behind: the leftover is gone when /healthz first answers", async () => {
    const dataDir = tempDir();
    // A port no other run holds: a leftover stand-in from an earlier run would otherwise answer for ours.
    const modelPort = await freePort();
    const boot = async () => {
      const port = await freePort();
      const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../core/main.ts"), "serve", "--port", String(port)], {
        env: { PATH: process.env.PATH ?? "", GANTRY_DATA_DIR: dataDir, GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_LOG__LEVEL: "warn", GANTRY_PLUGIN__INSTANCES__PORT_RANGE: `[${modelPort}, ${modelPort}]`, ...testDatabaseEnv(dataDir) },
        stdout: "ignore", stderr: "ignore",
      });
      const url = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => null))?.status === 200, 60_000, "gantry to listen");
      const call = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { ...(init.headers ?? {}), authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" } });
      return { proc, call };
    };
    const started: Subprocess[] = [];
    const first = await boot();
    started.push(first.proc);
    // Two leftovers: a server started directly, and one behind a shell wrapper whose shell dies too.
    // Their output goes to /dev/null: a server writing to the dead gantry's pipe would die of EPIPE by itself.
    await first.call("/api/v1/instances", { method: "POST", body: JSON.stringify({ name: "orphan", backend: "command", model_path: "orphan", command: ["sh", "-c", `exec ${standIn().join(" ")} > /dev/null 2>&1`] }) });
    await first.call("/api/v1/instances", { method: "POST", body: JSON.stringify({ name: "wrapped", backend: "command", model_path: "wrapped", command: ["sh", "-c", `${standIn().join(" ")} > /dev/null 2>&1 & wait`] }) });
    const { pid } = await (await first.call("/api/v1/instances/orphan/start", { method: "POST" })).json();
    const { pid: shell } = await (await first.call("/api/v1/instances/wrapped/start", { method: "POST" })).json();
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    // A killed child may linger as a zombie until PID 1 reaps it; only a running process counts.
    const alive = (p: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, "utf8"));
      } catch {
        return false; // gone, or exiting while being read (ESRCH)
      }
    };
    const groupMembers = (group: number) => readdirSync("/proc").filter((e) => /^\d+$/.test(e) && alive(Number(e))).map(Number)
      .filter((p) => { try { const s = readFileSync(`/proc/${p}/stat`, "utf8"); return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[2]) === group; } catch { return false; } });
    // Whatever survived in the two process groups (the wrapper is killed: its server alone remains).
    const leftovers = [...groupMembers(pid), ...groupMembers(shell).filter((p) => p !== shell)];
    try {
      process.kill(shell, "SIGKILL");
    } catch {
      // gone with gantry
    }
    try {
      const second = await boot();
      started.push(second.proc);
      // Reaped before listening: gone at the first 200 of /healthz, not some time after.
      expect(leftovers.filter(alive)).toEqual([]);
    } finally {
      // The second gantry restored the two instances (they were running when the first was killed): a graceful stop ends them.
      const last = started.at(-1)!;
      for (const proc of started) proc.kill(proc === last && started.length > 1 ? "SIGTERM" : "SIGKILL");
      await Promise.race([last.exited, Bun.sleep(10_000)]);
      last.kill("SIGKILL");
      for (const group of [pid, shell]) {
        try {
          process.kill(-group, "SIGKILL");
        } catch {
          // already gone, as it should be
        }
      }
    }
  });
});
