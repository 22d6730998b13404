/**
 * One HTTP-level suite for every way gantry runs (Bun, Deno, the single binary): a real gantry
 * process driven over loopback. `smoke` is the subset that needs no files outside the program.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { ADMIN_KEY, copyFixture, freePort, json, STAND_IN_MODEL_SERVER, waitFor } from "../helpers.ts";
import { ADMIN_PASSWORD, type GantryProcess } from "./gantry-process.ts";

export interface SuiteOptions {
  /** Only health (with the docs UI and the dashboard), auth, plugin install/reload/uninstall, WebSocket events and run_script. */
  smoke?: boolean;
}

/** Registers the suite under `name`; `start` launches the gantry under test. */
export function httpSuite(name: string, start: () => Promise<GantryProcess>, options: SuiteOptions = {}): void {
  describe(name, () => {
    let g: GantryProcess;
    beforeAll(async () => {
      g = await start();
    }, 240_000); // the package and binary legs build or install first
    afterAll(() => g?.stop(), 60_000);

    test("health, liveness, the OpenAPI document and the error shape", async () => {
      expect(await (await g.api("/healthz", { auth: false })).json()).toMatchObject({ status: "ok" });
      expect((await g.api("/livez", { auth: false })).status).toBe(200);
      const spec = await (await g.api("/openapi.json")).json();
      expect(Object.keys(spec.paths)).toContain("/api/v1/plugins");
      const missing = await g.api("/api/v1/nothing-here");
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ code: "NOT_FOUND" });
      const docs = await g.api("/docs/assets/swagger-ui.css", { auth: false });
      expect(docs.status).toBe(200);
      expect((await docs.text()).length).toBeGreaterThan(1000);
      const dashboard = await g.api("/ui", { auth: false });
      expect(dashboard.status).toBe(200);
      expect(await dashboard.text()).toContain("<script");
    });

    test("auth: a password logs in (argon2id), a wrong one is 401, no key is 401", async () => {
      const login = await g.api("/api/v1/auth/login", { ...json("POST", { username: "admin", password: ADMIN_PASSWORD }), auth: false });
      expect(login.status).toBe(200);
      const { access_token } = await login.json();
      const whoami = await g.api("/api/v1/auth/whoami", { auth: access_token });
      expect(await whoami.json()).toMatchObject({ role: "admin" });
      const wrong = await g.api("/api/v1/auth/login", { ...json("POST", { username: "admin", password: "not-the-password" }), auth: false });
      expect(wrong.status).toBe(401);
      expect((await wrong.json()).code).toBeString();
      expect((await g.api("/api/v1/plugins", { auth: false })).status).toBe(401);
    });

    test("a plugin from a folder outside gantry installs, hot-reloads its edited code and uninstalls", async () => {
      const dir = copyFixture("hello");
      const installed = await g.api("/api/v1/plugins", json("POST", { path: dir }));
      expect(installed.status).toBe(201);
      expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "hello, world" });
      const entry = join(dir, "index.ts");
      writeFileSync(entry, readFileSync(entry, "utf8").replace("`${greeting}, world`", "`${greeting}, reloaded world`"));
      expect((await g.api("/api/v1/plugins/hello/reload", json("POST"))).status).toBe(200);
      expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "hello, reloaded world" });
      writeFileSync(entry, "export default {"); // a syntax error: the running version keeps serving
      expect((await g.api("/api/v1/plugins/hello/reload", json("POST"))).status).toBe(422);
      expect(await (await g.api("/api/v1/hello/greeting")).json()).toEqual({ text: "hello, reloaded world" });
      expect((await g.api("/api/v1/plugins/hello", { method: "DELETE" })).status).toBe(200);
      expect((await g.api("/api/v1/hello/greeting")).status).toBe(404);
    });

    test("events over the WebSocket: a reload is announced; no key, no socket", async () => {
      const url = `${g.url.replace("http", "ws")}/api/v1/ws`;
      const ws = new WebSocket(`${url}?api_key=${ADMIN_KEY}&types=plugin_reloaded`);
      const events: { type: string; data: { name: string } }[] = [];
      ws.onmessage = (message) => events.push(JSON.parse(String(message.data)));
      await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
      expect((await g.api("/api/v1/plugins/scripts/reload", json("POST"))).status).toBe(200);
      await waitFor(() => events.length > 0, 5000, "a plugin_reloaded event");
      expect(events[0]).toMatchObject({ type: "plugin_reloaded", data: { name: "scripts" } });
      ws.close();
      const refused = new WebSocket(url);
      const outcome = await new Promise<string>((resolve) => ((refused.onopen = () => resolve("open")), (refused.onclose = () => resolve("closed"))));
      expect(outcome).toBe("closed");
    });

    test("run_script runs JavaScript in the WebAssembly sandbox", async () => {
      const form = new FormData();
      form.append("script", new Blob(["result = { sum: [1, 2, 3].reduce((a, b) => a + b, 0) };"], { type: "text/javascript" }), "sum.js");
      const res = await g.api("/run_script", { method: "POST", body: form });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(JSON.stringify({ sum: 6 }));
      const empty = await g.api("/run_script", { method: "POST", body: new FormData() });
      expect(empty.status).toBe(400);
    });

    if (options.smoke) return;

    test("an instance of the stand-in model server serves the proxy, streaming chunk by chunk", async () => {
      const created = await g.api("/api/v1/instances", json("POST", {
        name: "suite-model", backend: "command", model_path: "suite-model", on_demand_start: true, port: await freePort(),
        command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "{model_path}"],
      }));
      expect(created.status).toBe(201);
      const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: ADMIN_KEY });
      const answer = await client.chat.completions.create({ model: "suite-model", messages: [{ role: "user", content: "ANSWER plain" }] });
      expect(answer.choices[0]!.message.content).toBe("plain");
      const parts: string[] = [];
      for await (const chunk of await client.chat.completions.create({ model: "suite-model", stream: true, messages: [{ role: "user", content: "one two three" }] })) {
        const delta = chunk.choices[0]?.delta.content;
        if (delta) parts.push(delta);
      }
      expect(parts.length).toBeGreaterThan(1);
      const unknown = await g.api("/v1/chat/completions", json("POST", { model: "no-such-model", messages: [{ role: "user", content: "hi" }] }));
      expect(unknown.status).toBe(404);
      expect((await g.api("/api/v1/instances/suite-model/stop", json("POST", {}))).status).toBe(200);
      expect((await g.api("/api/v1/instances/suite-model", { method: "DELETE" })).status).toBeLessThan(300);
    });

    test("an MCP server over stdio: its tool answers, before and after the mcp plugin reloads", async () => {
      const call = async (text: string) => (await g.api("/api/v1/mcp/servers/tools/tools/echo/call", json("POST", { arguments: { text } }))).json();
      await waitFor(async () => (await (await g.api("/api/v1/mcp/servers/tools")).json()).status === "connected", 10_000, "the MCP server to connect");
      expect(await call("before")).toMatchObject({ is_error: false, content: [{ type: "text", text: "before" }] });
      expect((await g.api("/api/v1/plugins/mcp/reload", json("POST"))).status).toBe(200);
      expect(await call("after")).toMatchObject({ is_error: false, content: [{ type: "text", text: "after" }] });
    });

    test("a cron job runs a slash command on its schedule", async () => {
      expect((await g.api("/api/v1/plugins", json("POST", { path: copyFixture("chores") }))).status).toBe(201);
      const job = await (await g.api("/api/v1/cron/jobs", json("POST", { name: "every-second", schedule: "* * * * * *", command: "/chores:count" }))).json();
      expect(job.id).toMatch(/^cj_/);
      const succeeded = async () => ((await (await g.api(`/api/v1/cron/jobs/${job.id}/runs`)).json()).runs as { status: string }[]).filter((r) => r.status === "succeeded").length;
      await waitFor(async () => (await succeeded()) >= 1, 8000, "a scheduled run");
      expect((await g.api(`/api/v1/cron/jobs/${job.id}`, { method: "DELETE" })).status).toBeLessThan(300);
      const bad = await g.api("/api/v1/cron/jobs", json("POST", { name: "bad", schedule: "not a schedule", command: "/chores:count" }));
      expect(bad.status).toBe(400);
    });
  });
}
