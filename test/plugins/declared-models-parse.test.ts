/** Declared models as tables: what is accepted, what is reported, how a table compares with an instance, and the TOML export. */
import { describe, expect, test } from "bun:test";
import { parse } from "smol-toml";
import { differingFields, exportToml, readDeclarations, sourceFileName } from "../../plugins/instances/declared-models.ts";

const read = (toml: string) => readDeclarations((parse(toml) as { models?: unknown }).models, "/srv/models");

describe("reading [models.<name>]", () => {
  test("defaults fill what a table leaves out; a source without model_path lands in models_dir", () => {
    const { models, invalid } = read(`
[models.a]
model_path = "/m/a.gguf"

[models."Qwen/Qwen2.5-7B"]
source = "hf:Qwen/Qwen2.5-7B-Instruct-GGUF/sub/qwen-q4.gguf?download=true"
ttl = 300
`);
    expect(invalid).toEqual([]);
    expect(models.get("a")!.input).toMatchObject({ name: "a", backend: "llama_cpp", model_path: "/m/a.gguf", options: {}, env: {}, on_demand_start: false, idle_timeout: 0, restart: "on-failure", aliases: [], unlisted: false });
    expect(models.get("a")!.input.port).toBeUndefined();
    expect(models.get("a")!.stored).not.toHaveProperty("port");
    const qwen = models.get("Qwen/Qwen2.5-7B")!;
    expect(qwen.input.model_path).toBe("/srv/models/qwen-q4.gguf");
    expect(qwen.stored).toMatchObject({ source: "hf:Qwen/Qwen2.5-7B-Instruct-GGUF/sub/qwen-q4.gguf?download=true", ttl: 300 });
    expect(qwen.input).not.toHaveProperty("ttl");
    expect(sourceFileName("hf:org/repo")).toBe("repo");
  });

  test("bad tables are reported one by one and left out; the others still apply", () => {
    const { models, invalid } = read(`
[models.good]
model_path = "x"

[models.typo]
model_pth = "x"

[models.wrong-type]
model_path = "x"
idle_timeout = "soon"

[models.nothing]
backend = "vllm"

[models.no-command]
backend = "command"
model_path = "x"

[models."../escape"]
model_path = "x"
`);
    expect([...models.keys()]).toEqual(["good"]);
    const byName = Object.fromEntries(invalid.map((i) => [i.name, i.problems.join("; ")]));
    expect(byName.typo).toContain("model_pth");
    expect(byName["wrong-type"]).toContain("idle_timeout");
    expect(byName.nothing).toBe("model_path or source is required");
    expect(byName["no-command"]).toContain("command");
    expect(byName["../escape"]).toContain("not a model id");
  });
});

describe("comparing a table with an instance", () => {
  const [alpha] = [...read(`
[models.alpha]
model_path = "x"
options = { a = 1, b = { c = 2, d = 3 } }
env = { TOKEN = "t" }
device = "gpu0"
`).models.values()];

  test("the same table in another key order is in step; a change names its fields; env is compared opened", () => {
    const stored = { ...alpha!.stored, options: { b: { d: 3, c: 2 }, a: 1 } };
    expect(differingFields(alpha!, stored, { TOKEN: "t" })).toEqual([]);
    expect(differingFields(alpha!, { ...stored, model_path: "y", device: "gpu1" }, { TOKEN: "t" })).toEqual(["device", "model_path"]);
    expect(differingFields(alpha!, stored, { TOKEN: "other" })).toEqual(["env"]);
    const { device: _removed, ...withoutDevice } = alpha!.stored;
    expect(differingFields({ ...alpha!, stored: withoutDevice }, stored, { TOKEN: "t" })).toEqual(["device"]);
  });

  test("an instance created through the API differs in its origin first", () => {
    expect(differingFields(alpha!, null, {})[0]).toBe("origin");
  });
});

describe("export", () => {
  test("instances become tables that read back as the same declarations; env values stay out", () => {
    const instance = {
      name: "qwen", backend: "llama_cpp", model_path: "/m/q.gguf", port: 8101, options: { context_size: 8192 }, command: null, on_demand_start: true,
      idle_timeout: 600, restart: "on-failure", aliases: ["gpt-4o-mini"], unlisted: false, env: { HF_TOKEN: "[set]" }, declaration: { source: "hf:o/r/q.gguf", pinned: true },
    };
    const text = exportToml([instance]);
    expect(text).toContain("#   qwen: HF_TOKEN");
    expect(text).not.toContain("[set]");
    const back = readDeclarations((parse(text) as { models: unknown }).models, "/srv/models");
    expect(back.invalid).toEqual([]);
    expect(back.models.get("qwen")!.input).toMatchObject({ backend: "llama_cpp", model_path: "/m/q.gguf", port: 8101, options: { context_size: 8192 }, on_demand_start: true, idle_timeout: 600, aliases: ["gpt-4o-mini"] });
    expect(back.models.get("qwen")!.stored).toMatchObject({ source: "hf:o/r/q.gguf", pinned: true });
    expect(exportToml([])).toBe("# Declared models, as exported by gantry: put these tables in gantry.toml.\n");
  });
});
