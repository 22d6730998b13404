/** The runtime seam on Deno 2: Deno.serve with a swappable handler, node:sqlite, argon2id in WebAssembly, node:child_process. */
import type { AnyElysia } from "elysia";
import { spawn as spawnChild } from "node:child_process";
import { createHmac } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { basename, dirname, join, matchesGlob, relative } from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { hashArgon2id, verifyArgon2 } from "./argon2-wasm.ts";
import { openNodeSqlite } from "./node-sqlite.ts";
import { upgrader, withUpgrades } from "./deno-websocket.ts";
import type { HttpListener, ListenOptions, Runtime, Subprocess, SubprocessOptions } from "./types.ts";

/** The part of Deno's global that gantry uses (gantry's type check runs with Bun's types). */
interface DenoServeInfo {
  remoteAddr: { hostname: string };
}
interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
  finished: Promise<void>;
}
declare const Deno: {
  version: { deno: string };
  serve(
    options: { hostname: string; port: number; onListen?: () => void; signal?: AbortSignal },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoServer;
};

async function listen(first: AnyElysia, options: ListenOptions): Promise<HttpListener> {
  let fetch: (request: Request) => Response | Promise<Response> = (request) => first.fetch(request);
  const addresses = new WeakMap<Request, string>();
  const abort = new AbortController();
  // The handler reads `fetch` per request, so swapping the routing table is one assignment.
  const server = Deno.serve({ hostname: options.hostname, port: options.port, onListen() {}, signal: abort.signal }, (request, info) => {
    // An empty body is a stream on Deno and null on Bun; Elysia parses (and refuses) the stream.
    const served = request.body && request.headers.get("content-length") === "0"
      ? new Request(request.url, { method: request.method, headers: request.headers, signal: request.signal })
      : request;
    addresses.set(served, info.remoteAddr.hostname);
    return request.headers.has("upgrade") ? withUpgrades(request, info.remoteAddr.hostname, () => fetch(served)) : fetch(served);
  });
  return {
    port: server.addr.port,
    route(next, app) {
      app.server = upgrader as never; // WebSocket routes upgrade through app.server
      fetch = next;
    },
    clientAddress: (request) => addresses.get(request) ?? null,
    async stop(force) {
      if (force) abort.abort();
      else await server.shutdown();
    },
  };
}

/** Processes signalled to death exit with 128 + the signal's number, as Bun reports them. */
function spawn(command: string[], options: SubprocessOptions): Subprocess {
  const child = spawnChild(command[0]!, command.slice(1), {
    cwd: options.cwd,
    env: options.env as NodeJS.ProcessEnv | undefined,
    stdio: [options.stdin, options.stdout, options.stderr],
    detached: options.detached,
  });
  if (child.pid === undefined) {
    child.on("error", () => {}); // reported here, synchronously, as Bun.spawn does
    throw Object.assign(new Error(`ENOENT: no such file or directory, posix_spawn '${command[0]}'`), { code: "ENOENT" });
  }
  let exitCode: number | null = null;
  let signalCode: string | null = null;
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => {
      exitCode = code;
      signalCode = signal;
      resolve(code ?? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0));
    });
  });
  const web = (stream: Readable | null) => (stream ? (Readable.toWeb(stream) as ReadableStream<Uint8Array>) : undefined);
  const stdin = child.stdin;
  // A write to a child that exited fails with EPIPE: unheard, that error would end gantry (Bun drops it).
  stdin?.on("error", () => {});
  return {
    pid: child.pid,
    stdin: stdin ? { write: (chunk) => stdin.write(chunk), flush: () => undefined, end: () => new Promise<void>((resolve) => stdin.end(resolve)) } : undefined,
    stdout: web(child.stdout),
    stderr: web(child.stderr),
    exited,
    get exitCode() {
      return exitCode;
    },
    get signalCode() {
      return signalCode;
    },
    kill: (signal) => void child.kill(signal),
  };
}

/** Reload generations per plugin folder; generation 0 imports the folder itself. */
const generations = new Map<string, number>();
/** Named after the plugin and this process, so gantries sharing an install never touch each other's copies. */
const copyName = (dir: string, generation: number, pid = process.pid) => `.gantry-reload-${basename(dir)}-${pid}-${generation}`;

/** The copies this process made, removed when it exits. */
const copies = new Set<string>();
process.on("exit", () => {
  for (const copy of copies) rmSync(copy, { recursive: true, force: true });
});

/** Copies of `dir` left by processes that are gone (killed before they could remove theirs). */
function staleCopies(dir: string): string[] {
  const prefix = `.gantry-reload-${basename(dir)}-`;
  return readdirSync(dirname(dir)).filter((name) => {
    const pid = Number(name.startsWith(prefix) ? name.slice(prefix.length).split("-")[0] : NaN);
    if (!Number.isInteger(pid)) return false;
    try {
      process.kill(pid, 0);
      return pid === process.pid;
    } catch (error) {
      return (error as { code?: string }).code === "ESRCH";
    }
  });
}

/**
 * Deno caches modules by URL and has no cache to clear, so each reload imports a fresh copy of
 * the plugin's files, made beside its folder (`<parent>/.gantry-reload-<name>-<pid>-<n>/`): new URLs for
 * every module of the plugin, at the same depth, so imports that leave the folder still resolve.
 * A copy rather than a symlink, because Deno's sandbox grants symlinks only with unscoped read
 * and write; a plugin's own node_modules is linked into the copy (that part needs those grants).
 * plugin.json stays out, so the copy is never taken for a plugin folder.
 */
async function importFresh(dir: string, entry: string): Promise<unknown> {
  const parent = dirname(dir);
  const generation = generations.get(dir);
  if (generation === undefined) {
    generations.set(dir, 0);
    for (const name of staleCopies(dir)) rmSync(join(parent, name), { recursive: true, force: true });
    return import(entry);
  }
  const next = generation + 1;
  generations.set(dir, next);
  const copy = join(parent, copyName(dir, next));
  mkdirSync(copy, { recursive: true });
  copies.add(copy);
  for (const name of readdirSync(dir)) {
    if (name === "plugin.json") continue;
    if (name === "node_modules") symlinkSync(join(dir, name), join(copy, name), "dir");
    else copyTree(join(dir, name), join(copy, name));
  }
  // The generation before stays: the running version may still import its files lazily.
  rmSync(join(parent, copyName(dir, next - 2)), { recursive: true, force: true });
  copies.delete(join(parent, copyName(dir, next - 2)));
  return import(join(copy, relative(dir, entry)));
}

/** Copies a file or folder (node:fs cpSync stats every parent of the target up to `/`, which a scoped --allow-read refuses). */
function copyTree(from: string, to: string): void {
  if (!statSync(from).isDirectory()) return copyFileSync(from, to);
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) copyTree(join(from, name), join(to, name));
}

const require = createRequire(import.meta.url);

export const denoRuntime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  listen,
  openSqlite: openNodeSqlite,
  hashPassword: hashArgon2id,
  verifyPassword: verifyArgon2,
  spawn,
  // deno.json's import map names gantry/plugin for every module, wherever its file lives.
  mapPluginImports: () => undefined,
  importFresh,
  keyedHash: (text, seed) => createHmac("sha256", seed.toString(16)).update(text).digest().readBigUInt64LE(),
  globMatch: (pattern, path) => matchesGlob(path, pattern),
  workerUrl: (fromRoot) => pathToFileURL(join(import.meta.dirname, "..", "..", fromRoot)).href,
  quickjsWasm: async () => new Uint8Array(await readFile(require.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"))),
  // Deno's fetch takes no TLS server name apart from the URL's host, so it connects by name: the
  // guard's check stands, but a DNS answer that changes between the check and the connection is not caught.
  fetchAt: (url, _address, init) => fetch(url, init),
};
