/** The listening socket and hot swap of the routing table (rebuild the app, then route the runtime's listener to it). */
import type { AnyElysia } from "elysia";
import { runtime, type HttpListener } from "../runtime/index.ts";
import { Errors } from "../kernel/errors.ts";
import type { DirectHandler } from "./direct-routes.ts";

/**
 * `request` with its body cut off by PAYLOAD_TOO_LARGE past `limit` bytes. For bodies sent without
 * Content-Length (chunked), which the 413 check on that header cannot see.
 */
function withBodyLimit(request: Request, limit: number): Request {
  let seen = 0;
  const body = request.body!.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > limit) controller.error(Errors.PAYLOAD_TOO_LARGE([limit]));
      else controller.enqueue(chunk);
    },
  }));
  return new Request(request, { body, signal: request.signal, duplex: "half" } as RequestInit);
}

/**
 * Elysia reads the path from a fixed offset (`url.indexOf("/", 11)`, the length of `http://a.bc`):
 * with a Host of 0–3 characters it skips the path's first segment, so `/zz/env` served `/env` and a
 * front proxy filtering by path prefix could be bypassed. Such URLs are rebuilt on a host long
 * enough; the Host header itself is left as the client sent it. Undefined when the URL is fine.
 */
export function canonicalUrl(url: string): string | undefined {
  const scheme = url.indexOf("://");
  // Bun hands over only the path when the Host header is empty.
  if (scheme < 0) return `http://localhost${url.startsWith("/") ? url : `/${url}`}`;
  const pathStart = url.indexOf("/", scheme + 3);
  if (pathStart >= 11) return undefined;
  return `http://localhost${pathStart < 0 ? "/" : url.slice(pathStart)}`;
}

/** The path of a request URL (Bun hands over absolute ones), without parsing the whole URL. */
export function pathOfUrl(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  const hash = url.indexOf("#", start);
  const end = query < 0 ? hash : hash < 0 ? query : Math.min(query, hash);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/** The request line's URL plus each header as `name: value\r\n`, as Bun counts them for its own 431. */
function headerBytes(request: Request): number {
  let bytes = request.url.length;
  request.headers.forEach((value, name) => (bytes += name.length + value.length + 4));
  return bytes;
}

/**
 * 431 in gantry's error shape. Bun answers 431 itself, with an empty body, past its
 * --max-http-header-size; `npm start` raises that backstop so this check answers first.
 */
function headersTooLarge(limit: number): Response {
  return Response.json(Errors.HEADERS_TOO_LARGE([limit]).toJSON(), { status: 431 });
}

export class RoutingServer {
  #app: AnyElysia | undefined;
  #direct = new Map<string, DirectHandler>();
  #server: HttpListener | undefined;
  /**
   * Client addresses of requests rebuilt with a limited body, read on arrival: requestIP answers only
   * for the request Bun handed over, and not once a refused upload has closed the connection.
   */
  readonly #addresses = new WeakMap<Request, string | null>();

  /** The limits are read per request, so a config reload applies to the next one. */
  constructor(private readonly limits: () => { bodyLimitBytes: number; headerLimitBytes: number }) {}

  /** The app that currently serves (or will, once listening). */
  get app(): AnyElysia | undefined {
    return this.#app;
  }

  get server(): HttpListener | undefined {
    return this.#server;
  }

  /** The client's address, also for requests whose body was wrapped. */
  clientIp(request: Request): string | null {
    const wrapped = this.#addresses.get(request);
    return wrapped !== undefined ? wrapped : (this.#server?.clientAddress(request) ?? null);
  }

  readonly #fetch = (request: Request) => {
    const headerLimit = this.limits().headerLimitBytes;
    if (headerBytes(request) > headerLimit) return headersTooLarge(headerLimit);
    const canonical = canonicalUrl(request.url);
    // `request.body` is read only when there is no Content-Length: touching it makes Bun build a stream, and reading the body through it costs ~4 µs more.
    const chunked = !request.headers.has("content-length") && request.method !== "GET" && request.method !== "HEAD" && request.body !== null;
    if (!canonical && !chunked) return this.#serve(request);
    let served = canonical ? new Request(canonical, request) : request;
    if (chunked) served = withBodyLimit(served, this.limits().bodyLimitBytes);
    this.#addresses.set(served, this.#server?.clientAddress(request) ?? null);
    return this.#serve(served);
  };

  /** A direct route when one matches the method and path exactly, else the app. */
  #serve(request: Request): Response | Promise<Response> {
    if (this.#direct.size > 0) {
      const path = pathOfUrl(request.url);
      const direct = this.#direct.get(`${request.method} ${path}`);
      if (direct) return direct(request, path);
    }
    return this.#app!.fetch(request);
  }

  /** Serves one request in process, as a client's would be (direct routes included). */
  handle(request: Request): Promise<Response> {
    return Promise.resolve(this.#serve(request));
  }

  /** Makes `next` the serving app, with the routes core serves directly. Requests in flight finish on the old one. */
  swap(next: AnyElysia, direct: Map<string, DirectHandler> = new Map()): void {
    const old = this.#app;
    this.#app = next;
    this.#direct = direct;
    if (old !== next) this.#server?.route(this.#fetch, next);
  }

  async listen(hostname: string, port: number, maxRequestBodySize: number): Promise<HttpListener> {
    const app = this.#app;
    if (!app) throw new Error("RoutingServer.listen: no app to serve");
    this.#server = await runtime.listen(app, { hostname, port, maxRequestBodySize });
    // Every request through #fetch (Elysia's own static `routes` would bypass it and the swap).
    this.#server.route(this.#fetch, app);
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
