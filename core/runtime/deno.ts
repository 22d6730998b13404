/** The runtime seam on Deno 2: Deno.serve with a swappable handler, node:sqlite, argon2id in WebAssembly, node:child_process. */
import type { AnyElysia } from "elysia";
import { spawn as spawnChild } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { join, matchesGlob, relative } from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { hashArgon2id, verifyArgon2 } from "./argon2-wasm.ts";
import { openNodeSqlite } from "./node-sqlite.ts";
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
    return fetch(served);
  });
  return {
    port: server.addr.port,
    route(next) {
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
const RELOAD_COPIES = ".gantry-reload";

/**
 * Deno caches modules by URL and has no cache to clear, so each reload imports a fresh copy of
 * the plugin's files (`<plugin>/.gantry-reload/<n>/`): new URLs for every module of the plugin,
 * while npm packages still resolve from the plugin's folder and above. A copy rather than a
 * symlink, because Deno's sandbox grants symlinks only with unscoped read and write permissions.
 */
async function importFresh(dir: string, entry: string): Promise<unknown> {
  const copies = join(dir, RELOAD_COPIES);
  const generation = generations.get(dir);
  if (generation === undefined) {
    generations.set(dir, 0);
    rmSync(copies, { recursive: true, force: true }); // left by an earlier process
    return import(entry);
  }
  const next = generation + 1;
  generations.set(dir, next);
  const copy = join(copies, String(next));
  for (const name of readdirSync(dir)) if (name !== "node_modules" && name !== RELOAD_COPIES) cpSync(join(dir, name), join(copy, name), { recursive: true });
  // The generation before stays: the running version may still import its files lazily.
  rmSync(join(copies, String(next - 2)), { recursive: true, force: true });
  return import(join(copy, relative(dir, entry)));
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
};
