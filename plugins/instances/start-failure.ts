/**
 * What gantry can tell of a model server that exited while starting, besides the server's own lines
 * (llama.cpp's logger writes from a thread, and a server that exits at once can lose its last lines):
 * a port another program holds, a model file that is missing or is not a GGUF file llama.cpp reads.
 */
import { open } from "node:fs/promises";
import { createServer } from "node:net";
import type { InstanceDefinition } from "./backends.ts";

/** The GGUF versions llama.cpp reads. */
const GGUF_VERSIONS = new Set([2, 3]);

/** Whether binding 127.0.0.1:`port` fails because something holds it. */
function portHeld(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "EADDRINUSE"));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });
}

/** Why a llama.cpp model file cannot load, read from its first 8 bytes; null when its header looks right. */
async function ggufProblem(path: string): Promise<string | null> {
  let header: Buffer;
  try {
    const file = await open(path, "r");
    try {
      header = Buffer.alloc(8);
      const { bytesRead } = await file.read(header, 0, 8, 0);
      header = header.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (error) {
    return `the model file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  if (header.length < 8 || header.toString("latin1", 0, 4) !== "GGUF") return `the model file ${path} is not a GGUF file`;
  const version = header.readUInt32LE(4);
  return GGUF_VERSIONS.has(version) ? null : `the model file ${path} is not a GGUF file llama.cpp reads (version ${version})`;
}

/** gantry's own findings on a server that exited while starting, as `; finding; finding`, or "". */
export async function startFailureFindings(def: InstanceDefinition): Promise<string> {
  const findings: string[] = [];
  if (await portHeld(def.port)) findings.push(`port ${def.port} is held by another program`);
  if (def.backend === "llama_cpp") {
    const problem = await ggufProblem(def.modelPath);
    if (problem) findings.push(problem);
  }
  return findings.map((f) => `; ${f}`).join("");
}
