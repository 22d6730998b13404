// Datasets under hostile input: odd column names, files too wide or too deep to profile, uploads over the limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS, json, startGantry, tempDir, type TestGantry } from "../helpers.ts";

let g: TestGantry;
const MIB = 1024 * 1024;

const upload = (name: string, content: string | Blob, fileName: string) => {
  const form = new FormData();
  form.set("name", name);
  form.set("file", new File([content], fileName));
  return g.api("/api/v1/datasets", { method: "POST", body: form });
};

beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, log: { level: "warn" }, server: { body_limit_bytes: 64 * MIB }, plugin: { datasets: { max_upload_bytes: MIB } } } });
});
afterAll(() => g.stop());

describe("column names", () => {
  test("columns named b, n, v, with quotes, spaces, unicode or SQL words are profiled like any other", async () => {
    const names = ["b", "n", "v", 'say "hi"', "it's", "with space", "größe", "select", "group", "profiled", "b_1"];
    const header = names.map((n) => `"${n.replaceAll('"', '""')}"`).join(",");
    const rows = [1, 2, 3, 4].map((i) => names.map((_, c) => (c % 2 === 0 ? String(i * (c + 1)) : `t${i % 2}`)).join(","));
    const res = await upload("odd-names", `${header}\n${rows.join("\n")}\n`, "odd-names.csv");
    expect(res.status).toBe(201);
    const profile = await g.api("/api/v1/datasets/odd-names/profile");
    const body = await profile.json();
    expect(profile.status).toBe(200);
    expect(body.columns.map((c: { name: string }) => c.name)).toEqual(names);
    const b = body.columns[0];
    expect(b).toMatchObject({ name: "b", kind: "number", count: 4, min: 1, max: 4 });
    expect(b.histogram.map((bin: { count: number }) => bin.count).reduce((x: number, y: number) => x + y, 0)).toBe(4);
    expect(body.columns[1]).toMatchObject({ name: "n", kind: "text", top_values: [{ value: "t0", count: 2 }, { value: "t1", count: 2 }] });
    expect(body.columns[2]).toMatchObject({ name: "v", kind: "number", min: 3, max: 12 });
  });
});

describe("limits", () => {
  const expectRefused = async (res: Response, status: number, code: string, mention: string) => {
    const body = await res.json();
    expect([res.status, body.code]).toEqual([status, code]);
    expect(body.error).toContain(mention);
  };
  const names = async () => (await (await g.api("/api/v1/datasets")).json()).datasets.map((d: { name: string }) => d.name);

  test("a 128 KB CSV of 20,000 columns is refused with 422 before the engine reads it; nothing is stored", async () => {
    const header = Array.from({ length: 20_000 }, (_, i) => i.toString(36)).join(",");
    const csv = `${header}\n${Array.from({ length: 20_000 }, () => "1").join(",")}\n`;
    expect(csv.length).toBeLessThan(140_000);
    await expectRefused(await upload("wide", csv, "wide.csv"), 422, "DATASET_TOO_WIDE", "plugin.datasets.max_columns");
    expect(await names()).not.toContain("wide");
  });

  test("a JSONL object nested 2,000 deep is refused with 422; one within the limit is profiled", async () => {
    const nested = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    await expectRefused(await upload("deep", `${nested(2000)}\n${nested(2000)}\n`, "deep.jsonl"), 422, "DATASET_TOO_DEEP", "plugin.datasets.max_depth");
    expect(await names()).not.toContain("deep");
    expect((await upload("nested", `${nested(5)}\n`, "nested.jsonl")).status).toBe(201);
    const profile = await g.api("/api/v1/datasets/nested/profile");
    expect(profile.status).toBe(200);
    expect((await profile.json()).columns[0]).toMatchObject({ name: "a", kind: "other", count: 1 });
  });
});

describe("uploads are streamed to disk", () => {
  const uploads = () => join(g.dataDir, "plugins", "datasets", "uploads");
  const sha256 = (bytes: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
  /** A CSV of about `bytes` bytes whose lines all differ. */
  const csvOf = (bytes: number) => {
    const lines = ["id,value,note"];
    for (let i = 0, size = 14; size < bytes; i++) {
      const line = `${i},${(i * 7919) % 100003},n${i.toString(36)}`;
      lines.push(line);
      size += line.length + 1;
    }
    return `${lines.join("\n")}\n`;
  };
  /** The form as bytes and its Content-Type, to send in chunks of our choosing. */
  const formBytes = async (name: string, content: string, fileName: string) => {
    const form = new FormData();
    form.set("name", name);
    form.set("file", new File([content], fileName));
    const encoded = new Response(form);
    return { type: encoded.headers.get("content-type")!, bytes: new Uint8Array(await encoded.arrayBuffer()) };
  };
  const chunked = (bytes: Uint8Array, size: number) => new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += size) controller.enqueue(bytes.slice(at, at + size));
      controller.close();
    },
  });

  test("an upload past max_upload_bytes is 413 and leaves no file behind", async () => {
    const res = await upload("too-big", csvOf(1.5 * MIB), "too-big.csv");
    const body = await res.json();
    expect([res.status, body.code]).toEqual([413, "DATASET_TOO_LARGE"]);
    expect(body.error).toContain("plugin.datasets.max_upload_bytes");
    expect(readdirSync(uploads()).filter((f) => f.includes("too-big") || f.endsWith(".part"))).toEqual([]);
    expect((await g.api("/api/v1/datasets/too-big")).status).toBe(404);
  });

  test("the 413 comes while the body is still arriving: the limit is enforced as it streams, not after the whole body is held", async () => {
    const { type, bytes } = await formBytes("endless", csvOf(1.5 * MIB), "endless.csv");
    const head = bytes.slice(0, bytes.length - 100); // past the limit, without the closing boundary
    let sent = 0;
    // A client that sends 1.5 MiB and then keeps the request open without ending it.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= head.length) return new Promise<void>(() => {});
        controller.enqueue(head.slice(sent, sent + 64 * 1024));
        sent += 64 * 1024;
      },
    });
    const answered = g.api("/api/v1/datasets", { method: "POST", headers: { "content-type": type }, body });
    const res = await Promise.race([answered, Bun.sleep(20_000).then(() => undefined)]);
    expect(res?.status).toBe(413);
    expect((await res!.json()).code).toBe("DATASET_TOO_LARGE");
    expect(readdirSync(uploads()).filter((f) => f.includes("endless") || f.endsWith(".part"))).toEqual([]);
  });

  test("an upload within the limit is stored byte for byte (checksum), also when it arrives chunked in odd pieces", async () => {
    const content = csvOf(0.9 * MIB);
    const res = await upload("intact", content, "intact.csv");
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({ size_bytes: Buffer.byteLength(content), sha256: sha256(content) });
    expect(sha256(readFileSync(join(uploads(), "intact.csv")))).toBe(sha256(content));

    // No Content-Length, and chunks of 7 bytes: every boundary falls across chunks somewhere.
    const small = csvOf(20_000);
    const { type, bytes } = await formBytes("pieces", small, "pieces.csv");
    const streamed = await g.api("/api/v1/datasets", { method: "POST", headers: { "content-type": type }, body: chunked(bytes, 7) });
    expect(streamed.status).toBe(201);
    expect((await streamed.json()).sha256).toBe(sha256(small));
    expect(sha256(readFileSync(join(uploads(), "pieces.csv")))).toBe(sha256(small));
  });

  test("a body cut off before its closing boundary is 400 and leaves no file", async () => {
    const { type, bytes } = await formBytes("cut", csvOf(50_000), "cut.csv");
    const res = await g.api("/api/v1/datasets", { method: "POST", headers: { "content-type": type }, body: bytes.slice(0, bytes.length - 200) });
    expect([res.status, (await res.json()).code]).toEqual([400, "BAD_REQUEST"]);
    expect(readdirSync(uploads()).filter((f) => f.includes("cut") || f.endsWith(".part"))).toEqual([]);
  });
});

describe("time limit", () => {
  let slow: TestGantry;
  let configFile: string;
  const timeout = (seconds: number) => writeFileSync(configFile, `[plugin.datasets]\nprofile_timeout_s = ${seconds}\n`);
  beforeAll(async () => {
    configFile = join(tempDir(), "gantry.toml");
    timeout(60);
    slow = await startGantry({ builtins: BUILTIN_PLUGINS, configFile, config: { rate_limit: { enabled: false }, log: { level: "warn" } } });
  });
  afterAll(() => slow.stop());

  test("a profile past profile_timeout_s is stopped and answered 422 DATASET_TIMEOUT; the engine serves the next request", async () => {
    const csv = `x,y,label\n${Array.from({ length: 5000 }, (_, i) => `${i},${i * 2},l${i % 7}`).join("\n")}\n`;
    const form = new FormData();
    form.set("name", "numbers");
    form.set("file", new File([csv], "numbers.csv"));
    expect((await slow.api("/api/v1/datasets", { method: "POST", body: form })).status).toBe(201);
    // A millisecond: the profile (several statements) cannot finish in it.
    timeout(0.001);
    expect((await slow.api("/api/v1/infra/config/reload", json("POST"))).status).toBe(200);
    expect((await slow.api("/api/v1/plugins/datasets/reload", json("POST"))).status).toBe(200);
    const res = await slow.api("/api/v1/datasets/numbers/profile");
    const body = await res.json();
    expect([res.status, body.code]).toEqual([422, "DATASET_TIMEOUT"]);
    expect(body.error).toContain("plugin.datasets.profile_timeout_s");
    timeout(60);
    expect((await slow.api("/api/v1/infra/config/reload", json("POST"))).status).toBe(200);
    expect((await slow.api("/api/v1/plugins/datasets/reload", json("POST"))).status).toBe(200);
    const profile = await slow.api("/api/v1/datasets/numbers/profile");
    expect([profile.status, (await profile.json()).profiled_rows]).toEqual([200, 5000]);
  });
});
