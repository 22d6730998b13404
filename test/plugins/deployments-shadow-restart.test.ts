// A shadow run that goes on across a restart keeps its counts: they match its stored samples, not zero.
import { afterAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { BUILTIN_PLUGINS, STAND_IN_MODEL_SERVER, dropTestDatabase, freePort, json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

const dataDir = tempDir();
const others = readdirSync(BUILTIN_PLUGINS).filter((name) => name !== "instances" && name !== "deployments");
const start = () => startGantry({ builtins: BUILTIN_PLUGINS, dataDir, config: { rate_limit: { enabled: false }, log: { level: "warn" }, plugins: { disabled: others } } });
let g: TestGantry | undefined;
afterAll(async () => {
  await g?.stop();
  await dropTestDatabase(dataDir);
});

async function addInstance(name: string, prefix: string) {
  const res = await g!.api("/api/v1/instances", json("POST", {
    name, backend: "command", model_path: name, port: await freePort(), on_demand_start: true,
    command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--answer-prefix", prefix],
  }));
  expect(res.status).toBe(201);
}
const status = async () => (await (await g!.api("/api/v1/deployments/champ/shadow-status")).json()) as { running: boolean; samples: number; counts: Record<string, number> };
const chat = async () => {
  const res = await g!.api("/v1/chat/completions", json("POST", { model: "champ", messages: [{ role: "user", content: "hi" }] }));
  expect(res.status).toBe(200);
  await res.arrayBuffer();
};

test("after a restart a running shadow run's counts go on from where they were", async () => {
  g = await start();
  await addInstance("champ", "Champion: ");
  await addInstance("chall", "Challenger: ");
  expect((await g.api("/api/v1/deployments/shadow-start", json("POST", { model: "champ", challenger: "chall", sample_rate: 1 }))).status).toBe(201);
  for (let i = 0; i < 4; i++) await chat();
  await waitFor(async () => (await status()).counts.mirrored === 4, 20_000, "four mirrors");
  const before = await status();
  expect(before.counts).toMatchObject({ seen: 4, sampled: 4, mirrored: 4, dropped: 0 });
  expect(before.samples).toBe(4);
  await g.stop();

  g = await start();
  const resumed = await status();
  expect(resumed.running).toBe(true);
  expect(resumed.samples).toBe(4);
  expect(resumed.counts).toMatchObject({ seen: 4, sampled: 4, mirrored: 4, dropped: 0 });
  await chat();
  await waitFor(async () => (await status()).counts.mirrored === 5, 20_000, "the fifth mirror");
  expect((await status()).counts).toMatchObject({ seen: 5, sampled: 5, mirrored: 5 });
  expect((await status()).samples).toBe(5);
});

test("counts saved before a crash are raised to what the stored samples prove", async () => {
  const { resumedCounts } = await import("../../plugins/deployments/shadow.ts");
  expect(resumedCounts(null, 7)).toEqual({ seen: 7, sampled: 7, mirrored: 7, dropped: 0 });
  expect(resumedCounts({ seen: 10, sampled: 5, mirrored: 3, dropped: 1 }, 4)).toEqual({ seen: 10, sampled: 5, mirrored: 4, dropped: 1 });
  expect(resumedCounts({ seen: 2, sampled: 2, mirrored: 2, dropped: 2 }, 3)).toEqual({ seen: 5, sampled: 5, mirrored: 3, dropped: 2 });
});
