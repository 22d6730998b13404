/**
 * The conformance suite's setup: the real llama.cpp `llama-server` named by GANTRY_LLAMA_SERVER, the
 * tiny model written at test time, and a gantry whose llama_cpp instances run that server.
 */
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS, freePort, json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";
import { writeTinyLlama } from "../fixtures/gguf/tiny-llama.ts";

/** The llama-server binary under test; the suite refuses to run without one (never a skip). */
export const LLAMA_SERVER = requiredServer();

function requiredServer(): string {
  const path = process.env.GANTRY_LLAMA_SERVER ?? "";
  if (!path) throw new Error("GANTRY_LLAMA_SERVER is not set: point it at a llama.cpp llama-server binary, e.g. GANTRY_LLAMA_SERVER=/opt/llama.cpp/llama-server npm run test:conformance");
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`GANTRY_LLAMA_SERVER=${path} is not an executable file`);
  }
  return path;
}

const models = tempDir("gantry-conformance-models-");
/** The tiny model (written once per test file). */
export const TINY_MODEL = await writeTinyLlama(join(models, "tiny-llama.gguf"));
let slowModel: string | undefined;
/** The tiny model with 120,000 filler tokens: llama-server takes a good part of a second to load it, so its 503 "Loading model" is seen. */
export async function slowLoadingModel(): Promise<string> {
  slowModel ??= await writeTinyLlama(join(models, "slow-loading.gguf"), { fillerTokens: 120_000, f16: true });
  return slowModel;
}

/** A gantry with the built-in plugins whose llama_cpp backend is the server under test. */
export function startLlamaGantry(plugin: Record<string, unknown> = {}): Promise<TestGantry> {
  return startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        ...plugin,
        instances: { executables: { llama_cpp: LLAMA_SERVER }, start_timeout_s: 60, stop_timeout_s: 5, max_restarts: 3, health_interval_s: 1, ...(plugin.instances as object) },
      },
    },
  });
}

/** Creates a llama_cpp instance of the tiny model (one thread, context 512) on a port the OS gave; returns its port. */
export async function createLlama(g: TestGantry, name: string, fields: Record<string, unknown> = {}): Promise<number> {
  const port = await freePort();
  const { options, ...rest } = fields;
  const res = await g.api("/api/v1/instances", json("POST", {
    name, backend: "llama_cpp", model_path: TINY_MODEL, port, ...rest, options: { threads: 1, context_size: 512, ...(options as object) },
  }));
  if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`);
  return port;
}

/** Starts an instance and returns its detail (the start answers once the server is healthy). */
export async function startInstance(g: TestGantry, name: string): Promise<{ pid: number; status: string; port: number }> {
  const res = await g.api(`/api/v1/instances/${encodeURIComponent(name)}/start`, json("POST"));
  if (res.status !== 200) throw new Error(`starting ${name}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The value of one Prometheus sample on gantry's /metrics (0 when absent). */
export async function metric(g: TestGantry, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await g.api("/metrics")).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length, line.lastIndexOf(" "));
    if (wanted.every((w) => labelPart.includes(w))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

/** Waits until the instance's status is `status`. */
export function waitForStatus(g: TestGantry, name: string, status: string, ms = 30_000): Promise<void> {
  return waitFor(async () => (await (await g.api(`/api/v1/instances/${encodeURIComponent(name)}`)).json()).status === status, ms, `${name} to be ${status}`);
}
