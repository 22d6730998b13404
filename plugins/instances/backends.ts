/** How each backend is started and probed: argv built from the instance's options. */

export type Backend = "llama_cpp" | "vllm" | "mlx_lm" | "command";

export interface InstanceDefinition {
  name: string;
  backend: Backend;
  modelPath: string;
  port: number;
  options: Record<string, unknown>;
  env: Record<string, string>;
  command: string[] | null;
  restart: "always" | "on-failure" | "never";
  onDemandStart: boolean;
  /** Seconds without requests before the instance is stopped; 0 = never. */
  idleTimeout: number;
  /** Other model ids that reach this instance. */
  aliases: string[];
  /** Left out of model lists. */
  unlisted: boolean;
  /** Placement: the device and the MiB it needs there (null: estimated from the file, or no placement when both are null). */
  device: string | null;
  memoryMib: number | null;
  /** Never evicted, never stopped for idleness. */
  pinned: boolean;
  group: string | null;
  /** Requests at once (0 = no limit) and waiting beyond them (0 = no limit). */
  parallel: number;
  maxQueue: number;
}

/** Options gantry reads itself, never passed to the server as flags. */
const GANTRY_OPTIONS = new Set(["health_path", "anthropic_api"]);

/** llamactl's option names for llama-server that differ from its flags. */
const LLAMA_ALIASES: Record<string, string> = { context_size: "ctx-size", gpu_layers: "n-gpu-layers", batch_size: "batch-size" };

/** `{threads: 4, flash_attn: true, lora: ["a", "b"]}` → `--threads 4 --flash-attn --lora a --lora b`. */
export function optionFlags(options: Record<string, unknown>, aliases: Record<string, string> = {}): string[] {
  const flags: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (GANTRY_OPTIONS.has(key) || value === false || value === null || value === undefined) continue;
    const flag = `--${aliases[key] ?? key.replaceAll("_", "-")}`;
    if (value === true) flags.push(flag);
    else if (Array.isArray(value)) for (const item of value) flags.push(flag, String(item));
    else flags.push(flag, String(value));
  }
  return flags;
}

export function commandLine(def: InstanceDefinition, executables: Record<string, string>): string[] {
  const listen = ["--host", "127.0.0.1", "--port", String(def.port)];
  switch (def.backend) {
    case "llama_cpp":
      return [executables.llama_cpp ?? "llama-server", "--model", def.modelPath, ...listen, ...optionFlags(llamaOptions(def), LLAMA_ALIASES)];
    case "vllm":
      return [executables.vllm ?? "vllm", "serve", def.modelPath, ...listen, ...optionFlags(def.options)];
    case "mlx_lm":
      return [executables.mlx_lm ?? "mlx_lm.server", "--model", def.modelPath, ...listen, ...optionFlags(def.options)];
    case "command":
      return (def.command ?? []).map((part) => part.replaceAll("{port}", String(def.port)).replaceAll("{model_path}", def.modelPath));
  }
}

/**
 * llama-server's options with what the instance implies: `embeddings: true` adds `pooling: "mean"`
 * (llama-server refuses OpenAI embeddings with its default pooling `none`), and `parallel` sets its
 * slots (`--parallel`, llama-server's `-np`) so each request gantry lets through has a slot of its own.
 */
export function llamaOptions(def: InstanceDefinition): Record<string, unknown> {
  const options = { ...def.options };
  if (options.embeddings === true && options.pooling === undefined) options.pooling = "mean";
  if (def.parallel > 0 && options.parallel === undefined && options.n_parallel === undefined) options.parallel = def.parallel;
  return options;
}

/** Where readiness is probed. */
export function healthPath(def: InstanceDefinition): string {
  if (def.backend === "mlx_lm") return "/v1/models";
  if (def.backend === "command" && typeof def.options.health_path === "string") return def.options.health_path;
  return "/health";
}

/**
 * Whether the server answers Anthropic's /v1/messages itself (llama.cpp's llama-server and vLLM do);
 * `options.anthropic_api` ("native" | "translate") overrides, for a command backend that does.
 */
export function servesAnthropic(def: InstanceDefinition): boolean {
  const chosen = def.options.anthropic_api;
  if (chosen === "native" || chosen === "translate") return chosen === "native";
  return def.backend === "llama_cpp" || def.backend === "vllm";
}
