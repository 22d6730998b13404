/** The CLI's HTTP client: base URL and credential resolution, token refresh, and errors people can read. */
import { readStored, writeStored, type StoredCredentials } from "./cli-config.ts";

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export interface ClientOptions {
  url?: string;
  key?: string;
}

export class ApiClient {
  readonly url: string;
  #stored: StoredCredentials;
  #credential: string | undefined;

  constructor(options: ClientOptions, env = process.env) {
    this.#stored = readStored(env);
    this.url = (options.url ?? env.GANTRY_URL ?? this.#stored.url ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    this.#credential = options.key ?? env.GANTRY_API_KEY ?? this.#stored.api_key ?? this.#stored.access_token;
    this.env = env;
  }

  private readonly env: NodeJS.ProcessEnv;

  /** Sends a request; on 401 with a stored refresh token, refreshes once and retries. Throws CliError for any error status. */
  async request<T = unknown>(method: string, path: string, body?: unknown, options: { auth?: boolean } = {}): Promise<T> {
    let res = await this.#send(method, path, body, options.auth !== false);
    if (res.status === 401 && options.auth !== false && this.#usingStoredSession() && (await this.#refresh())) {
      res = await this.#send(method, path, body, true);
    }
    if (!res.ok) throw await errorOf(res);
    const text = await res.text();
    try {
      return (text ? JSON.parse(text) : null) as T;
    } catch {
      return text as T; // a text body (TOML, some seed routes' text/plain)
    }
  }

  /** Sends a request and hands back the response to read as a stream (server-sent events); error statuses throw CliError. */
  async open(method: string, path: string, body?: unknown): Promise<Response> {
    let res = await this.#send(method, path, body, true);
    if (res.status === 401 && this.#usingStoredSession() && (await this.#refresh())) res = await this.#send(method, path, body, true);
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  async #send(method: string, path: string, body: unknown, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = {};
    if (auth && this.#credential) headers.authorization = `Bearer ${this.#credential}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      const reason = (error as { code?: string }).code ?? (error as Error).message;
      throw new CliError(`Cannot reach gantry at ${this.url} (${reason}). Is it running? Set --url or GANTRY_URL.`);
    }
  }

  #usingStoredSession(): boolean {
    return this.#credential !== undefined && this.#credential === this.#stored.access_token && Boolean(this.#stored.refresh_token);
  }

  async #refresh(): Promise<boolean> {
    const res = await this.#send("POST", "/api/v1/auth/refresh", { refresh_token: this.#stored.refresh_token }, false);
    if (!res.ok) return false;
    const session = (await res.json()) as { access_token: string; refresh_token: string };
    this.#stored = { ...this.#stored, access_token: session.access_token, refresh_token: session.refresh_token };
    this.#credential = session.access_token;
    writeStored(this.#stored, this.env);
    return true;
  }
}

/** An error answer as people read it: gantry's `{error, code}` message, or the status and body. */
async function errorOf(res: Response): Promise<CliError> {
  const text = await res.text();
  let error: { error?: string; code?: string } | string | null = text;
  try {
    error = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  // OpenAI's shape, which the inference endpoint answers: {error: {message, code}}
  const nested = typeof error === "object" && error?.error && typeof error.error === "object" ? (error.error as { message?: string; code?: string | null }) : undefined;
  if (nested?.message) error = { error: nested.message, code: nested.code ?? undefined };
  const message = typeof error === "object" && error?.error ? `${error.error}${error.code ? ` (${error.code})` : ""}` : `${res.status} ${String(error || res.statusText)}`;
  const hint = res.status === 401 ? "\nLog in with `gantry login`, or pass --key / set GANTRY_API_KEY." : "";
  return new CliError(message + hint);
}
