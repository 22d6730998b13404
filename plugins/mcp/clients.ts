/**
 * The MCP servers gantry is a client of: from [plugin.mcp.servers] and from plugins' .mcp.json, kept
 * in step with both. The set outlives plugin reloads (connections stay open, stdio servers keep
 * running); each generation re-points the settings and logging it uses.
 */
import type { CoreOutboundService } from "gantry/plugin";
import { McpConnection, type Timeouts, type ToolInfo } from "./connection.ts";
import { parseServerSpec } from "./server-spec.ts";
import type { Spawner } from "./stdio-transport.ts";

/** What the connections need from the plugin generation that serves now. */
export interface ClientsSettings {
  timeouts(): Timeouts;
  onError(name: string, error: string): void;
  /** Core's outbound guard: HTTP servers are reached through it (outbound.allow for internal ones). */
  outbound: CoreOutboundService;
}

export interface DesiredServer {
  name: string;
  entry: Record<string, unknown>;
  source: { kind: "config" } | { kind: "plugin"; plugin: string };
  pluginDir?: string;
}

export class McpClients {
  readonly #connections = new Map<string, { connection: McpConnection; fingerprint: string }>();

  #settings: ClientsSettings | undefined;

  /** `spawn` starts stdio servers as children of the kept resource (they survive reloads). */
  constructor(private readonly version: string, private readonly spawn: Spawner) {}

  /** Called by each generation at setup. */
  configure(settings: ClientsSettings): void {
    this.#settings = settings;
  }

  #timeouts = (): Timeouts => this.#settings!.timeouts();

  /** The current generation's guard (a connection outlives the generation that opened it). */
  #fetch = (url: string | URL, init?: RequestInit): Promise<Response> => this.#settings!.outbound.fetch(url, init);

  #onError(name: string, error: string): void {
    this.#settings?.onError(name, error);
  }

  /** Opens what is new or changed, closes what is gone; connections start in the background. */
  async sync(desired: DesiredServer[]): Promise<void> {
    const wanted = new Map(desired.map((d) => [d.name, d]));
    const closing: Promise<void>[] = [];
    for (const [name, { connection, fingerprint }] of this.#connections) {
      const next = wanted.get(name);
      if (!next || fingerprintOf(next) !== fingerprint) {
        this.#connections.delete(name);
        closing.push(connection.close());
      }
    }
    for (const server of desired) {
      if (this.#connections.has(server.name)) continue;
      const connection = new McpConnection(server.name, parseServerSpec(server.entry, server.pluginDir), server.source, this.#timeouts, this.version, this.spawn, this.#fetch);
      this.#connections.set(server.name, { connection, fingerprint: fingerprintOf(server) });
      if (connection.parsed.ok) void connection.connect().catch((error) => this.#onError(server.name, (error as Error).message));
      else this.#onError(server.name, connection.lastError!);
    }
    await Promise.all(closing);
  }

  list(): McpConnection[] {
    return [...this.#connections.values()].map((c) => c.connection).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The tools of the connected servers (of one, when `server` is given), each with its server's name. */
  tools(server?: string): (ToolInfo & { server: string })[] {
    return this.list()
      .filter((c) => c.status === "connected" && (server === undefined || c.name === server))
      .flatMap((c) => c.tools.map((tool) => ({ server: c.name, ...tool })));
  }

  get(name: string): McpConnection | undefined {
    return this.#connections.get(name)?.connection;
  }

  /** Retries servers that failed (a crashed or unreachable server comes back without a restart of gantry). */
  async retryFailed(): Promise<string[]> {
    const failed = this.list().filter((c) => c.status === "failed" && c.parsed.ok);
    await Promise.all(failed.map((c) => c.connect().catch(() => undefined)));
    return failed.filter((c) => c.status === "connected").map((c) => c.name);
  }

  async closeAll(): Promise<void> {
    const all = this.list();
    this.#connections.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

function fingerprintOf(server: DesiredServer): string {
  return JSON.stringify([server.entry, server.pluginDir ?? null, server.source]);
}
