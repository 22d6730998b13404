/**
 * Messages between the nodes of a cluster over PostgreSQL LISTEN/NOTIFY. A message larger than a
 * NOTIFY payload may be (8000 bytes) is stored in cluster_messages and sent by reference. A node
 * never acts on its own messages (NOTIFY reaches the sender too).
 */
import type postgres from "postgres";
import type { Logger } from "../kernel/logger.ts";
import { messageOf } from "../kernel/errors.ts";

/** What goes on the wire: the sending node, a kind ("event", "sessions.revoked", ...) and JSON data. */
export interface ClusterMessage {
  node: string;
  kind: string;
  data: unknown;
}

/** Payloads above this go by reference (NOTIFY refuses more than 8000 bytes; keep room for the envelope). */
export const INLINE_PAYLOAD_LIMIT = 7900;

type Handler = (data: unknown, from: string) => void | Promise<void>;

export class ClusterChannel {
  readonly #handlers = new Map<string, Set<Handler>>();
  #unlisten: (() => Promise<void>) | undefined;
  readonly #sending = new Set<Promise<void>>();
  readonly counts = { sent: 0, received: 0, by_reference: 0 };

  constructor(private readonly pg: postgres.Sql, readonly channel: string, private readonly nodeId: string, private readonly log: Logger) {}

  async start(): Promise<void> {
    const { unlisten } = await this.pg.listen(this.channel, (payload) => void this.#receive(payload));
    this.#unlisten = unlisten;
  }

  async stop(): Promise<void> {
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    await unlisten?.().catch(() => {});
  }

  /** Runs `handler` for each message of `kind` from another node; returns the unsubscribe function. */
  on(kind: string, handler: Handler): () => void {
    let set = this.#handlers.get(kind);
    if (!set) this.#handlers.set(kind, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Sends to every other node; a failure is logged, never thrown (a lost message equals a late one for callers). */
  send(kind: string, data: unknown): Promise<void> {
    const sending = this.#send(kind, data).finally(() => this.#sending.delete(sending));
    this.#sending.add(sending);
    return sending;
  }

  /** Resolves when every message sent so far has gone out. */
  async flush(): Promise<void> {
    await Promise.all(this.#sending);
  }

  async #send(kind: string, data: unknown): Promise<void> {
    try {
      const text = JSON.stringify({ node: this.nodeId, kind, data } satisfies ClusterMessage);
      if (Buffer.byteLength(text) <= INLINE_PAYLOAD_LIMIT) {
        await this.pg.notify(this.channel, text);
      } else {
        const [row] = await this.pg`INSERT INTO cluster_messages (payload, created_at) VALUES (${text}, now()) RETURNING id`;
        await this.pg.notify(this.channel, JSON.stringify({ node: this.nodeId, ref: Number(row!.id) }));
        this.counts.by_reference++;
      }
      this.counts.sent++;
    } catch (error) {
      this.log.warn({ kind, err: messageOf(error) }, "cluster message not sent");
    }
  }

  /** Deletes stored large messages older than `maxAgeS` (the leader does it). */
  async prune(maxAgeS: number): Promise<void> {
    await this.pg`DELETE FROM cluster_messages WHERE created_at < now() - make_interval(secs => ${maxAgeS})`;
  }

  async #receive(payload: string): Promise<void> {
    try {
      let message = JSON.parse(payload) as ClusterMessage & { ref?: number };
      if (message.node === this.nodeId) return;
      if (message.ref !== undefined) {
        const [row] = await this.pg`SELECT payload FROM cluster_messages WHERE id = ${message.ref}`;
        if (!row) return this.log.warn({ ref: message.ref }, "cluster message by reference is gone (pruned before it was read)");
        message = JSON.parse(row.payload as string) as ClusterMessage;
      }
      this.counts.received++;
      for (const handler of this.#handlers.get(message.kind) ?? []) {
        try {
          await handler(message.data, message.node);
        } catch (error) {
          this.log.warn({ kind: message.kind, from: message.node, err: messageOf(error) }, "cluster message handler failed");
        }
      }
    } catch (error) {
      this.log.warn({ err: messageOf(error) }, "cluster message unreadable");
    }
  }
}
