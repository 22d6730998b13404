/** Declared models: [models.<name>] in gantry.toml reconciled into instances at start and at config reload, and exported back as TOML. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { BUILTIN_PLUGINS, json, STAND_IN_MODEL_SERVER, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

/** The built-in plugins other than `names`, for `plugins.disabled` (these tests need instances, and infra for the config reload route). */
function builtinsExcept(...names: string[]): string[] {
  return readdirSync(BUILTIN_PLUGINS).filter((name) => !names.includes(name));
}

const standIn = JSON.stringify([process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "{model_path}"]);
const configFile = join(tempDir(), "gantry.toml");
const modelsDir = join(tempDir(), "models");
/** alpha's table: every kind of field, a secret env value, the placement fields. */
const alphaTable = (modelPath: string, device: string) => `[models.alpha]
backend = "command"
model_path = "${modelPath}"
command = ${standIn}
aliases = ["gpt-4o-mini"]
options = { health_path = "/health" }
env = { HF_TOKEN = "hf_secretvalue123" }
device = "${device}"
memory = "6GiB"
pinned = true
`;
let g: TestGantry;

const instance = async (name: string) => (await g.api(`/api/v1/instances/${encodeURIComponent(name)}`)).json();
const reload = async () => {
  const res = await g.api("/api/v1/infra/config/reload", json("POST"));
  expect(res.status).toBe(200);
};
/** A pass over the running configuration; queued after the one a reload starts, so its answer shows the settled state. */
const reconcile = async () => (await g.api("/api/v1/models/reconcile", json("POST"))).json();

beforeAll(async () => {
  writeFileSync(configFile, `
${alphaTable("alpha-weights", "gpu0")}

[models.beta]
backend = "command"
model_path = "beta-weights"
command = ${standIn}
on_demand_start = true

[models."org/from-hub"]
source = "hf:org/repo-GGUF/from-hub-q4.gguf"
options = { context_size = 4096 }
`);
  g = await startGantry({
    builtins: BUILTIN_PLUGINS, configFile,
    config: { plugins: { disabled: builtinsExcept("instances", "infra") }, rate_limit: { enabled: false }, plugin: { instances: { stop_timeout_s: 2, models_dir: modelsDir, nvidia_smi: "", devices: { gpu0: { memory: "24GiB" }, gpu1: { memory: "24GiB" } } } } },
  });
});
afterAll(() => g.stop());

describe("declared models", () => {
  test("created at start, origin declared, placement fields kept, env never shown", async () => {
    const alpha = await instance("alpha");
    expect(alpha).toMatchObject({ name: "alpha", origin: "declared", status: "stopped", model_path: "alpha-weights", aliases: ["gpt-4o-mini"], config_differs: [], desired_state: "stopped" });
    expect(alpha.port).toBeGreaterThanOrEqual(g.modelPorts.from);
    expect(alpha.declaration).toMatchObject({ device: "gpu0", memory: "6GiB", pinned: true });
    // The placement fields reach the instance: placement acts on them.
    expect(alpha).toMatchObject({ device: "gpu0", memory_mib: 6144, pinned: true });
    expect(alpha.env).toEqual({ HF_TOKEN: "[set]" });
    expect(JSON.stringify(await (await g.api("/api/v1/instances")).json())).not.toContain("hf_secretvalue123");
    expect((await instance("beta")).on_demand_start).toBe(true);
    // A source without model_path: the file a pull of it puts in models_dir.
    const fromHub = await instance("org/from-hub");
    expect(fromHub).toMatchObject({ backend: "llama_cpp", model_path: join(modelsDir, "from-hub-q4.gguf"), declaration: { source: "hf:org/repo-GGUF/from-hub-q4.gguf" } });
  });

  test("an API edit or delete of a declared instance is refused with 409 naming the file; API instances are untouched", async () => {
    const put = await g.api("/api/v1/instances/alpha", json("PUT", { idle_timeout: 5 }));
    expect(put.status).toBe(409);
    const body = await put.json();
    expect(body.code).toBe("INSTANCE_DECLARED");
    expect(body.error).toContain("gantry.toml");
    expect((await g.api("/api/v1/instances/alpha", { method: "DELETE" })).status).toBe(409);
    const created = await g.api("/api/v1/instances", json("POST", { name: "gamma", backend: "command", model_path: "g", command: JSON.parse(standIn) }));
    expect(created.status).toBe(201);
    expect((await created.json()).instance.origin).toBe("api");
    expect((await reconcile()).unchanged.sort()).toEqual(["alpha", "beta", "org/from-hub"]);
    expect((await instance("gamma")).origin).toBe("api");
  });

  test("config reload: stopped ones updated, running ones flagged then updated when they stop, removed tables removed, bad tables reported", async () => {
    expect((await g.api("/api/v1/instances/alpha/start", json("POST"))).status).toBe(200);
    writeFileSync(configFile, `
${alphaTable("alpha-weights-v2", "gpu1")}

[models.delta]
backend = "command"
model_path = "delta-weights"
command = ${standIn}
idle_timeout = 60

[models.broken]
backend = "nonsense"
model_path = "x"
`);
    await reload();
    await waitFor(async () => (await g.api("/api/v1/instances/delta")).status === 200, 5000, "delta to be created by the reload");
    await waitFor(async () => (await g.api("/api/v1/instances/beta")).status === 404, 5000, "beta to be removed");
    const alpha = await instance("alpha");
    expect(alpha).toMatchObject({ status: "running", model_path: "alpha-weights", config_differs: ["device", "model_path"] });
    const result = await reconcile();
    expect(result.differs).toEqual({ alpha: ["device", "model_path"] });
    expect(result.invalid.broken?.[0]).toContain("backend");
    expect((await instance("gamma")).origin).toBe("api");

    expect((await g.api("/api/v1/instances/alpha/stop", json("POST", {}))).status).toBe(200);
    await waitFor(async () => (await instance("alpha")).model_path === "alpha-weights-v2", 5000, "alpha updated once stopped");
    expect(await instance("alpha")).toMatchObject({ config_differs: [], declaration: { device: "gpu1" } });
  });

  test("a table naming an API instance takes it over; a table removed while running is removed when it stops", async () => {
    expect((await g.api("/api/v1/instances/delta/start", json("POST"))).status).toBe(200);
    writeFileSync(configFile, `
${alphaTable("alpha-weights-v2", "gpu1")}

[models.gamma]
backend = "command"
model_path = "g"
command = ${standIn}
`);
    await reload();
    const result = await reconcile();
    expect(result.unchanged.sort()).toEqual(["alpha", "gamma"]);
    expect(result.differs).toEqual({ delta: ["removed"] });
    expect(await instance("gamma")).toMatchObject({ origin: "declared" });
    expect(await instance("delta")).toMatchObject({ status: "running", config_differs: ["removed"] });
    await g.api("/api/v1/instances/delta/stop", json("POST", {}));
    await waitFor(async () => (await g.api("/api/v1/instances/delta")).status === 404, 5000, "delta removed once stopped");
  });

  test("export writes TOML that reconciles back to the same instances", async () => {
    const res = await g.api("/api/v1/models/export");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("hf_secretvalue123");
    expect(text).toContain("HF_TOKEN"); // named in a comment: set again by hand
    const exported = parse(text) as { models: Record<string, Record<string, unknown>> };
    expect(Object.keys(exported.models).sort()).toEqual(["alpha", "gamma"]);
    expect(exported.models.alpha).toMatchObject({ backend: "command", model_path: "alpha-weights-v2", device: "gpu1", memory: "6GiB", pinned: true });
    // The export, with alpha's env put back, as the whole file: nothing to change.
    writeFileSync(configFile, `${text}\n[models.alpha.env]\nHF_TOKEN = "hf_secretvalue123"\n`);
    const before = await (await g.api("/api/v1/instances")).json();
    await reload();
    expect(await reconcile()).toMatchObject({ created: [], updated: [], removed: [], differs: {}, invalid: {}, unchanged: ["alpha", "gamma"] });
    const after = await (await g.api("/api/v1/instances")).json();
    const same = (list: { instances: Record<string, unknown>[] }) => list.instances.map(({ updated_at: _u, declaration: _d, ...rest }) => rest);
    expect(same(after)).toEqual(same(before));
  });
});
