import { afterAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFailureFindings } from "../../plugins/instances/start-failure.ts";
import type { InstanceDefinition } from "../../plugins/instances/backends.ts";
import { writeTinyLlama } from "../fixtures/gguf/tiny-llama.ts";
import { freePort, tempDir } from "../helpers.ts";

const dir = tempDir("gantry-start-failure-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const def = (backend: InstanceDefinition["backend"], modelPath: string, port: number): InstanceDefinition =>
  ({ name: "m", backend, modelPath, port, options: {}, env: {}, command: null, restart: "never", onDemandStart: false, idleTimeout: 0, aliases: [], unlisted: false,
    device: null, memoryMib: null, pinned: false, group: null, parallel: 0, maxQueue: 0 });

test("a model file that is missing, not GGUF or of a GGUF version llama.cpp does not read is named; a good one is not", async () => {
  const port = await freePort();
  const text = join(dir, "notes.gguf");
  writeFileSync(text, "just some text, long enough");
  const future = join(dir, "future.gguf");
  writeFileSync(future, Buffer.from([0x47, 0x47, 0x55, 0x46, 9, 0, 0, 0]));
  const good = await writeTinyLlama(join(dir, "tiny.gguf"));
  expect(await startFailureFindings(def("llama_cpp", join(dir, "absent.gguf"), port))).toBe(`; the model file ${join(dir, "absent.gguf")} cannot be read (ENOENT)`);
  expect(await startFailureFindings(def("llama_cpp", text, port))).toBe(`; the model file ${text} is not a GGUF file`);
  expect(await startFailureFindings(def("llama_cpp", future, port))).toBe(`; the model file ${future} is not a GGUF file llama.cpp reads (version 9)`);
  expect(await startFailureFindings(def("llama_cpp", good, port))).toBe("");
  expect(await startFailureFindings(def("vllm", text, port))).toBe(""); // only llama.cpp's files are read
});

test("a port another program holds is named", async () => {
  const held = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("mine") });
  try {
    expect(await startFailureFindings(def("command", "m", held.port!))).toBe(`; port ${held.port} is held by another program`);
  } finally {
    held.stop(true);
  }
  expect(await startFailureFindings(def("command", "m", await freePort()))).toBe("");
});
