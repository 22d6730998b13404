import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { BUILTIN_PLUGINS, json, startGantry, tempDir, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;
let root: string;

const CSV = "id,city,temp,ok\n1,Oslo,10,true\n2,Lima,20,false\n3,Oslo,,true\n4,Rome,40,true\n5,Oslo,30,\n";

/** A real Parquet file, written by DuckDB's own writer. */
async function writeParquet(path: string): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  await connection.run(`COPY (SELECT * FROM (VALUES (1.5, 'a'), (2.5, 'b'), (3.5, 'a'), (4.5, NULL)) v(x, label)) TO '${path}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
}

const upload = (name: string, content: string | Blob, fileName: string, auth?: string, format?: string) => {
  const form = new FormData();
  form.set("name", name);
  form.set("file", new File([content], fileName));
  if (format) form.set("format", format);
  return g.api("/api/v1/datasets", { method: "POST", body: form, ...(auth ? { auth } : {}) });
};

beforeAll(async () => {
  root = tempDir("gantry-datasets-root-");
  mkdirSync(join(root, "logs"));
  writeFileSync(join(root, "logs", "events.jsonl"), '{"level":"info","ms":12}\n{"level":"warn","ms":30}\n{"level":"info","ms":null}\n');
  writeFileSync(join(root, "notes.txt"), "not a dataset");
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, plugin: { datasets: { roots: [root], max_upload_bytes: 4096 } } } });
  viewer = g.gantry.security.keys.create("datasets-viewer", "viewer").key;
});
afterAll(() => g.stop());

describe("datasets", () => {
  test("a CSV upload is registered with its schema, rows and checksum, and profiled exactly (then from the cache)", async () => {
    const res = await upload("weather", CSV, "weather.csv");
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({
      name: "weather", format: "csv", source: "upload", size_bytes: CSV.length, rows: 5,
      sha256: new Bun.CryptoHasher("sha256").update(CSV).digest("hex"),
      schema: [{ name: "id", type: "BIGINT" }, { name: "city", type: "VARCHAR" }, { name: "temp", type: "BIGINT" }, { name: "ok", type: "BOOLEAN" }],
    });
    const profile = await (await g.api("/api/v1/datasets/weather/profile", { auth: viewer })).json();
    expect(profile).toMatchObject({ name: "weather", rows: 5, sampled: false, profiled_rows: 5, cached: false });
    const [, city, temp, ok] = profile.columns;
    expect(temp).toMatchObject({
      kind: "number", count: 4, nulls: 1, null_percent: 20, distinct_approx: 4, min: 10, max: 40, mean: 25,
      quantiles: { p05: 11.5, p25: 17.5, p50: 25, p75: 32.5, p95: 38.5 }, top_values: null,
    });
    expect(temp.std).toBeCloseTo(Math.sqrt(500 / 3), 12);
    expect(temp.histogram.map((b: { count: number }) => b.count)).toEqual([1, 0, 0, 1, 0, 0, 1, 0, 0, 1]);
    expect(temp.histogram[0]).toEqual({ lower: 10, upper: 13, count: 1 });
    expect(temp.histogram.at(-1).upper).toBe(40);
    expect(city).toMatchObject({ kind: "text", count: 5, nulls: 0, distinct_approx: 3, min: "Lima", max: "Rome", mean: null, histogram: null, top_values: [{ value: "Oslo", count: 3 }, { value: "Lima", count: 1 }, { value: "Rome", count: 1 }] });
    expect(ok).toMatchObject({ kind: "boolean", nulls: 1, top_values: [{ value: "true", count: 3 }, { value: "false", count: 1 }] });
    const again = await (await g.api("/api/v1/datasets/weather/profile")).json();
    expect(again.cached).toBe(true);
    expect(again.columns).toEqual(profile.columns);
  });

  test("a Parquet upload and a JSONL file under a configured root are profiled; text files are not datasets", async () => {
    const path = join(tempDir(), "measures.parquet");
    await writeParquet(path);
    expect((await upload("measures", Bun.file(path), "measures.parquet")).status).toBe(201);
    const profile = await (await g.api("/api/v1/datasets/measures/profile")).json();
    expect(profile.columns[0]).toMatchObject({ name: "x", kind: "number", count: 4, min: 1.5, max: 4.5, mean: 3, quantiles: { p50: 3, p25: 2.25, p75: 3.75 } });
    expect(profile.columns[0].std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(profile.columns[1]).toMatchObject({ name: "label", nulls: 1, top_values: [{ value: "a", count: 2 }, { value: "b", count: 1 }] });
    const list = (await (await g.api("/api/v1/datasets", { auth: viewer })).json()).datasets;
    expect(list.map((d: { name: string }) => d.name)).toEqual(["logs.events", "measures", "weather"]);
    expect(list[0]).toMatchObject({ format: "jsonl", source: "root", rows: 3, schema: [{ name: "level", type: "VARCHAR" }, { name: "ms", type: "BIGINT" }] });
    const events = await (await g.api("/api/v1/datasets/logs.events/profile")).json();
    expect(events.columns[1]).toMatchObject({ name: "ms", count: 2, nulls: 1, min: 12, max: 30, mean: 21 });
    // A root file that changes is read again; one that goes away is dropped.
    writeFileSync(join(root, "logs", "events.jsonl"), '{"level":"info","ms":1}\n');
    expect((await (await g.api("/api/v1/datasets/logs.events")).json()).rows).toBe(1);
    const removed = await g.api("/api/v1/datasets/logs.events", { method: "DELETE" });
    expect([removed.status, (await removed.json()).code]).toEqual([409, "DATASET_READ_ONLY"]);
  });

  test("preview shows the first rows to operators; delete removes an upload", async () => {
    const preview = await (await g.api("/api/v1/datasets/weather/preview?limit=2")).json();
    expect(preview.rows).toEqual([{ id: "1", city: "Oslo", temp: "10", ok: true }, { id: "2", city: "Lima", temp: "20", ok: false }]);
    expect((await g.api("/api/v1/datasets/weather/preview", { auth: viewer })).status).toBe(403);
    expect((await upload("scratch", "a\n1\n", "scratch.csv")).status).toBe(201);
    expect((await g.api("/api/v1/datasets/scratch", { method: "DELETE" })).status).toBe(200);
    expect((await g.api("/api/v1/datasets/scratch")).status).toBe(404);
  });

  test("bad uploads: unreadable, unknown format, too large, taken name, bad name, viewer; unknown dataset is 404", async () => {
    const expectError = async (res: Response, status: number, code: string) => {
      const body = await res.json();
      expect([res.status, body.code]).toEqual([status, code]);
      expect(typeof body.error).toBe("string");
      expect(body.error).not.toContain("    at ");
    };
    await expectError(await upload("broken", "PAR1 definitely not parquet", "broken.parquet"), 400, "DATASET_UNREADABLE");
    await expectError(await upload("what", "a,b\n1,2\n", "what.xlsx"), 400, "DATASET_FORMAT_UNKNOWN");
    await expectError(await upload("huge", "x\n" + "1\n".repeat(3000), "huge.csv"), 413, "DATASET_TOO_LARGE");
    await expectError(await upload("weather", CSV, "weather.csv"), 409, "DATASET_EXISTS");
    expect((await upload("../etc", CSV, "x.csv")).status).toBe(400);
    expect((await upload("by-viewer", CSV, "x.csv", viewer)).status).toBe(403);
    expect((await g.api("/api/v1/datasets", json("POST", { name: "x" }))).status).toBe(400);
    await expectError(await g.api("/api/v1/datasets/ghost/profile"), 404, "DATASET_NOT_FOUND");
    expect((await (await g.api("/api/v1/datasets")).json()).datasets.map((d: { name: string }) => d.name)).not.toContain("broken");
  });

  test("reload keeps datasets and cached profiles", async () => {
    expect((await g.api("/api/v1/plugins/datasets/reload", json("POST"))).status).toBe(200);
    expect((await (await g.api("/api/v1/datasets/weather/profile")).json()).cached).toBe(true);
    expect((await (await g.api("/api/v1/datasets/weather/preview?limit=1")).json()).rows).toHaveLength(1);
    const kept = async () => (await (await g.api("/api/v1/plugins/leaks")).json()).kept.filter((k: { plugin: string }) => k.plugin === "datasets");
    expect(await kept()).toEqual([expect.objectContaining({ key: "engine", holders: [expect.any(Number)] })]);
  });

  test("uninstall closes the engine and removes the routes", async () => {
    expect((await g.api("/api/v1/plugins/datasets?force=true", { method: "DELETE" })).status).toBe(200);
    const leaks = await (await g.api("/api/v1/plugins/leaks")).json();
    expect(leaks.kept.filter((k: { plugin: string }) => k.plugin === "datasets")).toEqual([]);
    expect(leaks.late_calls).toEqual([]);
    expect((await g.api("/api/v1/datasets")).status).toBe(404);
  });
});
