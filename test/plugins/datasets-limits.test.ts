// Datasets under hostile input: odd column names, files too wide or too deep to profile, uploads over the limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUILTIN_PLUGINS, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;

const upload = (name: string, content: string | Blob, fileName: string) => {
  const form = new FormData();
  form.set("name", name);
  form.set("file", new File([content], fileName));
  return g.api("/api/v1/datasets", { method: "POST", body: form });
};

beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false }, log: { level: "warn" } } });
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
