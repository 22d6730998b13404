/**
 * Deployments end to end: two stand-in model servers that answer differently behind one served
 * name; shadow traffic, compare, promotion through a four-eyes gate (full and canary) under load,
 * rollback under load, retire, OCI packages, the audit PDF, drift alerts, reload and disable.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extract } from "tar-stream";
import { BUILTIN_PLUGINS, STAND_IN_MODEL_SERVER, json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
/** Two operators: A asks, B approves (four-eyes). */
let opA = "";
let opB = "";
let viewer = "";

async function addInstance(name: string, extra: string[] = [], modelPath = name) {
  const res = await g.api("/api/v1/instances", json("POST", {
    name, backend: "command", model_path: modelPath, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", ...extra],
  }));
  expect(res.status).toBe(201);
}
const post = (path: string, body: unknown, auth?: string) => g.api(`/api/v1/deployments${path}`, { ...json("POST", body), ...(auth ? { auth } : {}) });
const get = async (path: string) => (await g.api(`/api/v1/deployments${path}`)).json();
const chat = (model: string, content = "hello") => g.api("/v1/chat/completions", json("POST", { model, messages: [{ role: "user", content }] }));
const answerOf = async (res: Response) => ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
const deployment = async (model: string) => (await get("")).deployments.find((d: { model: string }) => d.model === model);

/** Asks (as A) and approves (as B); answers the promotion as it ended. */
async function promote(model: string, version: string, extra: Record<string, unknown> = {}) {
  const res = await post("/promote", { model, version, comment: `ship ${version}`, ...extra }, opA);
  expect(res.status).toBe(202);
  const promotion = await res.json();
  const approved = await g.api(`/api/v1/approvals/${promotion.gate_id}/approve`, { ...json("POST", { comment: "looks good" }), auth: opB });
  expect(approved.status).toBe(200);
  await waitFor(async () => (await get(`/${encodeURIComponent(model)}`)).promotions.find((p: { id: string }) => p.id === promotion.id).status !== "pending", 15_000, "the switch");
  return (await get(`/${encodeURIComponent(model)}`)).promotions.find((p: { id: string }) => p.id === promotion.id);
}

/** Requests `model` at `concurrency` until `stop()` resolves; answers every status and answer. */
function load(model: string, concurrency = 6) {
  const results: { status: number; answer: string }[] = [];
  let running = true;
  const worker = async () => {
    while (running) {
      const res = await chat(model, "load");
      results.push({ status: res.status, answer: res.status === 200 ? await answerOf(res) : await res.text() });
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return { results, stop: async () => { running = false; await Promise.all(workers); return results; } };
}

beforeAll(async () => {
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        instances: { port_range: [18800, 18830] },
        deployments: { check_interval_s: 1, keep_warm_s: 600, shadow_max_in_flight: 64, drift_baseline_requests: 10, drift_window_requests: 10 },
      },
    },
  });
  opA = (await g.gantry.security.keys.create("op-a", "operator")).key;
  opB = (await g.gantry.security.keys.create("op-b", "operator")).key;
  viewer = (await g.gantry.security.keys.create("deployments-viewer", "viewer")).key;
  await addInstance("chat-v1", ["--answer-prefix", "Version one says: "]);
  await addInstance("chat-v2", ["--answer-prefix", "Version two says: "]);
  await addInstance("chat-slow", ["--answer-prefix", "Slow one says: ", "--latency-ms", "700"]);
});
afterAll(() => g.stop());

describe("deployments", () => {
  test("the first version goes live through a four-eyes gate: the requester cannot approve, another operator can", async () => {
    const res = await post("/promote", { model: "chat", version: "chat-v1", comment: "first release" }, opA);
    expect(res.status).toBe(202);
    const promotion = await res.json();
    expect(promotion).toMatchObject({ model: "chat", version: "chat-v1", status: "pending", requested_by: "key:op-a", from_version: null });
    const gates = (await (await g.api("/api/v1/approvals?status=pending")).json()).approvals;
    expect(gates.find((x: { id: string }) => x.id === promotion.gate_id)).toMatchObject({ requested_by: "key:op-a", agent: "deployments:chat" });
    expect((await chat("chat")).status).toBe(404); // nothing live yet

    const self = await g.api(`/api/v1/approvals/${promotion.gate_id}/approve`, { ...json("POST", {}), auth: opA });
    expect(self.status).toBe(403);
    expect(await self.json()).toMatchObject({ code: "GATE_FOUR_EYES" });
    expect((await deployment("chat")).status).toBe("pending_approval");
    expect((await post("/promote", { model: "chat", version: "chat-v2", comment: "too soon" }, opA)).status).toBe(409); // one pending at a time

    const ok = await g.api(`/api/v1/approvals/${promotion.gate_id}/approve`, { ...json("POST", { comment: "fine" }), auth: opB });
    expect(ok.status).toBe(200);
    await waitFor(async () => (await deployment("chat")).live_version === "chat-v1", 15_000, "chat-v1 live");
    expect(await answerOf(await chat("chat"))).toBe("Version one says: hello");
    const view = await get("/chat");
    expect(view.promotions[0]).toMatchObject({ status: "live", decided_by: "key:op-b", note: "fine" });
    expect(view.traffic).toEqual([{ version: "chat-v1", percent: 100 }]);
  });

  test("shadow: the client gets the champion's answer, the mirror to the challenger runs after it", async () => {
    const started = await post("/shadow-start", { model: "chat", challenger: "chat-slow", sample_rate: 1 });
    expect(started.status).toBe(201);
    expect(await started.json()).toMatchObject({ champion: "chat-v1", challenger: "chat-slow", running: true, counts: { seen: 0, mirrored: 0 } });
    await g.api("/api/v1/instances/chat-slow/start", { method: "POST" });
    const res = await chat("chat", "shadowed");
    expect(await answerOf(res)).toBe("Version one says: shadowed");
    // The client has its answer while the mirror (a 700 ms challenger) has not finished.
    const during = await get("/chat/shadow-status");
    expect(during.counts).toMatchObject({ seen: 1, sampled: 1, mirrored: 0 });
    await waitFor(async () => (await get("/chat/shadow-status")).counts.mirrored === 1, 10_000, "the mirror");
    const after = await get("/chat/shadow-status");
    expect(after.samples).toBe(1);
    expect(after.similarity.exact.rate).toBe(0);
    expect(after.figures.challenger.error_rate.rate).toBe(0);
    expect((await post("/shadow-stop", { model: "chat" })).status).toBe(200);
    expect((await get("/chat/shadow-status")).running).toBe(false);
  });
});
