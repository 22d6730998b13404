/** One QuickJS WebAssembly instance per run, with a fixed-size memory (QuickJS's setMemoryLimit alone does not cap the WebAssembly heap). */
import RELEASE_SYNC from "@jitl/quickjs-wasmfile-release-sync";
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSWASMModule } from "quickjs-emscripten-core";

const PAGE = 65_536;
let compiled: Promise<WebAssembly.Module> | undefined;

/** The compiled WebAssembly module, compiled once per process. */
function wasmModule(): Promise<WebAssembly.Module> {
  // Imported when first needed: a worker whose static imports await at top level loses the
  // messages posted to it before they settle (Bun).
  compiled ??= import("../core/runtime/index.ts").then(({ runtime }) => runtime.quickjsWasm()).then((bytes) => new WebAssembly.Module(bytes));
  return compiled;
}

/** A fresh QuickJS module whose whole heap is `memoryBytes` (rounded up to 64 KiB pages): it cannot grow. */
export async function freshQuickJS(memoryBytes: number): Promise<QuickJSWASMModule> {
  const pages = Math.ceil(memoryBytes / PAGE);
  const wasmMemory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  return newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmModule: await wasmModule(), wasmMemory }));
}
