/**
 * Device memory: the budgets instances are placed into (from `[plugin.instances.devices]`, else the
 * GPUs nvidia-smi reports, plus the host's memory as `cpu`), memory sizes as people write them, and
 * the estimate of what a model needs when its instance does not say.
 */
import { statSync } from "node:fs";
import { totalmem } from "node:os";
import type { PluginContext } from "gantry/plugin";

export interface DeviceBudget {
  name: string;
  /** MiB gantry may fill with instances. */
  totalMib: number;
  source: "config" | "nvidia-smi" | "host";
  /** nvidia-smi's product name, when it reported the device. */
  product: string | null;
  /** MiB nvidia-smi reported in use when it was read (every process on the GPU, gantry's servers included). */
  reportedUsedMib: number | null;
}

const UNITS: Record<string, number> = { b: 1 / 2 ** 20, kb: 1000 / 2 ** 20, kib: 1 / 1024, mb: 1e6 / 2 ** 20, mib: 1, gb: 1e9 / 2 ** 20, gib: 1024, tb: 1e12 / 2 ** 20, tib: 1024 * 1024 };

/** `"8GiB"`, `"512 MiB"`, `"24GB"` or a number of MiB → whole MiB; undefined when it is none of these. */
export function parseMemoryMib(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.ceil(value) : undefined;
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(value);
  if (!match) return undefined;
  return Math.ceil(Number(match[1]) * UNITS[(match[2] ?? "mib").toLowerCase()]!);
}

/** The pattern the API accepts for `memory` given as a string. */
export const MEMORY_PATTERN = "^\\s*\\d+(\\.\\d+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$";

/** The lines of `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits` as devices `gpu<index>`. */
export function parseNvidiaSmi(output: string): DeviceBudget[] {
  const devices: DeviceBudget[] = [];
  for (const line of output.split("\n")) {
    const [index, product, total, used] = line.split(",").map((part) => part.trim());
    if (!index || !/^\d+$/.test(index) || !Number.isFinite(Number(total))) continue;
    devices.push({ name: `gpu${index}`, totalMib: Number(total), source: "nvidia-smi", product: product ?? null, reportedUsedMib: Number.isFinite(Number(used)) ? Number(used) : null });
  }
  return devices;
}

/** Runs nvidia-smi (`executable`: a path, or a name looked up on PATH); no devices when it is absent or fails within 5 s. */
export async function readNvidiaSmi(ctx: PluginContext, executable: string): Promise<DeviceBudget[]> {
  const path = executable.includes("/") ? executable : Bun.which(executable);
  if (!path) return [];
  try {
    const proc = ctx.spawn([path, "--query-gpu=index,name,memory.total,memory.used", "--format=csv,noheader,nounits"], { name: "nvidia-smi", stdout: "pipe", stderr: "ignore", killTimeoutMs: 500 });
    const timer = setTimeout(() => void proc.stop({ force: true }), 5000);
    const [text, code] = await Promise.all([new Response(proc.subprocess.stdout as ReadableStream<Uint8Array>).text(), proc.exited]);
    clearTimeout(timer);
    return code === 0 ? parseNvidiaSmi(text) : [];
  } catch (error) {
    ctx.log.warn({ nvidia_smi: path, err: (error as Error).message }, "nvidia-smi could not be read; only configured devices are known");
    return [];
  }
}

/**
 * Every known device: configured ones first (a configured `gpu0` overrides nvidia-smi's), then
 * nvidia-smi's, then `cpu` (the host's memory) unless configured.
 */
export function deviceBudgets(configured: Record<string, { memory?: unknown }>, detected: DeviceBudget[]): Map<string, DeviceBudget> {
  const devices = new Map<string, DeviceBudget>();
  for (const [name, entry] of Object.entries(configured)) {
    const totalMib = parseMemoryMib(entry?.memory);
    if (totalMib === undefined) throw new Error(`plugin.instances.devices.${name}.memory must be a size such as "24GiB" or a number of MiB`);
    const seen = detected.find((d) => d.name === name);
    devices.set(name, { name, totalMib, source: "config", product: seen?.product ?? null, reportedUsedMib: seen?.reportedUsedMib ?? null });
  }
  for (const device of detected) if (!devices.has(device.name)) devices.set(device.name, device);
  if (!devices.has("cpu")) devices.set("cpu", { name: "cpu", totalMib: Math.floor(totalmem() / 2 ** 20), source: "host", product: null, reportedUsedMib: null });
  return devices;
}

/** Context length an instance asks for (llama.cpp's, vLLM's and llamactl's names), or the default the estimate assumes. */
function contextOf(options: Record<string, unknown>): number {
  for (const key of ["context_size", "ctx_size", "ctx-size", "c", "max_model_len", "max-model-len"]) {
    const value = Number(options[key]);
    if (Number.isFinite(value) && value > 0) return value;
  }
  return DEFAULT_CONTEXT;
}

const DEFAULT_CONTEXT = 4096;
/** KV cache per token of context: 128 KiB (an 8B model with grouped-query attention at 16 bits). */
const KV_MIB_PER_TOKEN = 0.125;
/** Runtime overhead: CUDA context and compute buffers. */
const OVERHEAD_MIB = 256;

/**
 * What a model needs when its instance does not say: the file's size + 10 % (weights and their
 * metadata), 128 KiB per token of context (KV cache), 256 MiB of runtime. A rough figure: declare
 * `memory` for anything that matters. A path that is not a readable file (a hub id, a folder) counts 0.
 */
export function estimateMemoryMib(modelPath: string, options: Record<string, unknown>): { mib: number; fileMib: number } {
  let bytes = 0;
  try {
    const stat = statSync(modelPath);
    if (stat.isFile()) bytes = stat.size;
  } catch {
    // not a local file: nothing to measure
  }
  if (bytes === 0) return { mib: 0, fileMib: 0 };
  const fileMib = bytes / 2 ** 20;
  return { mib: Math.ceil(fileMib * 1.1 + contextOf(options) * KV_MIB_PER_TOKEN + OVERHEAD_MIB), fileMib: Math.round(fileMib) };
}
