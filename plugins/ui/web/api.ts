/** gantry's public API from the browser: bearer tokens from sign-in, refreshed quietly before they expire, and the error shape. */

const STORE = "gantry.session";

export interface Session {
  access: string;
  refresh: string;
  /** Milliseconds since the epoch when the access token expires. */
  expiresAt: number;
  username: string;
}

interface Issued {
  access_token: string;
  refresh_token: string;
  expires_at: string;
  /** Sent by sign-in, not by a refresh. */
  user?: { username: string };
}

/** An answer in gantry's `{error, code, details}` shape (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details: unknown = null) {
    super(message);
  }
}

let session: Session | null = read();
let refreshing: Promise<void> | null = null;
const listeners = new Set<(s: Session | null) => void>();

function read(): Session | null {
  try {
    return JSON.parse(localStorage.getItem(STORE) ?? "null") as Session | null;
  } catch {
    return null;
  }
}

function save(next: Session | null): void {
  session = next;
  if (next) localStorage.setItem(STORE, JSON.stringify(next));
  else localStorage.removeItem(STORE);
  for (const listener of listeners) listener(next);
}

const fromIssued = (issued: Issued, username = issued.user?.username ?? ""): Session => ({
  access: issued.access_token, refresh: issued.refresh_token, expiresAt: Date.parse(issued.expires_at), username,
});

export const currentSession = () => session;
/** Called when the user signs in or out (or a refresh fails and the session ends). */
export function onSession(listener: (s: Session | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: string; details?: unknown };
    const message = typeof body.error === "string" ? body.error : (body.error as { message?: string } | undefined)?.message;
    return new ApiError(res.status, body.code ?? `HTTP_${res.status}`, message ?? text, body.details ?? null);
  } catch {
    return new ApiError(res.status, `HTTP_${res.status}`, text || res.statusText);
  }
}

export async function signIn(username: string, password: string): Promise<void> {
  const res = await fetch("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  if (!res.ok) throw await errorOf(res);
  save(fromIssued((await res.json()) as Issued));
}

/**
 * Finishes single sign-on: the provider sent the browser to /ui/oidc-callback (the redirect URI configured for
 * the dashboard) with a code; gantry's callback exchanges it and answers a session, kept like a password sign-in.
 */
export async function completeOidc(search: string): Promise<void> {
  const res = await fetch(`/api/v1/auth/oidc/callback${search}`);
  if (!res.ok) throw await errorOf(res);
  save(fromIssued((await res.json()) as Issued));
}

export async function signOut(): Promise<void> {
  const token = session?.access;
  save(null);
  if (token) await fetch("/api/v1/auth/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } }).catch(() => {});
}

/** Rotates the refresh token; one refresh at a time, shared by every caller that needs it. */
function refresh(): Promise<void> {
  refreshing ??= (async () => {
    const current = session;
    if (!current) throw new ApiError(401, "UNAUTHORIZED", "Signed out");
    const res = await fetch("/api/v1/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: current.refresh }) });
    if (!res.ok) {
      save(null);
      throw await errorOf(res);
    }
    save(fromIssued((await res.json()) as Issued, current.username));
  })().finally(() => (refreshing = null));
  return refreshing;
}

/** A valid access token, refreshed first when it expires within 30 s. */
export async function accessToken(): Promise<string> {
  if (!session) throw new ApiError(401, "UNAUTHORIZED", "Sign in first");
  if (session.expiresAt - Date.now() < 30_000) await refresh();
  return session!.access;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
}

export function urlOf(path: string, query?: CallOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A request with the session's token; one quiet refresh and retry on 401. */
export async function raw(path: string, options: CallOptions = {}, retry = true): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${await accessToken()}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(urlOf(path, options.query), {
      method: options.method ?? "GET", headers, signal: options.signal,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "NETWORK", `gantry did not answer: ${(error as Error).message}`);
  }
  if (res.status === 401 && retry && session) {
    await refresh();
    return raw(path, options, false);
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** A JSON call; throws ApiError for a non-2xx answer. */
export async function call<T = unknown>(path: string, options: CallOptions = {}): Promise<T> {
  const res = await raw(path, options);
  const type = res.headers.get("content-type") ?? "";
  return (type.includes("json") ? await res.json() : await res.text()) as T;
}

/** Reads a server-sent-events body, handing each `data:` payload over as it arrives. */
export async function readEvents(res: Response, onData: (data: string) => void): Promise<void> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) onData(data);
    }
  }
}
