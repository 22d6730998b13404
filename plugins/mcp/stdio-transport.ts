/**
 * The MCP stdio client transport over a kernel-owned child: the server starts through the kernel
 * (listed by core.processes, in a process group of its own, so a `bun run start` wrapper and the
 * server it starts stop together) instead of the SDK's own spawn, which gantry could not stop.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ChildStdin } from "gantry/plugin";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { SpawnOptions, SpawnedProcess } from "gantry/plugin";

export type Spawner = (command: string[], options: SpawnOptions) => SpawnedProcess;

export interface StdioParams {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

/** How long a server may take to exit after its stdin closes before it is stopped (SIGTERM, then SIGKILL). */
const EXIT_GRACE_MS = 2000;

export class KernelStdioTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  #child: SpawnedProcess | undefined;
  readonly #buffer = new ReadBuffer();

  constructor(private readonly spawn: Spawner, private readonly params: StdioParams, private readonly onStderr: (line: string) => void) {}

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  async start(): Promise<void> {
    const { name, command, args, env, cwd } = this.params;
    try {
      this.#child = this.spawn([command, ...args], { name, env, cwd, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new Error(code ? `spawn ${command} ${code}` : (error as Error).message);
    }
    const child = this.#child;
    void this.#read(child.subprocess.stdout as ReadableStream<Uint8Array>, (chunk) => {
      this.#buffer.append(Buffer.from(chunk));
      for (let message = this.#next(); message; message = this.#next()) this.onmessage?.(message);
    });
    let partial = "";
    void this.#read(child.subprocess.stderr as ReadableStream<Uint8Array>, (chunk) => {
      const lines = (partial + Buffer.from(chunk).toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line) this.onStderr(line);
    });
    void child.exited.then(() => {
      if (this.#child === child) this.#child = undefined;
      this.onclose?.();
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.subprocess.stdin as ChildStdin | undefined;
    if (!stdin) throw new Error("Not connected");
    stdin.write(serializeMessage(message));
    await stdin.flush();
  }

  /** Closes stdin (a well-behaved server exits), then stops the process group if it did not. */
  async close(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    try {
      await (child.subprocess.stdin as ChildStdin | undefined)?.end();
    } catch {
      // the server is gone already
    }
    const exited = await Promise.race([child.exited.then(() => true), sleep(EXIT_GRACE_MS).then(() => false)]);
    if (!exited || child.running) await child.stop();
    else child.kill("SIGTERM"); // the server exited; anything it started in its group goes too
    this.#buffer.clear();
  }

  #next(): JSONRPCMessage | null {
    try {
      return this.#buffer.readMessage();
    } catch (error) {
      this.onerror?.(error as Error);
      return null;
    }
  }

  async #read(stream: ReadableStream<Uint8Array>, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    try {
      for await (const chunk of stream) onChunk(chunk);
    } catch (error) {
      this.onerror?.(error as Error);
    }
  }
}
