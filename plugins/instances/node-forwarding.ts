/**
 * Cluster mode: an instance belongs to the node that supervises it. A request on another node for
 * its model, logs or health is forwarded to the owner over HTTP, streams included, with the
 * caller's own credential (keys and sessions are the same on every node, so the owner checks the
 * caller as it would have checked it locally; no node gains rights the caller lacks).
 */
import { and, createError, defineErrors, eq, inArray, isNotNull, not, or, pickTables, sql, type ClusterNodeView, type CoreClusterService, type PluginContext } from "gantry/plugin";
import { storedView, type InstanceManager } from "./instance-manager.ts";
import { relayHeaders } from "./proxy.ts";
import * as pgTables from "./schema-pg.ts";
import * as sqliteTables from "./schema.ts";

export const ForwardingErrors = defineErrors("instances", {
  INSTANCE_NODE_UNKNOWN: createError("INSTANCE_NODE_UNKNOWN", 400, (node: string) => `No cluster node '${node}' is up; GET /api/v1/nodes lists the nodes an instance can be placed on`),
  INSTANCE_NODE_DOWN: createError("INSTANCE_NODE_DOWN", 503, (what: string, node: string, why: string) => `'${what}' runs on cluster node '${node}', which ${why}; try again when it is back, or move the instance to another node`),
});

/** Set on a forwarded request: its receiver answers from its own instances and never forwards again. */
export const FORWARDED_BY = "x-gantry-forwarded-by";

/** Hop-by-hop and length headers a forward must not copy (the body is re-framed). */
const NOT_FORWARDED = ["host", "connection", "content-length", "transfer-encoding", "keep-alive", "accept-encoding"];

export class NodeForwarding {
  readonly #cluster: CoreClusterService;
  readonly #table: typeof sqliteTables.instances;
  readonly #db: PluginContext["db"];

  constructor(ctx: PluginContext, private readonly manager: InstanceManager) {
    this.#cluster = ctx.services.consume("core.cluster");
    this.#table = pickTables(ctx.db, { sqlite: sqliteTables, pg: pgTables }).instances;
    this.#db = ctx.db;
  }

  /** Whether a forward could apply: cluster mode, and the request was not forwarded already. */
  applies(request: Request): boolean {
    return this.#cluster.enabled && !request.headers.has(FORWARDED_BY);
  }

  /** The other node that owns model id `model` (a name or alias); undefined when this node has it or nobody does. */
  async ownerOf(model: string): Promise<ClusterNodeView | { id: string; name: string; status: "down"; url: "" } | undefined> {
    if (this.manager.resolve(model)) return undefined;
    const t = this.#table;
    const [row] = await this.#db.select({ node: t.node }).from(t)
      .where(or(eq(t.name, model), sql`${t.aliases}::jsonb @> ${JSON.stringify([model])}::jsonb`)).limit(1);
    if (!row?.node || row.node === this.#cluster.nodeId) return undefined;
    return (await this.#cluster.node(row.node)) ?? { id: row.node, name: row.node, status: "down", url: "" };
  }

  /**
   * Forwards `request` to the node that owns `model`, with `body` (what the route already read);
   * undefined when this node answers it. Owner down or unreachable: INSTANCE_NODE_DOWN (503).
   */
  async forward(request: Request, model: string, body?: RequestInit["body"]): Promise<Response | undefined> {
    if (!this.applies(request)) return undefined;
    const owner = await this.ownerOf(model);
    if (!owner) return undefined;
    return this.send(request, owner, model, body);
  }

  /**
   * For routes that read their JSON body as text (Anthropic, Ollama): the model named by the body's
   * `model` (or Ollama's `name`) runs on another node, so the request goes there as it came.
   */
  async forwardByBody(request: Request, body: unknown): Promise<Response | undefined> {
    if (typeof body !== "string" || body === "" || !this.applies(request)) return undefined;
    let model: unknown;
    try {
      const parsed = JSON.parse(body) as { model?: unknown; name?: unknown };
      model = parsed.model ?? parsed.name;
    } catch {
      return undefined; // the route answers the bad body in its own shape
    }
    return typeof model === "string" && model !== "" ? this.forward(request, model, body) : undefined;
  }

  /** Sends `request` to `node` as it came (path, query, headers, `body`) and passes the answer back unbuffered. */
  async send(request: Request, node: { id: string; name: string; url: string; status: string }, what: string, body?: RequestInit["body"]): Promise<Response> {
    const named = node.name === node.id ? node.id : `${node.name}' ('${node.id}`;
    if (node.status === "down") throw ForwardingErrors.INSTANCE_NODE_DOWN([what, named, "is down"]);
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    for (const name of NOT_FORWARDED) headers.delete(name);
    headers.set(FORWARDED_BY, this.#cluster.nodeId);
    let answer: Response;
    try {
      answer = await fetch(`${node.url}${url.pathname}${url.search}`, { method: request.method, headers, body, signal: request.signal, redirect: "manual" });
    } catch (error) {
      if (request.signal.aborted) throw error;
      throw ForwardingErrors.INSTANCE_NODE_DOWN([what, named, "does not answer"]);
    }
    return new Response(answer.body, { status: answer.status, headers: relayHeaders(answer) });
  }

  /** The instances of the other nodes: those up are asked with the caller's credential; a down node's are listed `unreachable`. */
  async othersInstances(request: Request): Promise<RemoteInstance[]> {
    if (!this.applies(request)) return [];
    const nodes = await this.#cluster.nodes();
    const lists = await this.#askOthers(request, nodes, (answer) => (answer as { instances: RemoteInstance[] }).instances);
    // Every instance of a node that is down, or was forgotten, is listed as stored.
    const live = nodes.filter((n) => n.self || n.status === "up").map((n) => n.id);
    const names = new Map(nodes.map((n) => [n.id, n.name]));
    const t = this.#table;
    const stranded = await this.#db.select().from(t).where(and(isNotNull(t.node), not(inArray(t.node, live))));
    return [...lists, ...this.unreachable(stranded, names)].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  }

  /** The entries of the other up nodes' answers to this request's path, under `field` (`data` for OpenAI's model list, `models` for Ollama's). */
  async othersModels<T>(request: Request, field: "data" | "models" = "data"): Promise<T[]> {
    if (!this.applies(request)) return [];
    return this.#askOthers(request, await this.#cluster.nodes(), (answer) => (answer as Record<string, T[]>)[field] ?? []);
  }

  /** GETs the request's path from every other up node (local answers only) and gathers `pick` of each; a node that fails is left out. */
  async #askOthers<T>(request: Request, nodes: ClusterNodeView[], pick: (answer: unknown) => T[]): Promise<T[]> {
    const headers = new Headers({ [FORWARDED_BY]: this.#cluster.nodeId });
    for (const name of ["authorization", "x-api-key"]) {
      const value = request.headers.get(name);
      if (value) headers.set(name, value);
    }
    const url = new URL(request.url);
    const lists = await Promise.all(nodes.filter((n) => !n.self && n.status === "up").map(async (node) => {
      try {
        const answer = await fetch(`${node.url}${url.pathname}${url.search}`, { headers, signal: AbortSignal.any([request.signal, AbortSignal.timeout(5000)]) });
        return answer.ok ? pick(await answer.json()) ?? [] : [];
      } catch {
        return [];
      }
    }));
    return lists.flat();
  }

  /** The instances of `node` (one that went down), as stored. */
  async instancesOf(node: { id: string; name: string }): Promise<RemoteInstance[]> {
    const t = this.#table;
    return this.unreachable(await this.#db.select().from(t).where(eq(t.node, node.id)), new Map([[node.id, node.name]]));
  }

  /** Stored rows as the API lists instances, with status `unreachable` (their node is down or gone). */
  unreachable(rows: (typeof sqliteTables.instances.$inferSelect)[], names: Map<string, string>): RemoteInstance[] {
    return rows.map((row) => {
      const node = { id: row.node!, name: names.get(row.node!) ?? row.node! };
      return {
        ...storedView(row), status: "unreachable" as const, pid: null,
        requests: { in_flight: 0, queued: 0, waiting_for_start: 0 }, keep_alive_s: null, config_differs: [],
        restarts: 0, last_error: `cluster node '${node.name}' is down`,
        stats: { memory_usage: 0, cpu_usage: 0, cpu_seconds: 0, processes: 0, uptime: 0 },
      } satisfies Omit<RemoteInstance, "status"> & { status: "unreachable" } as unknown as RemoteInstance;
    });
  }

  /**
   * For the instance routes: a request about a named instance of another node goes there, as does a
   * create placed on another node (`node` in the body).
   */
  async forwardInstanceRequest(request: Request, name: string | undefined, body: unknown): Promise<Response | undefined> {
    if (!this.#cluster.enabled) return undefined;
    const forwarded = !this.applies(request);
    if (name !== undefined) {
      if (forwarded || this.manager.lookup(name)) return undefined;
      const owner = await this.ownerOf(name);
      return owner ? this.send(request, owner, name, bodyOf(body)) : undefined;
    }
    if (request.method !== "POST" || !isCreate(body)) return undefined;
    if (!forwarded && body.node !== undefined && body.node !== this.#cluster.nodeId) {
      const node = await this.#cluster.node(body.node);
      if (!node || node.status !== "up") throw ForwardingErrors.INSTANCE_NODE_UNKNOWN([body.node]);
      return this.send(request, node, body.name, JSON.stringify(body));
    }
    // A create here: the manager checks name and port against every node's instances.
    return undefined;
  }
}

/** An instance as another node lists it (the same view as this node's). */
type RemoteInstance = ReturnType<InstanceManager["list"]>[number];

function isCreate(body: unknown): body is { name: string; node?: string; port?: number } {
  return typeof body === "object" && body !== null && typeof (body as { name?: unknown }).name === "string";
}

function bodyOf(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  return typeof body === "string" ? body : JSON.stringify(body);
}
