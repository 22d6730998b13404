import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { FIXTURE_PLUGINS, startGantry, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry();
  await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));
});
afterAll(() => g.stop());

describe("plugin context", () => {
  test("periodic tasks registered with ctx.every run while the plugin is active", async () => {
    const task = g.gantry.core.tasks.get("hello-heartbeat")!;
    await waitFor(() => task.snapshot().total_runs >= 2, 2000, "heartbeats");
    expect(task.snapshot()).toMatchObject({ plugin: "hello", level: "high", is_running: true, is_active: true, last_summary: "beat" });
  });

  test("feature flags are read at runtime without restart, typed, persisted and published", async () => {
    const changes: unknown[] = [];
    const unsubscribe = g.gantry.core.events.subscribe("feature_flag_changed", (e) => void changes.push(e.data));
    expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "hello, world" });
    await g.gantry.core.flags.set("hello.shout", true, "test");
    expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "HELLO, WORLD" });
    expect(g.gantry.core.flags.set("hello.shout", "yes")).rejects.toThrow(/type boolean/);
    expect(g.gantry.core.flags.set("no.such.flag", true)).rejects.toThrow(/not declared/);
    expect(g.gantry.core.flags.get("hello.shout")).toMatchObject({ value: true, default: false, overridden: true, plugin: "hello", type: "boolean" });
    await g.gantry.host.reload("hello");
    expect(g.gantry.core.flags.get("hello.shout").value).toBe(true);
    await g.gantry.core.flags.reset("hello.shout");
    expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "hello, world" });
    expect(changes).toEqual([
      { name: "hello.shout", previous: false, value: true, by: "test" },
      { name: "hello.shout", previous: true, value: false, by: null, reset: true },
    ]);
    unsubscribe();
  });

  test("the key-value store is per plugin and persisted", async () => {
    const put = await g.api("/api/v1/hello/kv/colour", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "teal" }) });
    expect(put.status).toBe(200);
    expect(await (await g.api("/api/v1/hello/kv/colour")).json()).toEqual({ value: { name: "teal" } });
    expect(await (await g.api("/api/v1/hello/kv/missing")).json()).toEqual({ value: null });
    const { createKvStore } = await import("../../core/kernel/kv-store.ts");
    const other = createKvStore(g.gantry.core.database.db, "other-plugin");
    expect(await other.get("colour")).toBeUndefined();
    const mine = createKvStore(g.gantry.core.database.db, "hello");
    await mine.set("a_%", 1);
    await mine.set("abc", 2);
    expect((await mine.list("a_")).map((e) => e.key)).toEqual(["a_%"]);
    expect(await mine.delete("abc")).toBe(true);
    expect(await mine.delete("abc")).toBe(false);
  });

  test("events reach the plugin's subscription; a failing subscriber does not stop others", async () => {
    const off = g.gantry.core.events.subscribe("hello.*", () => {
      throw new Error("bad subscriber");
    });
    g.gantry.core.events.publish("hello.ping", "one");
    off();
    expect(await (await g.api("/api/v1/hello/heard")).json()).toContain("one");
    expect(g.logs.text).toContain("event handler failed");
  });

  test("the plugin's child logger has its own runtime level", () => {
    const before = g.logs.lines.length;
    const logger = g.gantry.loggers.get("plugin:hello")!;
    g.gantry.loggers.setLevel("plugin:hello", "error");
    logger.info("hidden line");
    g.gantry.loggers.setLevel("plugin:hello", "info");
    logger.info("visible line");
    const fresh = g.logs.records.slice(before);
    expect(fresh.some((r) => r.msg === "hidden line")).toBe(false);
    expect(fresh.find((r) => r.msg === "visible line")).toMatchObject({ plugin: "hello", logger: "plugin:hello" });
  });

  test("a registration conflict between plugins names the owner", () => {
    const owner = { plugin: "intruder", active: true, disposed: false };
    expect(() => g.gantry.core.services.provide(owner, "greeter", {})).toThrow("Service 'greeter' is already registered by plugin 'hello'");
  });
});

describe("WebSocket /api/v1/ws", () => {
  const connect = (query: string) =>
    new Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }>((resolve, reject) => {
      const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/ws${query}`);
      const messages: Record<string, unknown>[] = [];
      ws.onmessage = (m) => messages.push(JSON.parse(String(m.data)));
      ws.onopen = () => resolve({ ws, messages });
      ws.onerror = () => reject(new Error("ws error"));
    });

  test("streams events to clients, filtered by type", async () => {
    const { ws, messages } = await connect(`?api_key=${encodeURIComponent((await import("../helpers.ts")).ADMIN_KEY)}&types=plugin_*,test.*`);
    await Bun.sleep(20);
    g.gantry.core.events.publish("test.hello", { n: 1 });
    g.gantry.core.events.publish("other.thing", { n: 2 });
    await waitFor(() => messages.length >= 1, 2000, "ws message");
    await Bun.sleep(30);
    expect(messages.map((m) => m.type)).toEqual(["test.hello"]);
    expect(messages[0]).toMatchObject({ data: { n: 1 }, source: "core" });
    ws.close();
  });

  test("a WebSocket upgrade still works after a plugin reload, and reload events stream", async () => {
    const { ADMIN_KEY } = await import("../helpers.ts");
    const first = await connect(`?api_key=${ADMIN_KEY}&types=plugin_reloaded`);
    await g.gantry.host.reload("hello");
    const second = await connect(`?api_key=${ADMIN_KEY}&types=plugin_reloaded`);
    await g.gantry.host.reload("hello");
    await waitFor(() => first.messages.length >= 2 && second.messages.length >= 1, 2000, "reload events");
    expect(second.messages[0]).toMatchObject({ type: "plugin_reloaded", data: { name: "hello", version: "1.0.0" } });
    first.ws.close();
    second.ws.close();
  });

  test("refuses a client without credentials", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/ws`);
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("refused");
      ws.onclose = () => resolve("refused");
    });
    expect(outcome).toBe("refused");
  });
});
