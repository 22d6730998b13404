/** What gantry needs from the JavaScript runtime it runs on (Bun or Deno): the seam's contract. */
import type { AnyElysia } from "elysia";

/** The listening HTTP socket; the routing table behind it can be swapped while it serves. */
export interface HttpListener {
  readonly port: number;
  /** Answers every new request with `fetch`; `app` is the Elysia app it belongs to (WebSocket upgrades look at it). */
  route(fetch: (request: Request) => Response | Promise<Response>, app: AnyElysia): void;
  /** The client's address of a request this listener handed over (null when unknown). */
  clientAddress(request: Request): string | null;
  /** Stops accepting connections; waits for requests in flight unless `force`. */
  stop(force: boolean): Promise<void>;
}

export interface ListenOptions {
  hostname: string;
  port: number;
  maxRequestBodySize: number;
}

/** A prepared SQLite statement (the subset of bun:sqlite's API that gantry uses). */
export interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Rows as arrays of column values, in column order (duplicate column names kept). */
  values(...params: unknown[]): unknown[][];
  iterate(...params: unknown[]): IterableIterator<unknown>;
  readonly columnNames: string[];
}

/** A SQLite database file (the subset of bun:sqlite's `Database` that gantry uses). */
export interface SqliteDatabase {
  exec(sql: string): void;
  /** A cached prepared statement. */
  query(sql: string): SqliteStatement;
  prepare(sql: string): SqliteStatement;
  /** `fn` wrapped in BEGIN/COMMIT (ROLLBACK when it throws). */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  loadExtension(path: string): void;
  close(): void;
}

export interface SqliteOpenOptions {
  readonly?: boolean;
  /** Load SQLite extensions (sqlite-vec) into this connection. */
  extensions?: boolean;
}

/** A writable pipe into a child's stdin. */
export interface ChildStdin {
  write(chunk: string | Uint8Array): unknown;
  flush(): unknown;
  end(): unknown;
}

/** A child process as the runtime started it: pipes and exit status. */
export interface Subprocess {
  readonly pid: number;
  readonly stdin: ChildStdin | undefined;
  readonly stdout: ReadableStream<Uint8Array> | undefined;
  readonly stderr: ReadableStream<Uint8Array> | undefined;
  /** Resolves with the exit code (signal deaths: 128 + signal number on Bun, null code otherwise). */
  readonly exited: Promise<number>;
  readonly exitCode: number | null;
  readonly signalCode: string | null;
  kill(signal?: NodeJS.Signals | number): void;
}

export interface SubprocessOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdin: "ignore" | "pipe";
  stdout: "ignore" | "pipe" | "inherit";
  stderr: "ignore" | "pipe" | "inherit";
  /** In a process group of its own. */
  detached: boolean;
}

export interface Runtime {
  readonly name: "bun" | "deno";
  readonly version: string;
  listen(app: AnyElysia, options: ListenOptions): Promise<HttpListener>;
  openSqlite(path: string, options?: SqliteOpenOptions): SqliteDatabase;
  /** An argon2id hash in the PHC string format (`$argon2id$v=19$m=...`), verifiable on either runtime. */
  hashPassword(password: string): Promise<string>;
  verifyPassword(password: string, hash: string): Promise<boolean>;
  spawn(command: string[], options: SubprocessOptions): Subprocess;
  /** Makes `import ... from "gantry/plugin"` resolve to this gantry's API for source files under `dir`. */
  mapPluginImports(dir: string): void;
  /** Imports `entry` so that every module under `dir` is evaluated afresh (plugin reload). */
  importFresh(dir: string, entry: string): Promise<unknown>;
  /** A fast keyed 64-bit hash for in-memory lookups (not for storage). */
  keyedHash(text: string, seed: bigint): bigint;
  /** Whether `path` matches the glob `pattern` (`**`, `*`, `?`, `{a,b}`, `[...]`). */
  globMatch(pattern: string, path: string): boolean;
  /**
   * The URL for `new Worker()` of the module at `fromRoot` (its path from gantry's source root,
   * `sandbox/worker.ts`): the single binary embeds workers under that same path.
   */
  workerUrl(fromRoot: string): string;
  /** The QuickJS WebAssembly binary of the script sandbox. */
  quickjsWasm(): Promise<Uint8Array>;
  /**
   * fetch() of `url` over a connection to `address` (an IP the caller checked), with the Host header
   * and TLS server name of the URL's host: no second DNS lookup decides where the request goes.
   */
  fetchAt(url: URL, address: string, init: RequestInit): Promise<Response>;
}
