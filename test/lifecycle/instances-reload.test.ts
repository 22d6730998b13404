/** A reload of the instances plugin leaves the model servers running: same pid, the proxy keeps answering, a stream in flight ends normally. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, json, liveGroupMembers, running, STAND_IN_MODEL_SERVER, startGantry, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugins: { disabled: ["cache", "mcp", "agent", "batch", "cron", "deployments"] },
      plugin: { instances: { stop_timeout_s: 2, health_interval_s: 0.2 } },
    },
  });
});
afterAll(() => g.stop());

const chat = (content: string, stream = false) => g.api("/v1/chat/completions", json("POST", { model: "steady", stream, messages: [{ role: "user", content }] }));

describe("instances across a reload", () => {
  test("a running model server keeps its pid and keeps answering; an in-flight stream survives; disable stops it", async () => {
    const created = await g.api("/api/v1/instances", json("POST", {
      name: "steady", backend: "command", model_path: "steady", command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--chunk-delay-ms", "30", "--spawn-worker"],
    }));
    expect(created.status).toBe(201);
    const { pid } = await (await g.api("/api/v1/instances/steady/start", json("POST"))).json();
    expect(pid).toBeGreaterThan(0);
    const statusEvents: string[] = [];
    g.gantry.core.events.subscribe("instance_status_changed", (e) => void statusEvents.push(String((e.data as { status: string }).status)));

    // A stream of ~40 chunks 30 ms apart is open while the plugin reloads twice.
    const streaming = await chat(Array.from({ length: 40 }, (_, i) => `w${i}`).join(" "), true);
    expect(streaming.status).toBe(200);
    const body = streaming.text();
    for (let i = 0; i < 2; i++) expect((await g.api("/api/v1/plugins/instances/reload", json("POST"))).status).toBe(200);
    const text = await body;
    expect(text).toContain("w39");
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);

    const after = await (await g.api("/api/v1/instances/steady")).json();
    expect(after).toMatchObject({ status: "running", pid, restarts: 0 });
    expect(running(pid)).toBe(true);
    expect(statusEvents).toEqual([]); // not stopped, not restarted
    const answer = await (await chat("still there?")).json();
    expect(answer.choices[0].message.content).toContain("still there?");
    // The kernel lists the server as the plugin's, and the new generation's health watch sees it.
    expect((await (await g.api("/threads?name=instances")).text())).toContain(`Thread ID: ${pid}`);
    await waitFor(async () => (await (await g.api("/api/v1/instances/steady/health")).json()).status === "healthy", 2000, "a health check by the new generation");
    // The logs kept across the reload.
    const logs = await (await g.api("/api/v1/instances/steady/logs?lines=50")).json();
    expect(logs.logs.map((l: { message: string }) => l.message).join("\n")).toContain("listening on");

    // Disabling the plugin stops the server and its worker (checked from outside: the process table).
    const worker = Number(logs.logs.map((l: { message: string }) => l.message).join("\n").match(/worker pid (\d+)/)?.[1]);
    expect(running(worker)).toBe(true);
    expect((await g.api("/api/v1/plugins/instances/disable", json("POST"))).status).toBe(200);
    expect(running(pid)).toBe(false);
    await waitFor(() => !running(worker), 3000, "the worker to stop with its server's process group");
    expect(liveGroupMembers(pid)).toEqual([]);
    // Nothing listens on its port any more.
    expect(await fetch(`http://127.0.0.1:${after.port}/health`).then(() => "answered", () => "refused")).toBe("refused");
    expect((await g.api("/api/v1/plugins/instances/enable", json("POST"))).status).toBe(200);
    expect((await (await g.api("/api/v1/instances/steady")).json())).toMatchObject({ status: "stopped", pid: null });
  });
});
