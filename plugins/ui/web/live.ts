/** One WebSocket to /api/v1/ws for the whole app, reconnected with capped backoff; pages subscribe by event type. */
import { useEffect, useRef, useState } from "preact/hooks";
import { accessToken, currentSession } from "./api.ts";

export interface LiveEvent<T = Record<string, unknown>> {
  id: number;
  type: string;
  data: T;
  source: string;
  time: string;
}

type Handler = (event: LiveEvent) => void;

const handlers = new Set<{ types: string[]; handler: Handler }>();
const statusListeners = new Set<(up: boolean) => void>();
let socket: WebSocket | null = null;
let delay = 500;
let wanted = false;
let up = false;

const matches = (pattern: string, type: string) => pattern === "*" || pattern === type || (pattern.endsWith("*") && type.startsWith(pattern.slice(0, -1)));

function setUp(next: boolean): void {
  up = next;
  for (const listener of statusListeners) listener(next);
}

/** Tries again after a capped, growing delay (a dropped socket, or no token to connect with). */
function retryLater(): void {
  if (!wanted) return;
  setTimeout(() => void open(), delay);
  delay = Math.min(15_000, delay * 1.5);
}

async function open(): Promise<void> {
  if (!wanted || socket) return;
  let token: string;
  try {
    token = await accessToken();
  } catch {
    retryLater(); // a refresh that failed or was refused for now must not leave the app offline for good
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // Browsers cannot set headers on a WebSocket; gantry reads the same credential from ?api_key=.
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?api_key=${encodeURIComponent(token)}`);
  socket = ws;
  // A handshake that never completes would hold `socket` forever (no close, so no retry): give it up after a while.
  const giveUp = setTimeout(() => {
    if (ws.readyState === WebSocket.CONNECTING) ws.close();
  }, 5000);
  ws.onopen = () => {
    clearTimeout(giveUp);
    delay = 500;
    setUp(true);
  };
  ws.onmessage = (message) => {
    const event = JSON.parse(String(message.data)) as LiveEvent;
    for (const { types, handler } of handlers) if (types.some((t) => matches(t, event.type))) handler(event);
  };
  ws.onclose = () => {
    clearTimeout(giveUp);
    socket = null;
    setUp(false);
    retryLater();
  };
}

/** Connects while someone is signed in; `stop` on sign-out. */
export function startLive(): void {
  wanted = true;
  void open();
}

export function stopLive(): void {
  wanted = false;
  socket?.close();
  socket = null;
}

/** Calls `handler` for every event whose type matches one of `types` ("instance_*" matches by prefix). */
export function subscribe(types: string[], handler: Handler): () => void {
  const entry = { types, handler };
  handlers.add(entry);
  return () => handlers.delete(entry);
}

/** The latest handler for the given types, for as long as the component is mounted. */
export function useEvents(types: string[], handler: Handler): void {
  const latest = useRef(handler);
  latest.current = handler;
  const key = types.join(",");
  useEffect(() => subscribe(key.split(","), (event) => latest.current(event)), [key]);
}

/** Whether the event stream is connected (shown in the header). */
export function useLiveStatus(): boolean {
  const [state, setState] = useState(up);
  useEffect(() => {
    statusListeners.add(setState);
    setState(up); // the socket may have opened between the first render and this effect: that change had no listener
    return () => void statusListeners.delete(setState);
  }, []);
  return state && currentSession() !== null;
}
