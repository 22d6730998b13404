/** The runtime seam on Bun: Bun.serve through Elysia with `server.reload`, bun:sqlite, Bun.password, Bun.spawn, Bun.plugin. */
import { Database } from "bun:sqlite";
import type { Server } from "bun";
import type { AnyElysia } from "elysia";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import wasmPath from "@jitl/quickjs-wasmfile-release-sync/wasm" with { type: "file" };
import { embeddedModule } from "./embedded.ts";
import type { HttpListener, ListenOptions, Runtime, SqliteDatabase, Subprocess, SubprocessOptions } from "./types.ts";

async function listen(first: AnyElysia, options: ListenOptions): Promise<HttpListener> {
  // Elysia turns on SO_REUSEPORT: a second gantry on the same port would then start "fine" and
  // take half the connections. Off, it fails with EADDRINUSE. No development error pages either.
  first.listen({ ...options, reusePort: false, development: false });
  await first.modules; // never swap in the same tick as listen()
  const server = first.server as Server<unknown>;
  let current: AnyElysia | undefined;
  return {
    port: server.port!,
    route(fetch, app) {
      app.server = server; // WebSocket upgrades look at app.server
      // Every request through `fetch`: Bun's own router keeps the routes app.listen() gave it otherwise.
      server.reload({ fetch, routes: {} } as never);
      // Else a later old.compile() would swap the old fetch back in.
      if (current && current !== app) current.server = null;
      current = app;
    },
    clientAddress: (request) => server.requestIP(request)?.address ?? null,
    stop: (force) => server.stop(force),
  };
}

/** A single binary made by `bun build --compile`: its modules live in Bun's embedded file system. */
const COMPILED = import.meta.url.startsWith("file:///$bunfs/") || import.meta.url.startsWith("file:///%24bunfs/");
const SOURCE_ROOT = resolve(import.meta.dirname, "..", "..");

/** Source files under these folders get `gantry/plugin` and `gantry/runtime` rewritten to core's absolute paths. */
const mappedFolders = new Set<string>();
const TARGETS = { plugin: join(import.meta.dirname, "..", "plugin-api.ts"), runtime: join(import.meta.dirname, "index.ts") };
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*)(["'])gantry\/(plugin|runtime)\2/g;
const LOADERS = { ts: "ts", tsx: "tsx", js: "js", mjs: "js", jsx: "jsx" } as const;

/** Bun's runtime onResolve does not see bare specifiers outside node_modules lookups, so an onLoad hook scoped to the folder rewrites that one specifier. */
function mapPluginImports(dir: string): void {
  if (COMPILED) return mapVirtualModules();
  if (mappedFolders.has(dir)) return;
  mappedFolders.add(dir);
  const escaped = dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  Bun.plugin({
    name: `gantry-plugin-api:${dir}`,
    setup(build) {
      build.onLoad({ filter: new RegExp(`^${escaped}/.*\\.(ts|tsx|js|mjs|jsx)$`) }, async ({ path }) => {
        const extension = path.slice(path.lastIndexOf(".") + 1) as keyof typeof LOADERS;
        const source = await readFile(path, "utf8");
        return { contents: source.replace(SPECIFIER, (_, lead: string, _quote: string, name: keyof typeof TARGETS) => `${lead}${JSON.stringify(TARGETS[name])}`), loader: LOADERS[extension] };
      });
    },
  });
}

let virtualModules = false;

/** In the single binary core's files are not on disk: `gantry/plugin` and `gantry/runtime` become virtual modules of the compiled-in ones. */
function mapVirtualModules(): void {
  if (virtualModules) return;
  virtualModules = true;
  Bun.plugin({
    name: "gantry-plugin-api",
    setup(build) {
      build.module("gantry/plugin", async () => ({ exports: { ...(await import("../plugin-api.ts")) }, loader: "object" }));
      build.module("gantry/runtime", async () => ({ exports: { ...(await import("./index.ts")) }, loader: "object" }));
    },
  });
}

/** Drops every cached module under `dir`, so importing the entry again re-evaluates the whole plugin graph. */
async function importFresh(dir: string, entry: string): Promise<unknown> {
  const embedded = embeddedModule(entry); // a built-in plugin of the single binary: its code cannot change
  if (embedded) return embedded;
  const prefix = dir + "/";
  for (const key of Object.keys(require.cache)) if (key.startsWith(prefix)) delete require.cache[key];
  return import(entry);
}

function spawn(command: string[], options: SubprocessOptions): Subprocess {
  return Bun.spawn(command, options) as unknown as Subprocess;
}

/** The request goes to `address`; Host and the TLS server name (SNI and the certificate check) stay the URL's host. */
function fetchAt(url: URL, address: string, init: RequestInit): Promise<Response> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === address) return fetch(url, init);
  const pinned = new URL(url);
  pinned.hostname = address.includes(":") ? `[${address}]` : address;
  const headers = new Headers(init.headers);
  headers.set("host", url.host);
  const tls = (init as { tls?: object }).tls; // a caller's own TLS options (a private CA) are kept
  return fetch(pinned, { ...init, headers, ...(url.protocol === "https:" ? { tls: { ...tls, serverName: host } } : {}) } as RequestInit);
}

export const bunRuntime: Runtime = {
  name: "bun",
  version: Bun.version,
  listen,
  openSqlite: (path, options = {}) =>
    new Database(path, options.readonly ? { readonly: true, strict: true } : { create: true, strict: true }) as unknown as SqliteDatabase,
  hashPassword: (password) => Bun.password.hash(password, { algorithm: "argon2id" }),
  verifyPassword: (password, hash) => Bun.password.verify(password, hash).catch(() => false),
  spawn,
  mapPluginImports,
  importFresh,
  keyedHash: (text, seed) => Bun.hash(text, seed) as bigint,
  globMatch: (pattern, path) => new Bun.Glob(pattern).match(path),
  workerUrl: (fromRoot) => (COMPILED ? `/$bunfs/root/${fromRoot}` : pathToFileURL(join(SOURCE_ROOT, fromRoot)).href),
  // Imported "with { type: 'file' }" so `bun build --compile` embeds it.
  quickjsWasm: async () => new Uint8Array(await readFile(wasmPath)),
  fetchAt,
};
