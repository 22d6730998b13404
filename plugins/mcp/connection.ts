/**
 * One MCP server gantry is a client of: connects (stdio subprocess or streamable HTTP), keeps its
 * tool list, calls tools, and reconnects on the next call after the server went away.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { ParsedSpec, ServerSpec } from "./server-spec.ts";
import type { Spawner } from "./stdio-transport.ts";

export type ConnectionStatus = "connecting" | "connected" | "failed" | "closed";

export interface ToolInfo {
  name: string;
  description: string | null;
  input_schema: Record<string, unknown>;
}

export interface CallOutcome {
  is_error: boolean;
  content: unknown[];
  structured_content: Record<string, unknown> | null;
}

export interface Timeouts {
  connectMs: number;
  callMs: number;
}

const STDERR_LINES = 20;

/**
 * The SDK's client side and the stdio transport (which pulls in the SDK's message schemas), loaded on
 * the first connection: ~130 ms and ~10 MB that a gantry without MCP servers need not pay at start.
 */
async function importClientSdk() {
  const [client, stdio, http, kernelStdio] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/stdio.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    import("./stdio-transport.ts"),
  ]);
  return {
    Client: client.Client,
    getDefaultEnvironment: stdio.getDefaultEnvironment,
    StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
    KernelStdioTransport: kernelStdio.KernelStdioTransport,
  };
}
type ClientSdk = Awaited<ReturnType<typeof importClientSdk>>;
let clientSdk: Promise<ClientSdk> | undefined;
const loadClientSdk = () => (clientSdk ??= importClientSdk());

export class McpConnection {
  status: ConnectionStatus = "closed";
  lastError: string | null = null;
  tools: ToolInfo[] = [];
  connectedAt: Date | null = null;
  serverInfo: { name: string; version: string } | null = null;
  /** The last lines a stdio server wrote to stderr: why it failed, usually. */
  readonly stderrTail: string[] = [];
  #client: Client | undefined;
  #connecting: Promise<void> | undefined;
  /** Bumped by close(): a connection attempt that ends after a close must not come alive (its process would leak). */
  #generation = 0;

  constructor(
    readonly name: string,
    readonly parsed: ParsedSpec,
    readonly source: { kind: "config" } | { kind: "plugin"; plugin: string },
    private readonly timeouts: () => Timeouts,
    private readonly clientVersion: string,
    private readonly spawn: Spawner,
    /** fetch() through core's outbound guard, for servers over HTTP. */
    private readonly fetchOutbound: (url: string | URL, init?: RequestInit) => Promise<Response>,
  ) {
    if (!parsed.ok) {
      this.status = "failed";
      this.lastError = parsed.error;
    }
  }

  /** Connects unless connected; concurrent callers share one attempt. Rejects with the reason. */
  connect(): Promise<void> {
    if (this.status === "connected") return Promise.resolve();
    if (!this.#connecting) {
      const attempt: Promise<void> = this.#connect().finally(() => {
        if (this.#connecting === attempt) this.#connecting = undefined;
      });
      this.#connecting = attempt;
    }
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    if (!this.parsed.ok) throw new Error(this.parsed.error);
    this.status = "connecting";
    const generation = this.#generation;
    const sdk = await loadClientSdk();
    const client = new sdk.Client({ name: "gantry", version: this.clientVersion });
    const transport = this.#transport(sdk, this.parsed.spec);
    client.onclose = () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      if (this.status === "connected") {
        this.status = "failed";
        this.lastError = "the server closed the connection";
      }
    };
    try {
      const { connectMs } = this.timeouts();
      await client.connect(transport, { timeout: connectMs });
      const tools: ToolInfo[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: connectMs });
        for (const tool of page.tools) tools.push({ name: tool.name, description: tool.description ?? null, input_schema: tool.inputSchema as Record<string, unknown> });
        cursor = page.nextCursor;
      } while (cursor);
      if (generation !== this.#generation) throw new Error("closed while connecting");
      this.#client = client;
      this.tools = tools;
      const info = client.getServerVersion();
      this.serverInfo = info ? { name: info.name, version: info.version } : null;
      this.connectedAt = new Date();
      this.lastError = null;
      this.status = "connected";
    } catch (error) {
      await client.close().catch(() => undefined);
      const message = messageOf(error, this.stderrTail);
      if (generation === this.#generation) {
        this.status = "failed";
        this.lastError = message;
      }
      throw new Error(message);
    }
  }

  #transport(sdk: ClientSdk, spec: ServerSpec): Transport {
    // Each request (and each redirect the SDK follows) is checked by the guard and sent to the checked address.
    if (spec.transport === "http") return new sdk.StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers }, fetch: this.fetchOutbound });
    // The child gets a minimal environment (HOME, PATH, ...) plus what the entry names: not gantry's secrets.
    const params = { name: this.name, command: spec.command, args: spec.args, env: { ...sdk.getDefaultEnvironment(), ...spec.env }, cwd: spec.cwd };
    return new sdk.KernelStdioTransport(this.spawn, params, (line) => {
      this.stderrTail.push(line);
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - STDERR_LINES));
    });
  }

  /** Calls a tool (connecting first if needed). A tool's own failure is `is_error`, not an exception. */
  async call(tool: string, args: Record<string, unknown>): Promise<CallOutcome> {
    await this.connect();
    try {
      const client = this.#client;
      if (!client) throw new Error("Not connected"); // closed between connect and this call
      const result = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: this.timeouts().callMs });
      return {
        is_error: result.isError === true,
        content: (result.content as unknown[] | undefined) ?? [],
        structured_content: (result.structuredContent as Record<string, unknown> | undefined) ?? null,
      };
    } catch (error) {
      const message = messageOf(error, this.stderrTail);
      if (/Connection closed|Not connected/i.test(message)) {
        this.status = "failed";
        this.lastError = message;
      }
      throw new Error(message);
    }
  }

  async close(): Promise<void> {
    this.#generation++;
    this.#connecting = undefined; // an attempt in flight is void; the next connect() starts afresh
    const client = this.#client;
    this.#client = undefined;
    this.status = "closed";
    await client?.close().catch(() => undefined);
  }
}

function messageOf(error: unknown, stderrTail: string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const last = stderrTail.at(-1);
  return last && /Connection closed/i.test(message) ? `${message} (stderr: ${last})` : message;
}
