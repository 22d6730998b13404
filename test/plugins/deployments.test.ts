/**
 * Deployments end to end: two stand-in model servers that answer differently behind one served
 * name; shadow traffic, compare, promotion through a four-eyes gate (full and canary) under load,
 * rollback under load, retire, OCI packages, the audit PDF, drift alerts, reload and disable.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { extract } from "tar-stream";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { BUILTIN_PLUGINS, STAND_IN_MODEL_SERVER, dropTestDatabase, json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

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
/** Wilson's 95% interval, written out independently of the plugin's. */
function wilson(k: number, n: number): [number, number] {
  const z = 1.959963984540054, p = k / n, d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d, h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.round((c - h) * 1e4) / 1e4, Math.round((c + h) * 1e4) / 1e4];
}
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
/** The regular files of a tar, by name. */
async function untar(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const reader = extract();
  const done = (async () => {
    for await (const entry of reader) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of entry) chunks.push(chunk as Uint8Array);
      files.set(entry.header.name, new Uint8Array(Buffer.concat(chunks)));
    }
  })();
  reader.end(bytes);
  await done;
  return files;
}
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

/** The model's event socket (as the viewer): the messages so far, and close. */
function events(model: string) {
  const list: { type: string; data: Record<string, unknown> }[] = [];
  const ws = new WebSocket(`${g.url.replace("http", "ws")}/api/v1/deployments/${encodeURIComponent(model)}/events`, { headers: { authorization: `Bearer ${viewer}` } } as never);
  ws.onmessage = (m) => list.push(JSON.parse(String(m.data)));
  return { list, close: () => ws.close() };
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
  // `more(n)`: waits for n more answers (more than `concurrency` include requests sent after now).
  const more = (n: number) => { const target = results.length + n; return waitFor(() => results.length >= target, 20_000, `${n} more answers under load`); };
  return { results, more, stop: async () => { running = false; await Promise.all(workers); return results; } };
}

const dataDir = tempDir();
const start = () => startGantry({
  builtins: BUILTIN_PLUGINS, dataDir,
  config: {
    rate_limit: { enabled: false },
    plugin: {
      deployments: {
        check_interval_s: 1, keep_warm_s: 600, shadow_max_in_flight: 64, drift_baseline_requests: 10, drift_window_requests: 10, similarity_embeddings_model: "embedder",
      },
    },
  },
});

beforeAll(async () => {
  g = await start();
  opA = (await g.gantry.security.keys.create("op-a", "operator")).key;
  opB = (await g.gantry.security.keys.create("op-b", "operator")).key;
  viewer = (await g.gantry.security.keys.create("deployments-viewer", "viewer")).key;
  await addInstance("chat-v1", ["--answer-prefix", "Version one says: "]);
  await addInstance("chat-v2", ["--answer-prefix", "Version two says: "]);
  await addInstance("chat-slow", ["--answer-prefix", "Slow one says: ", "--latency-ms", "700"]);
  await addInstance("chat-shouty", ["--answer-prefix", "VERSION ONE SAYS... "]);
  await addInstance("embedder", ["--embedding-dim", "64"]);
});
afterAll(async () => {
  await g.stop();
  rmSync(dataDir, { recursive: true, force: true });
  await dropTestDatabase(dataDir);
});

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

  test("shadow similarity: answers that differ only in case and punctuation are equal once normalized; embeddings give their cosine", async () => {
    expect((await post("/shadow-start", { model: "chat", challenger: "chat-shouty", sample_rate: 1 })).status).toBe(201);
    for (let i = 0; i < 3; i++) expect(await answerOf(await chat("chat", "same words"))).toBe("Version one says: same words");
    await waitFor(async () => (await get("/chat/shadow-status")).counts.mirrored === 3, 10_000, "three mirrors");
    const status = await get("/chat/shadow-status");
    expect(status.similarity.exact).toEqual({ n: 3, rate: 0, ci95: wilson(0, 3) });
    expect(status.similarity.normalized).toEqual({ n: 3, rate: 1, ci95: wilson(3, 3) });
    expect(status.similarity.cosine.n).toBe(3);
    expect(status.similarity.cosine.mean).toBeCloseTo(1, 3); // the same words: the same concept vector
    expect((await post("/shadow-stop", { model: "chat" })).status).toBe(200);
  });

  test("shadow sampling: the mirrored share matches sample_rate, with a Wilson interval", async () => {
    const stream = events("chat");
    await waitFor(() => stream.list.some((e) => e.type === "deployment.state"), 5000, "the state message");
    expect((await post("/shadow-start", { model: "chat", challenger: "chat-v2", sample_rate: 0.3 })).status).toBe(201);
    const n = 400;
    for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: 10 }, () => chat("chat", "sample")));
    await waitFor(async () => {
      const c = (await get("/chat/shadow-status")).counts;
      return c.mirrored + c.dropped === c.sampled;
    }, 20_000, "mirrors to finish");
    const status = await get("/chat/shadow-status");
    expect(status.counts.seen).toBe(n);
    expect(Math.abs(status.counts.sampled / n - 0.3)).toBeLessThan(0.09); // 4 standard deviations of a binomial(400, 0.3) share
    expect(status.observed_rate).toEqual({ n, rate: Math.round((status.counts.sampled / n) * 1e4) / 1e4, ci95: wilson(status.counts.sampled, n) });
    expect(status.samples).toBe(status.counts.mirrored);
    expect(status.similarity.exact.rate).toBe(0); // "Version one says" vs "Version two says"
    expect(status.similarity.normalized.rate).toBe(0);
    expect(status.similarity.cosine.mean).toBeGreaterThan(0.3); // "version one say sample" vs "version two say sample"
    expect(status.similarity.cosine.mean).toBeLessThan(0.99);
    expect(status.figures.champion.completion_tokens.mean).toBe(4);
    const ci = status.figures.challenger.latency_ms.ci95;
    expect(ci[0]).toBeLessThanOrEqual(status.figures.challenger.latency_ms.mean);
    expect(ci[1]).toBeGreaterThanOrEqual(status.figures.challenger.latency_ms.mean);
    expect(stream.list.find((e) => e.type === "deployment.shadow_started")!.data).toMatchObject({ model: "chat", challenger: "chat-v2", sample_rate: 0.3 });
    expect(stream.list.find((e) => e.type === "deployment.shadow_progress")!.data).toMatchObject({ model: "chat", shadow_id: status.shadow_id });
    stream.close();
  });

  test("compare: a stored, listed and downloadable report from shadow data, and a dataset evaluation through the evaluations plugin", async () => {
    const res = await post("/compare", { model: "chat", challenger: "chat-v2" });
    expect(res.status).toBe(201);
    const report = await res.json();
    expect(report).toMatchObject({ kind: "report", model: "chat", version: "chat-v2", media_type: "application/json" });
    expect(report.detail).toMatchObject({ champion: "chat-v1", challenger: "chat-v2", evaluation: null });
    expect(report.detail.shadow.samples).toBeGreaterThan(50);
    const file = await g.api(report.download);
    expect(file.status).toBe(200);
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(report.sha256);
    expect(JSON.parse(new TextDecoder().decode(bytes)).shadow.figures.challenger.latency_ms.n).toBe(report.detail.shadow.samples);
    expect((await get("/artifacts?kind=report")).artifacts.map((a: { id: string }) => a.id)).toContain(report.id);

    const form = new FormData();
    form.set("name", "release-check");
    form.set("file", new File([`input,expected\n${Array.from({ length: 6 }, (_, i) => `ANSWER ${i},${i}`).join("\n")}\n`], "release-check.csv"));
    expect((await g.api("/api/v1/datasets", { method: "POST", body: form })).status).toBe(201);
    const withData = await post("/compare", { model: "chat", challenger: "chat-v2", dataset: "release-check", metrics: ["exact_match"] });
    expect(withData.status).toBe(201);
    const started = await withData.json();
    expect(started.detail.evaluation).toMatchObject({ dataset: "release-check", champion: { id: expect.any(String) }, challenger: { id: expect.any(String) } });
    await waitFor(async () => (await get(`/artifacts/${started.id}`)).detail.evaluation.status === "completed", 20_000, "both evaluations");
    const done = await get(`/artifacts/${started.id}`);
    expect(done.detail.evaluation.deltas).toEqual({ exact_match: 0 });
    expect(done.detail.evaluation.champion.summary.metrics.exact_match.mean).toBe(1);

    expect((await post("/compare", { model: "chat", challenger: "chat-v2", dataset: "no-such-dataset" })).status).toBe(404);
    const badMetric = await post("/compare", { model: "chat", challenger: "chat-v2", dataset: "release-check", metrics: [{ type: "no_such_metric" }] });
    expect(badMetric.status).toBe(400);
    expect(await badMetric.json()).toMatchObject({ code: "EVALUATION_INVALID" });
    expect((await post("/compare", { model: "chat", challenger: "chat-v2", dataset: "release-check", metrics: [123] })).status).toBe(400);
    expect((await post("/compare", { model: "chat", challenger: "chat-v1" })).status).toBe(400);
    expect((await post("/shadow-stop", { model: "chat" })).status).toBe(200);
  });

  test("canary: an approved traffic: 20 sends about a fifth of requests to the new version, then a second promote switches fully, with no failed request", async () => {
    const running = load("chat");
    const canary = await promote("chat", "chat-v2", { traffic: 20 });
    expect(canary).toMatchObject({ status: "canary", traffic: 20, requested_by: "key:op-a", decided_by: "key:op-b" });
    expect((await deployment("chat")).traffic).toEqual([{ version: "chat-v1", percent: 80 }, { version: "chat-v2", percent: 20 }]);
    const split: string[] = [];
    for (let i = 0; i < 50; i++) split.push(...(await Promise.all(Array.from({ length: 10 }, async () => answerOf(await chat("chat", "split"))))));
    const share = split.filter((a) => a.startsWith("Version two")).length / split.length;
    expect(Math.abs(share - 0.2)).toBeLessThan(0.07); // 4 standard deviations of a binomial(500, 0.2) share

    const full = await post("/promote", { model: "chat", version: "chat-v2", comment: "canary held up" }, opA);
    expect(full.status).toBe(200);
    expect(await full.json()).toMatchObject({ status: "live", version: "chat-v2" });
    await running.more(12); // answers to requests sent after the promotion
    const results = await running.stop();
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.some((r) => r.answer.startsWith("Version two"))).toBe(true);
    const after = await deployment("chat");
    expect(after).toMatchObject({ live_version: "chat-v2", previous_version: "chat-v1", canary: null, status: "live" });
    expect(after.versions.find((v: { version: string }) => v.version === "chat-v1").status).toBe("warm");
    expect(await answerOf(await chat("chat"))).toBe("Version two says: hello");
    // Every inference API routes by the served name.
    const anthropic = await g.api("/v1/messages", json("POST", { model: "chat", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }));
    expect(((await anthropic.json()) as { content: { text: string }[] }).content[0]!.text).toBe("Version two says: hi");
    const ollama = await g.api("/api/chat", json("POST", { model: "chat", stream: false, messages: [{ role: "user", content: "hi" }] }));
    expect(((await ollama.json()) as { message: { content: string } }).message.content).toBe("Version two says: hi");
    // Answers name the served name the client sent, not the version's instance or the server's own name.
    expect(((await (await chat("chat")).json()) as { model: string }).model).toBe("chat");
    const streamed = await (await g.api("/v1/chat/completions", json("POST", { model: "chat", stream: true, messages: [{ role: "user", content: "a b" }] }))).text();
    expect(new Set([...streamed.matchAll(/"model":"([^"]*)"/g)].map((m) => m[1]))).toEqual(new Set(["chat"]));
    expect(streamed.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  test("rollback under load: instant, audited, no failed request; the model's event stream tells", async () => {
    const stream = events("chat");
    await waitFor(() => stream.list.some((e) => e.type === "deployment.state"), 5000, "the state message");
    const running = load("chat");
    await running.more(6);
    const res = await post("/rollback", { model: "chat" }, opA);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ live_version: "chat-v1", previous_version: "chat-v2" });
    expect(await answerOf(await chat("chat"))).toBe("Version one says: hello");
    await running.more(12); // answers to requests sent after the rollback
    const results = await running.stop();
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.at(-1)!.answer.startsWith("Version one")).toBe(true);
    await waitFor(() => stream.list.some((e) => e.type === "deployment.rolled_back"), 5000, "the rollback event");
    expect(stream.list.find((e) => e.type === "deployment.rolled_back")!.data).toMatchObject({ model: "chat", version: "chat-v1", from_version: "chat-v2", by: "key:op-a" });
    stream.close();
    const view = await get("/chat");
    expect(view.promotions.find((p: { version: string; status: string }) => p.version === "chat-v2" && p.status === "rolled_back")).toBeDefined();
  });

  test("promote a full switch under concurrent load: no failed request, in-flight ones finish on the old version", async () => {
    const running = load("chat", 8);
    await running.more(8); // answers from the old version first
    const promotion = await promote("chat", "chat-v2");
    expect(promotion.status).toBe("live");
    await running.more(16); // answers to requests sent after the switch
    const results = await running.stop();
    expect(results.length).toBeGreaterThan(20);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const firstNew = results.findIndex((r) => r.answer.startsWith("Version two"));
    expect(firstNew).toBeGreaterThan(0);
    expect(results.at(-1)!.answer.startsWith("Version two")).toBe(true);
  });

  test("the requester may withdraw a promotion; a rejected one leaves the live version alone", async () => {
    const res = await post("/promote", { model: "chat", version: "chat-v1", comment: "withdrawn" }, opA);
    const promotion = await res.json();
    expect((await g.api(`/api/v1/approvals/${promotion.gate_id}/reject`, { ...json("POST", { reason: "changed my mind" }), auth: opA })).status).toBe(200);
    await waitFor(async () => (await get("/chat")).promotions.find((p: { id: string }) => p.id === promotion.id).status === "rejected", 10_000, "the rejection");
    expect((await deployment("chat")).live_version).toBe("chat-v2");
  });

  test("retire: refused for the live version; a retired version is stopped and archived", async () => {
    const live = await post("/retire", { model: "chat", version: "chat-v2" });
    expect(live.status).toBe(409);
    expect(await live.json()).toMatchObject({ code: "VERSION_IS_LIVE" });
    const res = await post("/retire", { model: "chat", version: "chat-slow" });
    expect(res.status).toBe(200);
    const view = await res.json();
    expect(view.versions.find((v: { version: string }) => v.version === "chat-slow")).toMatchObject({ status: "retired", instance_status: "stopped" });
  });

  test("package: an OCI image layout whose digests, sizes, media types and layers check out, listed as an artifact", async () => {
    const dir = join(tempDir("gantry-model-"), "chat-v3");
    mkdirSync(join(dir, "tokenizer"), { recursive: true });
    const weights = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    writeFileSync(join(dir, "model.gguf"), weights);
    writeFileSync(join(dir, "tokenizer", "vocab.json"), '{"hello": 1}');
    await addInstance("chat-v3", ["--answer-prefix", "Version three says: "], dir);
    const res = await post("/package", { version: "chat-v3" });
    expect(res.status).toBe(201);
    const artifact = await res.json();
    expect(artifact).toMatchObject({ kind: "package", version: "chat-v3", media_type: "application/x-tar", detail: { layers: 2, model_files: 2 } });
    const tar = new Uint8Array(await (await g.api(artifact.download)).arrayBuffer());
    expect(tar.byteLength).toBe(artifact.bytes);
    expect(createHash("sha256").update(tar).digest("hex")).toBe(artifact.sha256);
    const files = await untar(tar);
    expect(JSON.parse(text(files.get("oci-layout")!))).toEqual({ imageLayoutVersion: "1.0.0" });
    const blob = (digest: string) => {
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const bytes = files.get(`blobs/sha256/${digest.slice(7)}`)!;
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(digest.slice(7)); // every blob is named by its digest
      return bytes;
    };
    // Every blob in the layout is referenced, and every reference resolves.
    const index = JSON.parse(text(files.get("index.json")!));
    expect(index).toMatchObject({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json" });
    expect(index.manifests).toHaveLength(1);
    const descriptor = index.manifests[0];
    expect(descriptor).toMatchObject({ mediaType: "application/vnd.oci.image.manifest.v1+json", annotations: { "org.opencontainers.image.ref.name": "chat-v3" } });
    expect(descriptor.digest).toBe(artifact.detail.manifest_digest);
    const manifestBytes = blob(descriptor.digest);
    expect(manifestBytes.byteLength).toBe(descriptor.size);
    const manifest = JSON.parse(text(manifestBytes));
    expect(manifest).toMatchObject({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json" } });
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar"]);
    const config = JSON.parse(text(blob(manifest.config.digest)));
    expect(blob(manifest.config.digest).byteLength).toBe(manifest.config.size);
    expect(config).toMatchObject({ os: "linux", rootfs: { type: "layers" } });
    expect(["amd64", "arm64"]).toContain(config.architecture);
    expect(config.rootfs.diff_ids).toEqual(manifest.layers.map((l: { digest: string }) => l.digest)); // uncompressed layers: diff_id = digest
    const [modelLayer, servingLayer] = manifest.layers.map((l: { digest: string; size: number }) => {
      const bytes = blob(l.digest);
      expect(bytes.byteLength).toBe(l.size);
      return bytes;
    });
    const models = await untar(modelLayer);
    expect([...models.keys()].sort()).toEqual(["models/model.gguf", "models/tokenizer/vocab.json"]);
    expect(createHash("sha256").update(models.get("models/model.gguf")!).digest("hex")).toBe(createHash("sha256").update(weights).digest("hex"));
    const serving = JSON.parse(text((await untar(servingLayer)).get("gantry/serving.json")!));
    expect(serving).toMatchObject({ version: "chat-v3", backend: "command", model_file: "chat-v3" });
    expect(files.size).toBe(2 + 4); // oci-layout, index.json, config, manifest, two layers
    expect((await get("/artifacts?kind=package")).artifacts[0].id).toBe(artifact.id);

    expect((await post("/package", {})).status).toBe(400);
    expect((await post("/package", { version: "chat-v3", run_id: "x" })).status).toBe(400);
    expect((await post("/package", { version: "no-such-instance" })).status).toBe(404);
    const evaluation = (await (await g.api("/api/v1/evaluations")).json()).evaluations[0];
    const fromRun = await post("/package", { run_id: evaluation.id });
    expect(fromRun.status).toBe(201);
    expect(await fromRun.json()).toMatchObject({ version: evaluation.model, detail: { run_id: evaluation.id } });
  });

  test("audit: a PDF of the promotion history whose text names versions, requesters, approvers, comments and compare figures", async () => {
    const res = await post("/audit", { model: "chat" });
    expect(res.status).toBe(201);
    const artifact = await res.json();
    expect(artifact).toMatchObject({ kind: "audit", media_type: "application/pdf", model: "chat" });
    const pdf = new Uint8Array(await (await g.api(artifact.download)).arrayBuffer());
    expect(new TextDecoder().decode(pdf.slice(0, 5))).toBe("%PDF-");
    const { extractText, getDocumentProxy } = await import("unpdf");
    const content = (await extractText(await getDocumentProxy(pdf), { mergePages: true })).text.replace(/\s+/g, " ");
    for (const expected of ["Promotion audit: chat", "Live version", "chat-v2", "chat-v1", "key:op-a", "key:op-b", "first release", "canary held up", "rolled_back", "retired", "changed my mind", "shadow"]) {
      expect(content).toContain(expected);
    }
    expect((await post("/audit", { model: "nobody" })).status).toBe(404);
  });

  test("drift: a live version whose latency grows past the baseline raises an alert on the model's event stream", async () => {
    await addInstance("drift-v1", ["--latency-after", "25:300"]);
    const promotion = await promote("drifty", "drift-v1");
    expect(promotion.status).toBe("live");
    const stream = events("drifty");
    const received = stream.list;
    await waitFor(() => received.some((e) => e.type === "deployment.state"), 5000, "the state message");
    const first = await chat("drifty", "steady");
    expect(await first.text()).toContain("steady");
    for (let i = 1; i < 40; i++) expect((await chat("drifty", "steady")).status).toBe(200); // 10 baseline, then windows of 10; requests 26+ are slow
    await waitFor(() => received.some((e) => e.type === "deployment.drift_alert"), 10_000, "a drift alert");
    const alert = received.find((e) => e.type === "deployment.drift_alert")!;
    expect(alert.data).toMatchObject({ model: "drifty", version: "drift-v1", metric: "latency_p50_ms" });
    expect(alert.data.current as number).toBeGreaterThan(alert.data.baseline as number);
    expect(received.some((e) => e.type === "deployment.drift_baseline")).toBe(true);
    stream.close();
    expect((await deployment("drifty")).status).toBe("live");
  });

  test("bad input and missing parts answer clear errors: 400, 403, 404, 409, 503", async () => {
    expect((await post("/promote", { model: "chat", version: "nope", comment: "x" })).status).toBe(404);
    expect((await post("/promote", { model: "chat", version: "chat-v1", comment: "" })).status).toBe(400);
    expect((await post("/promote", { model: "chat", version: "chat-v1", comment: "x", traffic: 0 })).status).toBe(400);
    const forbidden = await post("/promote", { model: "chat", version: "chat-v1", comment: "x" }, viewer);
    expect(forbidden.status).toBe(403);
    expect((await post("/promote", { model: "chat", version: "chat-v2", comment: "again" })).status).toBe(409);
    expect((await post("/shadow-start", { model: "chat", challenger: "chat-v2", sample_rate: 0.5 })).status).toBe(400); // the live version
    expect((await post("/shadow-start", { model: "chat", challenger: "chat-v1", sample_rate: 2 })).status).toBe(400);
    expect((await post("/shadow-stop", { model: "chat" })).status).toBe(404);
    expect((await g.api("/api/v1/deployments/unknown/shadow-status")).status).toBe(404);
    expect((await g.api("/api/v1/deployments/%E0%A4%A/shadow-status")).status).toBe(400);
    expect((await g.api("/api/v1/deployments/%ZZ")).status).toBe(400);
    expect((await post("/rollback", { model: "unknown" })).status).toBe(404);
    expect((await post("/rollback", { model: "drifty" })).status).toBe(409);
    expect((await g.api("/api/v1/deployments/artifacts/nope/download")).status).toBe(404);
    const missing = await post("/promote", { model: "../../etc", version: "chat-v1", comment: "x" });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).not.toContain("at ");

    expect((await g.api("/api/v1/plugins/evaluations/disable", { method: "POST" })).status).toBe(200);
    const noEvaluations = await post("/compare", { model: "chat", challenger: "chat-v1", dataset: "release-check" });
    expect(noEvaluations.status).toBe(503);
    expect(await noEvaluations.json()).toMatchObject({ code: "EVALUATIONS_UNAVAILABLE" });
    expect((await g.api("/api/v1/plugins/evaluations/enable", { method: "POST" })).status).toBe(200);
  });

  test("a reload under load keeps the served names answering; disable removes them, enable brings them back", async () => {
    const running = load("chat");
    await running.more(6);
    expect((await g.api("/api/v1/plugins/deployments/reload", { method: "POST" })).status).toBe(200);
    await running.more(12); // answers to requests sent after the reload
    const results = await running.stop();
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(await answerOf(await chat("chat"))).toBe("Version two says: hello");

    expect((await g.api("/api/v1/plugins/deployments/disable", { method: "POST" })).status).toBe(200);
    expect((await chat("chat")).status).toBe(404); // the served name is gone with the plugin
    const leaks = await (await g.api("/api/v1/plugins/leaks")).json();
    expect(leaks.kept.filter((k: { plugin: string }) => k.plugin === "deployments")).toEqual([]);
    expect(leaks.late_calls.filter((c: { plugin: string }) => c.plugin === "deployments")).toEqual([]);
    expect((await chat("chat-v2")).status).toBe(200); // the instances stay
    expect((await g.api("/api/v1/plugins/deployments/enable", { method: "POST" })).status).toBe(200);
    expect(await answerOf(await chat("chat"))).toBe("Version two says: hello");
  });

  test("a restart restores every served name from the database", async () => {
    await g.stop();
    g = await start();
    expect(await answerOf(await chat("chat"))).toBe("Version two says: hello");
    expect(await deployment("chat")).toMatchObject({ live_version: "chat-v2", previous_version: "chat-v1" });
    const command = await g.api("/api/v1/plugins/commands/deployments:rollback/invoke", json("POST", { arguments: "chat" }));
    expect(command.status).toBe(200);
    expect(JSON.stringify(await command.json())).toContain('"live":"chat-v1"');
    expect(await answerOf(await chat("chat"))).toBe("Version one says: hello");
    const listed = await g.api("/api/v1/plugins/commands/deployments:list/invoke", { ...json("POST", {}), auth: opA });
    expect(JSON.stringify(await listed.json())).toContain('"model":"drifty"');
  });
});

describe("deployments: small limits", () => {
  test("keep_warm_s ends with the previous version stopped (a standby rollback target); an overtaken canary ends; mirrors past shadow_max_in_flight are dropped", async () => {
    const w = await startGantry({
      builtins: BUILTIN_PLUGINS,
      config: { rate_limit: { enabled: false }, plugin: { deployments: { check_interval_s: 1, keep_warm_s: 1, shadow_max_in_flight: 1 } } },
    });
    const reviewer = (await w.gantry.security.keys.create("reviewer", "operator")).key;
    try {
      for (const [name, prefix, latency] of [["a", "A: ", "0"], ["b", "B: ", "0"], ["c", "C: ", "0"], ["slow", "S: ", "600"]]) {
        expect((await w.api("/api/v1/instances", json("POST", {
          name, backend: "command", model_path: name, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--answer-prefix", prefix!, "--latency-ms", latency!],
        }))).status).toBe(201);
      }
      const ship = async (version: string, traffic?: number) => {
        const promotion = await (await w.api("/api/v1/deployments/promote", json("POST", { model: "svc", version, comment: "go", traffic }))).json();
        expect((await w.api(`/api/v1/approvals/${promotion.gate_id}/approve`, { ...json("POST", {}), auth: reviewer })).status).toBe(200);
        const switched = async () => ((await (await w.api("/api/v1/deployments/svc")).json()) as { live_version: string; canary: { version: string } | null });
        await waitFor(async () => (traffic ? (await switched()).canary?.version : (await switched()).live_version) === version, 15_000, `${version} switched`);
        return promotion.id as string;
      };
      await ship("a");
      await ship("b");
      const version = async (name: string) => (await (await w.api("/api/v1/deployments/svc")).json()).versions.find((v: { version: string }) => v.version === name);
      // The previous version is warm for keep_warm_s (1 s: on a loaded machine it may be over already), then a stopped standby.
      expect(["warm", "standby"]).toContain((await version("a")).status);
      await waitFor(async () => (await version("a")).status === "standby", 10_000, "the keep-warm time to end");
      expect((await version("a")).instance_status).toBe("stopped");
      expect((await w.api("/api/v1/deployments/rollback", json("POST", { model: "svc" }))).status).toBe(200); // starts it again first
      const res = await w.api("/v1/chat/completions", json("POST", { model: "svc", messages: [{ role: "user", content: "back" }] }));
      expect(await answerOf(res)).toBe("A: back");

      // A canary that another promotion overtakes ends: its version is a candidate again.
      const canary = await ship("b", 50);
      await ship("c");
      const view = await (await w.api("/api/v1/deployments/svc")).json();
      expect(view).toMatchObject({ live_version: "c", previous_version: "a", canary: null });
      expect(view.promotions.find((p: { id: string }) => p.id === canary).status).toBe("superseded");
      expect(await version("b")).toMatchObject({ status: "candidate" });

      // Past shadow_max_in_flight a sampled request is dropped, not queued: the clients are answered all the same.
      expect((await w.api("/api/v1/instances/slow/start", json("POST"))).status).toBe(200);
      expect((await w.api("/api/v1/deployments/shadow-start", json("POST", { model: "svc", challenger: "slow", sample_rate: 1 }))).status).toBe(201);
      const answers = await Promise.all(Array.from({ length: 6 }, async () => answerOf(await w.api("/v1/chat/completions", json("POST", { model: "svc", messages: [{ role: "user", content: "busy" }] })))));
      expect(answers).toEqual(Array(6).fill("C: busy"));
      const shadowOf = async () => (await (await w.api("/api/v1/deployments/svc/shadow-status")).json()).counts;
      await waitFor(async () => (await shadowOf()).mirrored + (await shadowOf()).dropped === 6, 10_000, "every sampled request mirrored or dropped");
      const counts = await shadowOf();
      expect(counts).toMatchObject({ seen: 6, sampled: 6 });
      expect(counts.dropped).toBeGreaterThanOrEqual(1);
      expect(counts.mirrored).toBeGreaterThanOrEqual(1);
    } finally {
      await w.stop();
    }
  });
});
