/** The listening socket and hot swap of the routing table (see NOTES-bun.md: rebuild the app, reload the server). */
import type { AnyElysia } from "elysia";
import type { Server } from "bun";

export class RoutingServer {
  #app: AnyElysia | undefined;
  #server: Server<unknown> | undefined;

  /** The app that currently serves (or will, once listening). */
  get app(): AnyElysia | undefined {
    return this.#app;
  }

  get server(): Server<unknown> | undefined {
    return this.#server;
  }

  /** Makes `next` the serving app. Requests in flight finish on the old one. */
  swap(next: AnyElysia): void {
    const old = this.#app;
    this.#app = next;
    if (!this.#server) return;
    next.server = this.#server; // WebSocket upgrades look at app.server
    this.#server.reload({ fetch: next.fetch, routes: {} } as never);
    // Else a later old.compile() would swap the old fetch back in.
    if (old && old !== next) old.server = null;
  }

  async listen(hostname: string, port: number, maxRequestBodySize: number): Promise<Server<unknown>> {
    const app = this.#app;
    if (!app) throw new Error("RoutingServer.listen: no app to serve");
    app.listen({ hostname, port, maxRequestBodySize });
    await app.modules;
    this.#server = app.server as Server<unknown>;
    return this.#server;
  }

  /** Stops accepting connections and waits up to `timeoutMs` for in-flight requests, then closes the rest. */
  async stop(timeoutMs: number): Promise<boolean> {
    const server = this.#server;
    if (!server) return true;
    this.#server = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceful = await Promise.race([
      server.stop(false).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!graceful) await server.stop(true);
    return graceful;
  }
}
