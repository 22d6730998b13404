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
    const text = await res.text();
    let data: unknown = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // a text body (some seed routes answer text/plain)
    }
    if (!res.ok) {
      const error = data as { error?: string; code?: string } | string | null;
      const message = typeof error === "object" && error?.error ? `${error.error}${error.code ? ` (${error.code})` : ""}` : `${res.status} ${String(error ?? res.statusText)}`;
      const hint = res.status === 401 ? "\nLog in with `gantry login`, or pass --key / set GANTRY_API_KEY." : "";
      throw new CliError(message + hint);
    }
    return data as T;
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
