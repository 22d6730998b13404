/**
 * Cluster mode: several gantry nodes on one PostgreSQL. The node registers and heartbeats, competes
 * for the leadership lease, relays its events to the other nodes (LISTEN/NOTIFY) and delivers theirs
 * locally. Without cluster mode (SQLite, or cluster.enabled false) the same service describes one
 * node that is always leader, and nothing is written.
 */
import { hostname } from "node:os";
import type { GantryConfig } from "../kernel/config.ts";
import type { EventBus, GantryEvent } from "../kernel/events.ts";
import type { Logger } from "../kernel/logger.ts";
import { messageOf } from "../kernel/errors.ts";
import type { DatabaseHandle } from "../storage/db.ts";
import { ClusterChannel } from "./cluster-channel.ts";
import type { ClusterNodeView, CoreClusterService } from "../kernel/cluster-service.ts";
import { LeaderLease } from "./leader-lease.ts";
import { NodeRegistry, type NodeSelf } from "./node-registry.ts";
import { nodeIdOf } from "./node-identity.ts";
import { SharedRateCounts } from "./shared-rate-counts.ts";

export const LEADER_LEASE = "leader";
/** How long large messages stay readable in cluster_messages. */
const MESSAGE_KEEP_S = 600;
const EVENT_KIND = "event";

export interface ClusterOptions {
  config: GantryConfig;
  database: DatabaseHandle;
  events: EventBus;
  log: Logger;
  version: string;
}

/** The cluster as core holds it: the plugin-facing service plus start (once listening) and stop. */
export interface ClusterRuntime {
  service: CoreClusterService;
  /** Joins the cluster with the URL other nodes reach this one at. */
  start(listeningUrl: string): Promise<void>;
  /** Leaves: gives the lease up, marks this node down, stops listening. */
  stop(): Promise<void>;
  /** Forgets a node that is down (DELETE /api/v1/nodes/{id}). */
  forget(id: string): Promise<"forgotten" | "alive" | "unknown">;
  /** Cluster mode: rate-limit counts shared with the other nodes; undefined on a single node. */
  rateCounts?: SharedRateCounts;
}

/** How often a node publishes and reads rate-limit counts. */
const RATE_SYNC_MS = 500;

/** Cluster mode when the database is PostgreSQL and cluster.enabled; a single always-leading node otherwise. */
export function createCluster(options: ClusterOptions): ClusterRuntime {
  const { config, database } = options;
  if (config.cluster.enabled && database.pg) return new PostgresCluster(options, database.pg).runtime();
  if (config.cluster.enabled) options.log.warn("cluster.enabled needs a PostgreSQL database.url; running as a single node");
  return singleNode(options);
}

function selfOf(config: GantryConfig, version: string, url: string): NodeSelf {
  return {
    id: nodeIdOf(config.data_dir),
    name: config.cluster.node_name || hostname(),
    url: config.cluster.advertised_url || url,
    version,
    startedAt: new Date(),
    labels: config.cluster.labels,
    resources: { cpus: navigator.hardwareConcurrency, platform: process.platform, arch: process.arch },
  };
}

function singleNode({ config, version }: ClusterOptions): ClusterRuntime {
  let self = selfOf(config, version, "");
  const view = (): ClusterNodeView => ({
    id: self.id, name: self.name, url: self.url, version: self.version, started_at: self.startedAt.toISOString(),
    last_heartbeat: new Date().toISOString(), labels: self.labels, resources: self.resources, status: "up", leader: true, self: true,
  });
  return {
    service: {
      enabled: false,
      get nodeId() {
        return self.id;
      },
      get nodeName() {
        return self.name;
      },
      isLeader: true,
      generation: 1,
      confirmLeadership: async () => true,
      onLeadership(fn) {
        queueMicrotask(() => fn(true));
        return () => {};
      },
      nodes: async () => [view()],
      node: async (id) => (id === self.id ? view() : undefined),
      broadcast: async () => {},
      onMessage: () => () => {},
    },
    async start(url) {
      self = { ...self, url: config.cluster.advertised_url || url };
    },
    async stop() {},
    forget: async (id) => (id === self.id ? "alive" : "unknown"),
  };
}

class PostgresCluster {
  readonly #self: NodeSelf;
  readonly #registry: NodeRegistry;
  readonly #lease: LeaderLease;
  readonly #channel: ClusterChannel;
  readonly #rateCounts: SharedRateCounts;
  readonly #leadershipListeners = new Set<(leader: boolean) => void>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #working = new Set<Promise<void>>();
  #wasLeader = false;
  #started = false;
  #stopped = false;

  constructor(private readonly options: ClusterOptions, pg: NonNullable<DatabaseHandle["pg"]>) {
    const { config } = options;
    this.#self = selfOf(config, options.version, "");
    this.#registry = new NodeRegistry(pg, () => config.cluster.node_timeout_s, LEADER_LEASE);
    this.#lease = new LeaderLease(pg, LEADER_LEASE, this.#self.id, () => config.cluster.lease_s * 1000);
    // NOTIFY reaches every session of the database: the schema in the channel name keeps clusters on one database apart.
    this.#channel = new ClusterChannel(pg, `gantry_${config.database.schema}`.slice(0, 63), this.#self.id, options.log);
    this.#rateCounts = new SharedRateCounts(pg, this.#self.id);
  }

  runtime(): ClusterRuntime {
    const lease = this.#lease;
    const cluster = this;
    const service: CoreClusterService = {
      enabled: true,
      nodeId: this.#self.id,
      nodeName: this.#self.name,
      get isLeader() {
        return lease.held;
      },
      get generation() {
        return lease.generation;
      },
      confirmLeadership: () => lease.confirm().catch(() => false),
      onLeadership: (fn) => {
        this.#leadershipListeners.add(fn);
        if (lease.held) queueMicrotask(() => fn(true));
        return () => this.#leadershipListeners.delete(fn);
      },
      nodes: async () => (await this.#registry.list()).map((n) => this.#view(n)),
      node: async (id) => {
        const found = await this.#registry.get(id);
        return found ? this.#view(found) : undefined;
      },
      broadcast: (kind, data) => (kind === EVENT_KIND ? Promise.reject(new Error(`'${EVENT_KIND}' is reserved for the event bus`)) : this.#channel.send(kind, data)),
      onMessage: (kind, fn) => this.#channel.on(kind, fn),
    };
    return {
      service,
      start: (url) => cluster.#start(url),
      stop: () => cluster.#stop(),
      forget: (id) => cluster.#registry.forget(id),
      rateCounts: this.#rateCounts,
    };
  }

  #view(node: Awaited<ReturnType<NodeRegistry["list"]>>[number]): ClusterNodeView {
    return { ...node, self: node.id === this.#self.id };
  }

  async #start(url: string): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { events, log } = this.options;
    Object.assign(this.#self, { url: this.options.config.cluster.advertised_url || url });
    // Every local event goes to the other nodes; theirs are delivered here with their node id.
    events.relayTo(this.#self.id, (event) => void this.#channel.send(EVENT_KIND, event));
    this.#channel.on(EVENT_KIND, (data) => events.deliverRemote(data as GantryEvent));
    await this.#channel.start();
    await this.#registry.register(this.#self);
    events.publish("node_up", { id: this.#self.id, name: this.#self.name, url: this.#self.url });
    log.info({ node: this.#self.id, name: this.#self.name, url: this.#self.url }, "joined the cluster");
    const { heartbeat_interval_s: heartbeatS, lease_s: leaseS } = this.options.config.cluster;
    this.#every(heartbeatS * 1000, () => this.#heartbeat());
    this.#every((leaseS * 1000) / 3, () => this.#leadershipTick());
    this.#every(RATE_SYNC_MS, () => this.#rateCounts.sync().catch((error) => log.warn({ err: messageOf(error) }, "rate-limit counts not shared")));
    await this.#leadershipTick();
  }

  /** Runs `work` now and again `ms` after each run ends (never two at once). */
  #every(ms: number, work: () => Promise<void>): void {
    const next = () => {
      if (this.#stopped) return;
      const timer = setTimeout(async () => {
        this.#timers.delete(timer);
        const working = work().finally(() => this.#working.delete(working));
        this.#working.add(working);
        await working;
        next();
      }, ms);
      this.#timers.add(timer);
    };
    next();
  }

  async #heartbeat(): Promise<void> {
    try {
      const state = await this.#registry.heartbeat(this.#self.id);
      if (state === "missing") await this.#registry.register(this.#self);
      if (state !== "ok") this.options.events.publish("node_up", { id: this.#self.id, name: this.#self.name, url: this.#self.url });
    } catch (error) {
      this.options.log.warn({ err: messageOf(error) }, "cluster heartbeat failed");
    }
  }

  async #leadershipTick(): Promise<void> {
    try {
      await this.#lease.tryAcquire();
    } catch (error) {
      this.#lease.drop();
      this.options.log.warn({ err: messageOf(error) }, "leadership lease not renewed");
    }
    const leader = this.#lease.held;
    if (leader !== this.#wasLeader) {
      this.#wasLeader = leader;
      this.options.log.info({ node: this.#self.id, generation: this.#lease.generation }, leader ? "this node is now the cluster leader" : "this node is no longer the cluster leader");
      if (leader) this.options.events.publish("leader_changed", { id: this.#self.id, name: this.#self.name, generation: this.#lease.generation });
      for (const fn of this.#leadershipListeners) {
        try {
          fn(leader);
        } catch (error) {
          this.options.log.warn({ err: messageOf(error) }, "leadership listener failed");
        }
      }
    }
    if (leader) await this.#leaderWork();
  }

  /** Singleton work of core: mark silent nodes down, drop old stored messages. */
  async #leaderWork(): Promise<void> {
    try {
      for (const node of await this.#registry.markSilentDown()) {
        this.options.log.warn({ node: node.id, name: node.name }, "cluster node is down (no heartbeat)");
        this.options.events.publish("node_down", node);
      }
      await this.#channel.prune(MESSAGE_KEEP_S);
      await this.#rateCounts.prune();
    } catch (error) {
      this.options.log.warn({ err: messageOf(error) }, "cluster leader work failed");
    }
  }

  async #stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all(this.#working);
    if (!this.#started) return;
    try {
      await this.#lease.release();
      await this.#registry.leave(this.#self.id);
      this.options.events.publish("node_down", { id: this.#self.id, name: this.#self.name, url: this.#self.url });
      await this.#channel.flush(); // the event above goes out before the channel closes
    } catch (error) {
      this.options.log.warn({ err: messageOf(error) }, "leaving the cluster failed");
    }
    this.options.events.relayTo(this.#self.id, undefined);
    await this.#channel.stop();
  }
}
