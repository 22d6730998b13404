/** In-process publish/subscribe; the WebSocket at /api/v1/ws relays every event to clients. */

export interface GantryEvent<T = unknown> {
  id: number;
  type: string;
  data: T;
  /** The plugin (or "core") that published it. */
  source: string;
  time: string;
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

  constructor(private readonly onHandlerError: (error: unknown, event: GantryEvent) => void) {}

  /** Subscribes to a type or pattern; returns the unsubscribe function. */
  subscribe(pattern: string, handler: EventHandler): () => void {
    const sub = { pattern, handler };
    this.#subscriptions.add(sub);
    return () => this.#subscriptions.delete(sub);
  }

  /** Delivers an event to every matching subscriber; a failing handler never affects the others. */
  publish<T>(type: string, data: T, source = "core"): GantryEvent<T> {
    const event: GantryEvent<T> = { id: this.#nextId++, type, data, source, time: new Date().toISOString() };
    for (const { pattern, handler } of this.#subscriptions) {
      if (!matchesPattern(pattern, type)) continue;
      try {
        const result = handler(event);
        if (result instanceof Promise) result.catch((error) => this.onHandlerError(error, event));
      } catch (error) {
        this.onHandlerError(error, event);
      }
    }
    return event;
  }

  /** True when a publish of `type` would reach anyone: work that only feeds an event can be skipped otherwise. */
  hasSubscribers(type: string): boolean {
    for (const { pattern } of this.#subscriptions) if (matchesPattern(pattern, type)) return true;
    return false;
  }

  get subscriberCount(): number {
    return this.#subscriptions.size;
  }
}
