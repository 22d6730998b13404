/**
 * What a pull source means: `hf:<org>/<repo>/<file>` (one file), `hf:<org>/<repo>[/<folder>]` (every file of
 * the repository or folder: a safetensors model), or an http(s) URL. A hub source is looked up in the
 * hub's tree listing (`/api/models/<repo>/tree/main?recursive=true`), which gives each file's size and,
 * for LFS files, its SHA-256.
 */
import { basename, join } from "node:path";
import { createError, defineErrors, GantryError, OutboundErrors, redactSecrets, type CoreOutboundService } from "gantry/plugin";

export const PullErrors = defineErrors("instances", {
  PULL_SOURCE_INVALID: createError("PULL_SOURCE_INVALID", 400, (source: string, why: string) => `Cannot pull '${source}': ${why}`),
  PULL_NOT_FOUND: createError("PULL_NOT_FOUND", 404, (id: string) => `No pull '${id}' (list them with GET /api/v1/models/pulls)`),
  HUB_NOT_FOUND: createError("HUB_NOT_FOUND", 404, (what: string) => `The hub has no ${what}`),
  HUB_REFUSED: createError("HUB_REFUSED", 502, (status: number, what: string) => `The hub answered ${status} for ${what}${status === 401 || status === 403 ? " (set plugin.instances.hub_token or HF_TOKEN for gated or private repositories)" : ""}`),
  HUB_UNREACHABLE: createError("HUB_UNREACHABLE", 502, (url: string, why: string) => `Cannot reach ${url}: ${why}`),
  NO_DISK_SPACE: createError("NO_DISK_SPACE", 507, (needed: string, free: string) => `The download needs ${needed} but the models folder (plugin.instances.models_dir) has ${free} free`),
});

export interface PullFile {
  url: string;
  /** Where it goes, relative to models_dir. */
  target: string;
  /** Bytes, when the source says (a plain URL says only once the download begins). */
  size: number | null;
  /** Hex SHA-256 from the hub (LFS files); null when the source gives none. */
  sha256: string | null;
  /** Whether the hub's token goes with the request (never to another host). */
  authorized: boolean;
}

export interface PullPlan {
  source: string;
  /** What lands in models_dir (a file or a folder), relative to it. */
  target: string;
  files: PullFile[];
}

export interface HubSettings {
  hubUrl: string;
  token: string;
  /** Core's outbound guard: every request of a pull (the hub's listing, each file, each redirect) goes through it. */
  outbound: CoreOutboundService;
}

/** A repository of more files than this many pages list is refused rather than listed forever. */
const MAX_TREE_PAGES = 100;

interface TreeEntry { type: string; path: string; size: number; lfs?: { oid: string; size: number } }

/** Safe relative paths only: no absolute path, no `..`, no empty part. */
function safeRelative(path: string): boolean {
  return path.length > 0 && !path.startsWith("/") && path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/** Turns a source into the files to fetch; throws PULL_SOURCE_INVALID, HUB_* errors. */
export async function planPull(source: string, hub: HubSettings, signal?: AbortSignal): Promise<PullPlan> {
  if (source.startsWith("hf:")) return planHub(source, hub, signal);
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw PullErrors.PULL_SOURCE_INVALID([redactSecrets(source), "give hf:<org>/<repo>/<file>, hf:<org>/<repo> or an https:// URL"]);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw PullErrors.PULL_SOURCE_INVALID([redactSecrets(source), "only http(s) URLs and hf: sources"]);
  let name: string;
  try {
    name = basename(decodeURIComponent(url.pathname));
  } catch {
    throw PullErrors.PULL_SOURCE_INVALID([redactSecrets(source), "the URL's path is not valid percent-encoding"]);
  }
  if (!safeRelative(name)) throw PullErrors.PULL_SOURCE_INVALID([redactSecrets(source), "the URL names no file"]);
  await hub.outbound.check(url); // an internal address is refused now (422), not in the background
  return { source, target: name, files: [{ url: url.href, target: name, size: null, sha256: null, authorized: false }] };
}

/** Every entry of the repository's tree, following the pages the hub links to (`Link: <…>; rel="next"`). */
async function listTree(base: string, repo: string, hub: HubSettings, signal?: AbortSignal): Promise<TreeEntry[]> {
  const token = hub.token;
  const entries: TreeEntry[] = [];
  let next: string | undefined = `${base}/api/models/${repo}/tree/main?recursive=true`;
  for (let page = 0; next && page < MAX_TREE_PAGES; page++) {
    let res: Response;
    try {
      res = await hub.outbound.fetch(next, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: signal ?? AbortSignal.timeout(30_000) });
    } catch (error) {
      if (error instanceof GantryError && error.code === OutboundErrors.OUTBOUND_ADDRESS_REFUSED.code) throw error;
      throw PullErrors.HUB_UNREACHABLE([base, (error as Error).message]);
    }
    if (res.status === 404) throw PullErrors.HUB_NOT_FOUND([`repository '${repo}'`]);
    if (!res.ok) throw PullErrors.HUB_REFUSED([res.status, `repository '${repo}'`]);
    entries.push(...((await res.json()) as TreeEntry[]));
    const link = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
    // Only pages of the same hub: the token never goes elsewhere.
    next = link && new URL(link, base).origin === new URL(base).origin ? new URL(link, base).href : undefined;
  }
  return entries;
}

async function planHub(source: string, hub: HubSettings, signal?: AbortSignal): Promise<PullPlan> {
  const parts = source.slice(3).split("/");
  const repo = parts.slice(0, 2).join("/");
  const path = parts.slice(2).join("/");
  if (parts.length < 2 || !safeRelative(repo) || (path !== "" && !safeRelative(path))) throw PullErrors.PULL_SOURCE_INVALID([source, "give hf:<org>/<repo>/<file> or hf:<org>/<repo>[/<folder>]"]);
  const base = hub.hubUrl.replace(/\/+$/, "");
  const entries = (await listTree(base, repo, hub, signal)).filter((e) => e.type === "file" && safeRelative(e.path));
  const single = entries.find((e) => e.path === path);
  const chosen = single ? [single] : entries.filter((e) => path === "" || e.path.startsWith(`${path}/`));
  if (chosen.length === 0) throw PullErrors.HUB_NOT_FOUND([`file or folder '${path}' in '${repo}'`]);
  const target = single ? basename(path) : basename(path || repo);
  const files = chosen.map((e) => ({
    url: `${base}/${repo}/resolve/main/${e.path.split("/").map(encodeURIComponent).join("/")}`,
    target: single ? target : join(target, path ? e.path.slice(path.length + 1) : e.path),
    size: e.lfs?.size ?? e.size,
    sha256: e.lfs?.oid ?? null,
    authorized: true,
  }));
  return { source, target, files };
}
