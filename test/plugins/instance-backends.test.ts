import { expect, test } from "bun:test";
import { commandLine, healthPath, optionFlags, type InstanceDefinition } from "../../plugins/instances/backends.ts";

const def = (backend: InstanceDefinition["backend"], options: Record<string, unknown> = {}, command: string[] | null = null): InstanceDefinition =>
  ({ name: "m", backend, modelPath: "/models/m.gguf", port: 8101, options, env: {}, command, restart: "on-failure", onDemandStart: false, idleTimeout: 0, aliases: [], unlisted: false,
    device: null, memoryMib: null, pinned: false, group: null, parallel: 0, maxQueue: 0 });
const exe = { llama_cpp: "/opt/llama-server", vllm: "vllm", mlx_lm: "mlx_lm.server" };

test("option flags: kebab-case, booleans, repeated lists, omitted false/null", () => {
  expect(optionFlags({ flash_attn: true, no_mmap: false, lora: ["a", "b"], seed: null, top_k: 40 })).toEqual(["--flash-attn", "--lora", "a", "--lora", "b", "--top-k", "40"]);
});

test("llama-server gets llamactl's option names mapped to its flags", () => {
  expect(commandLine(def("llama_cpp", { threads: 4, context_size: 2048, gpu_layers: 0 }), exe)).toEqual([
    "/opt/llama-server", "--model", "/models/m.gguf", "--host", "127.0.0.1", "--port", "8101", "--threads", "4", "--ctx-size", "2048", "--n-gpu-layers", "0",
  ]);
  expect(healthPath(def("llama_cpp"))).toBe("/health");
});

test("vllm serve, mlx_lm.server and a command with substitutions", () => {
  expect(commandLine(def("vllm", { tensor_parallel_size: 2 }), exe)).toEqual(["vllm", "serve", "/models/m.gguf", "--host", "127.0.0.1", "--port", "8101", "--tensor-parallel-size", "2"]);
  expect(commandLine(def("mlx_lm"), exe).slice(0, 3)).toEqual(["mlx_lm.server", "--model", "/models/m.gguf"]);
  expect(healthPath(def("mlx_lm"))).toBe("/v1/models");
  expect(commandLine(def("command", { health_path: "/ready" }, ["srv", "--listen={port}", "{model_path}"]), exe)).toEqual(["srv", "--listen=8101", "/models/m.gguf"]);
  expect(healthPath(def("command", { health_path: "/ready" }))).toBe("/ready");
});

test("llama-server: embeddings get mean pooling, parallel becomes its slots, explicit options win", () => {
  const withParallel = (options: Record<string, unknown>, parallel: number) => ({ ...def("llama_cpp", options), parallel });
  expect(commandLine(def("llama_cpp", { embeddings: true }), exe).slice(7)).toEqual(["--embeddings", "--pooling", "mean"]);
  expect(commandLine(def("llama_cpp", { embeddings: true, pooling: "cls" }), exe).slice(7)).toEqual(["--embeddings", "--pooling", "cls"]);
  expect(commandLine(withParallel({}, 2), exe).slice(7)).toEqual(["--parallel", "2"]);
  expect(commandLine(withParallel({ parallel: 8 }, 2), exe).slice(7)).toEqual(["--parallel", "8"]);
  expect(commandLine(withParallel({}, 0), exe).slice(7)).toEqual([]);
  expect(commandLine({ ...def("vllm"), parallel: 2 }, exe)).not.toContain("--parallel");
});
