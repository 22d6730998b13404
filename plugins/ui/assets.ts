/** The built dashboard held in memory: each file with its type, ETag and a gzip copy, answered with caching headers. */
import { readdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { extname, join } from "node:path";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2", ".json": "application/json",
};
/** Hashed names never change content, so browsers may keep them for a year without asking again. */
const IMMUTABLE = "public, max-age=31536000, immutable";
/** The page itself is always revalidated, so a new build's asset names reach the browser at once. */
const REVALIDATE = "no-cache";
/** The app loads only its own files and talks only to this server (HTTP and WebSocket). */
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

interface Asset {
  body: Uint8Array;
  gzip: Uint8Array | null;
  type: string;
  etag: string;
}

function load(path: string): Asset {
  const body = new Uint8Array(readFileSync(path));
  const type = TYPES[extname(path)] ?? "application/octet-stream";
  const compressible = type.startsWith("text/") || type.includes("svg") || type.includes("json");
  return { body, gzip: compressible && body.length > 512 ? gzipSync(body, { level: 9 }) : null, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

export class DashboardAssets {
  readonly #assets = new Map<string, Asset>();
  readonly #index: Asset;

  constructor(distDir: string) {
    this.#index = load(join(distDir, "index.html"));
    for (const name of readdirSync(join(distDir, "assets"))) this.#assets.set(name, load(join(distDir, "assets", name)));
  }

  /** The single-page app's shell, for /ui and every deep link under it. */
  index(request: Request): Response {
    return respond(this.#index, request, { "cache-control": REVALIDATE, "content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
  }

  /** A hashed asset, or undefined when no such file was built. */
  asset(name: string, request: Request): Response | undefined {
    const asset = this.#assets.get(name);
    return asset && respond(asset, request, { "cache-control": IMMUTABLE, "x-content-type-options": "nosniff" });
  }
}

function respond(asset: Asset, request: Request, headers: Record<string, string>): Response {
  const common = { ...headers, etag: asset.etag, vary: "accept-encoding" };
  if (request.headers.get("if-none-match") === asset.etag) return new Response(null, { status: 304, headers: common });
  const gzip = asset.gzip && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
  return new Response(gzip ? asset.gzip : asset.body, {
    headers: { ...common, "content-type": asset.type, ...(gzip ? { "content-encoding": "gzip" } : {}) },
  });
}
