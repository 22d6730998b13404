/**
 * Elysia's WebSocket routes on Deno. Elysia implements them in its Bun adapter only, where they
 * need just one thing of Bun's: `server.upgrade(request, { headers, data })` followed by calls of
 * `data.open/message/close` with a socket. This file gives Elysia's web-standard adapter those
 * routes and plays that server with `Deno.upgradeWebSocket`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { BunAdapter } from "elysia/adapter/bun";
import { WebStandardAdapter } from "elysia/adapter/web-standard";

interface UpgradeData {
  open?(ws: BunStyleSocket): unknown;
  message?(ws: BunStyleSocket, message: string | ArrayBuffer): unknown;
  close?(ws: BunStyleSocket, code: number, reason: string): unknown;
}

declare const Deno: {
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
};

/** Once, before any app declares a WebSocket route. */
(WebStandardAdapter as { ws?: unknown }).ws = BunAdapter.ws;

/** The socket as Bun's ServerWebSocket looks to Elysia (no pub/sub topics). */
class BunStyleSocket {
  constructor(readonly raw: WebSocket, readonly data: UpgradeData, readonly remoteAddress: string) {}
  get readyState(): number {
    return this.raw.readyState;
  }
  send(message: string | ArrayBufferLike | ArrayBufferView): number {
    if (this.raw.readyState !== WebSocket.OPEN) return 0;
    this.raw.send(message as string);
    return typeof message === "string" ? message.length : (message as ArrayBuffer).byteLength;
  }
  sendText(message: string): number {
    return this.send(message);
  }
  sendBinary(message: ArrayBufferLike | ArrayBufferView): number {
    return this.send(message);
  }
  close(code?: number, reason?: string): void {
    this.raw.close(code, reason);
  }
  terminate(): void {
    this.raw.close();
  }
  ping(): number {
    return 0;
  }
  pong(): number {
    return 0;
  }
  cork<T>(callback: (ws: this) => T): T {
    return callback(this);
  }
  subscribe(): void {}
  unsubscribe(): void {}
  isSubscribed(): boolean {
    return false;
  }
  publish(): number {
    return 0;
  }
  publishText(): number {
    return 0;
  }
  publishBinary(): number {
    return 0;
  }
  get subscriptions(): string[] {
    return [];
  }
  get binaryType(): string {
    return this.raw.binaryType;
  }
}

/** Where `upgrade` leaves the 101 response for the request being handled. */
const pending = new AsyncLocalStorage<Slot>();

interface Slot {
  /** The request as Deno.serve handed it over (gantry may pass a rebuilt copy to Elysia). */
  request: Request;
  address: string;
  response?: Response;
}

/** What Elysia's WebSocket route handler calls `server`. */
export const upgrader = {
  upgrade(request: Request, options: { headers?: Record<string, string>; data: UpgradeData }): boolean {
    const slot = pending.getStore();
    if (!slot || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return false;
    const { socket, response } = Deno.upgradeWebSocket(slot.request);
    for (const [name, value] of Object.entries(options.headers ?? {})) response.headers.set(name, value);
    const ws = new BunStyleSocket(socket, options.data, slot.address);
    socket.onopen = () => void options.data.open?.(ws);
    socket.onmessage = (event) => void options.data.message?.(ws, event.data);
    socket.onclose = (event) => void options.data.close?.(ws, event.code, event.reason);
    slot.response = response;
    return true;
  },
  requestIP: () => null,
};

/** Runs `handle`; answers with the upgrade response when a WebSocket route upgraded the request. */
export async function withUpgrades(request: Request, address: string, handle: () => Response | Promise<Response>): Promise<Response> {
  const slot: Slot = { request, address };
  const answer = await pending.run(slot, handle);
  return slot.response ?? answer;
}
