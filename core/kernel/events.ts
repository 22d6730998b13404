/**
 * Publish/subscribe; the WebSocket at /api/v1/ws relays every event to clients. In cluster mode every
 * local event is also relayed to the other nodes, and theirs are delivered here carrying their `node`.
 */

export interface GantryEvent<T = unknown> {
  id: number;
  type: string;
  data: T;
  /** The plugin (or "core") that published it. */
  source: string;
  time: string;
  /** The node it happened on (cluster mode only). */
  node?: string;
}

export type EventHandler = (event: GantryEvent) => void | Promise<void>;

/** Matches "a.b" exactly, "a.*" by prefix, "*" everything. */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern === "*" || pattern === type) return true;
  return pattern.endsWith(".*") && type.startsWith(pattern.slice(0, -1));
}

export class EventBus {
  readonly #subscriptions = new Set<{ pattern: string; handler: EventHandler }>();
  #nextId = 1;
  #relay: { node: string; send: (event: GantryEvent) => void } | undefined;

  constructor(private readonly onHandlerError: (error: unknown, event: GantryEvent) => void) {}

  /** Subscribes to a type or pattern; returns the unsubscribe function. */
  subscribe(pattern: string, handler: EventHandler): () => void {
    const sub = { pattern, handler };
    this.#subscriptions.add(sub);
    return () => this.#subscriptions.delete(sub);
  }

  /** Relays every event published from now on to `send` (the other nodes), stamped with `node`; undefined stops it. */
  relayTo(node: string, send: ((event: GantryEvent) => void) | undefined): void {
    this.#relay = send ? { node, send } : undefined;
  }

  /** Delivers an event that another node published (never relayed again). */
  deliverRemote(remote: GantryEvent): void {
    this.#deliver({ ...remote, id: this.#nextId++ });
  }

  /** Delivers an event to every matching subscriber; a failing handler never affects the others. */
  publish<T>(type: string, data: T, source = "core"): GantryEvent<T> {
    const event: GantryEvent<T> = { id: this.#nextId++, type, data, source, time: new Date().toISOString() };
    if (this.#relay) event.node = this.#relay.node;
    this.#deliver(event);
    this.#relay?.send(event);
    return event;
  }

  #deliver(event: GantryEvent): void {
    const type = event.type;
    for (const { pattern, handler } of this.#subscriptions) {
      if (!matchesPattern(pattern, type)) continue;
      try {
        const result = handler(event);
        if (result instanceof Promise) result.catch((error) => this.onHandlerError(error, event));
      } catch (error) {
        this.onHandlerError(error, event);
      }
    }
  }

  /** True when a publish of `type` would reach anyone: work that only feeds an event can be skipped otherwise. */
  hasSubscribers(type: string): boolean {
    if (this.#relay) return true; // other nodes may have subscribers
    for (const { pattern } of this.#subscriptions) if (matchesPattern(pattern, type)) return true;
    return false;
  }

  get subscriberCount(): number {
    return this.#subscriptions.size;
  }
}
