/**
 * The Claude Code plugin format as Claude Code reads it: `.claude-plugin/plugin.json` (or a
 * Claude-shaped `plugin.json` at the root), no manifest at all (the name comes from the folder),
 * and plugins defined by an entry of a marketplace (`.claude-plugin/marketplace.json`).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { Errors } from "./errors.ts";

/** Claude Code allows names gantry's own manifests do not: leading digits, underscores, dots, capitals. */
export const CLAUDE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Something in a plugin that gantry cannot honour, and why. */
export interface UnsupportedPart {
  part: string;
  reason: string;
}

/** Where a Claude-format plugin's parts are, beyond the default folders. */
export interface ClaudeLayout {
  /** Extra command files or folders (absolute), added to `commands/`. */
  commands: string[];
  agents: string[];
  skills: string[];
  /** Hook files (absolute paths) or inline hook configurations. */
  hooks: (string | Record<string, unknown>)[];
  /** `.mcp.json`-shaped files (absolute paths) or inline `{name: config}` maps. */
  mcpServers: (string | Record<string, unknown>)[];
  unsupported: UnsupportedPart[];
}

export interface ClaudeManifest {
  name: string;
  version: string;
  description: string | undefined;
  dir: string;
  layout: ClaudeLayout;
}

const MARKETPLACE_FILE = join(".claude-plugin", "marketplace.json");
const COMPONENT_FOLDERS = ["commands", "agents", "skills", join("hooks", "hooks.json"), ".mcp.json"];
/** Fields Claude Code reads that gantry has nothing to run for. */
const UNSUPPORTED_FIELDS: Record<string, string> = {
  lspServers: "language servers (LSP) are an editor feature; gantry runs none",
  outputStyles: "output styles shape Claude Code's terminal answers; gantry has no such view",
  statusLine: "the status line is part of Claude Code's terminal interface",
};

export function readJsonObject(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw Errors.PLUGIN_MANIFEST_INVALID([file, [`not valid JSON: ${(error as Error).message}`]]);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["must be a JSON object"]]);
  return raw as Record<string, unknown>;
}

/** Whether the folder looks like a plugin with no manifest: it has one of the default component folders. */
export function hasClaudeComponents(dir: string): boolean {
  return COMPONENT_FOLDERS.some((part) => existsSync(join(dir, part)));
}

export function isMarketplace(dir: string): boolean {
  return existsSync(join(dir, MARKETPLACE_FILE));
}

/** A folder name made into a plugin name (`My Plugin!` → `my-plugin`). */
function nameFromFolder(dir: string): string {
  return basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[-._]+|-+$/g, "").slice(0, 64) || "plugin";
}

/** Reads a Claude-format manifest object (plugin.json or a marketplace entry) found for `dir`. */
export function claudeManifest(dir: string, raw: Record<string, unknown>, file: string, fallbackName = nameFromFolder(dir)): ClaudeManifest {
  const problems: string[] = [];
  const name = raw.name === undefined ? fallbackName : raw.name;
  if (typeof name !== "string" || !CLAUDE_NAME.test(name)) problems.push("name: letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit");
  if (raw.version !== undefined && typeof raw.version !== "string") problems.push("version: must be a string");
  if (raw.description !== undefined && typeof raw.description !== "string") problems.push("description: must be a string");
  const layout: ClaudeLayout = { commands: [], agents: [], skills: [], hooks: [], mcpServers: [], unsupported: [] };
  for (const key of ["commands", "agents", "skills"] as const) layout[key] = paths(dir, raw[key], key, problems);
  for (const key of ["hooks", "mcpServers"] as const) {
    const value = raw[key];
    if (value && typeof value === "object" && !Array.isArray(value)) layout[key] = [value as Record<string, unknown>];
    else layout[key] = paths(dir, value, key, problems);
  }
  for (const [field, reason] of Object.entries(UNSUPPORTED_FIELDS)) if (raw[field] !== undefined) layout.unsupported.push({ part: field, reason });
  if (problems.length > 0) throw Errors.PLUGIN_MANIFEST_INVALID([file, problems]);
  return { name: name as string, version: (raw.version as string | undefined) ?? "0.0.0", description: raw.description as string | undefined, dir, layout };
}

/** `"./x"` or `["./x", "./y"]` → absolute paths inside the plugin folder. */
function paths(dir: string, value: unknown, field: string, problems: string[]): string[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? [value] : Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : null;
  if (!list) {
    problems.push(`${field}: must be a path or a list of paths`);
    return [];
  }
  return list.flatMap((p) => {
    const absolute = resolve(dir, p);
    if (relative(dir, absolute).startsWith("..")) {
      problems.push(`${field}: '${p}' is outside the plugin folder`);
      return [];
    }
    return [absolute];
  });
}

/** One plugin of a marketplace, as listed before installing. */
export interface MarketplaceEntry {
  name: string;
  description: string | null;
  version: string | null;
  source: string;
  /** False for sources gantry cannot reach from here (GitHub, git URLs): clone them and install the folder. */
  installable: boolean;
  reason: string | null;
}

export interface Marketplace {
  name: string;
  dir: string;
  plugins: (MarketplaceEntry & { raw: Record<string, unknown> })[];
}

/** Reads `<dir>/.claude-plugin/marketplace.json`. */
export function readMarketplace(dir: string): Marketplace {
  const file = join(dir, MARKETPLACE_FILE);
  const raw = readJsonObject(file);
  if (!Array.isArray(raw.plugins)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["plugins: must be a list"]]);
  const pluginRoot = typeof (raw.metadata as { pluginRoot?: unknown } | undefined)?.pluginRoot === "string" ? (raw.metadata as { pluginRoot: string }).pluginRoot : ".";
  const plugins = (raw.plugins as unknown[]).filter((p): p is Record<string, unknown> => !!p && typeof p === "object" && typeof (p as { name?: unknown }).name === "string").map((entry) => {
    const source = entry.source;
    const local = typeof source === "string";
    const where = local ? source : JSON.stringify(source);
    return {
      name: entry.name as string,
      description: typeof entry.description === "string" ? entry.description : null,
      version: typeof entry.version === "string" ? entry.version : null,
      source: where,
      installable: local,
      reason: local ? null : `remote source (${(source as { source?: string } | null)?.source ?? "unknown"}): clone it and install from its folder`,
      raw: { ...entry, source: local ? resolve(dir, /^\.\.?\//.test(source) ? "." : pluginRoot, source) : source },
    };
  });
  return { name: typeof raw.name === "string" ? raw.name : basename(dir), dir, plugins };
}

/** The install reference of a marketplace plugin: `<marketplace folder>#<plugin>` (stored, re-read at start). */
export function marketplaceReference(dir: string, plugin: string): string {
  return `${resolve(dir)}#${plugin}`;
}

/** Splits a reference made by marketplaceReference; undefined for a plain folder path. */
export function parseMarketplaceReference(path: string): { dir: string; plugin: string } | undefined {
  const at = path.lastIndexOf("#");
  if (at < 0 || existsSync(path)) return undefined;
  const dir = path.slice(0, at);
  return isMarketplace(dir) ? { dir, plugin: path.slice(at + 1) } : undefined;
}

/**
 * A marketplace entry made into a manifest: the entry's own fields (`strict: false` entries are
 * complete in themselves), overridden by the plugin folder's manifest when it has one.
 */
export function readMarketplacePlugin(marketplaceDir: string, plugin: string): ClaudeManifest {
  const market = readMarketplace(marketplaceDir);
  const entry = market.plugins.find((p) => p.name === plugin);
  const file = join(marketplaceDir, MARKETPLACE_FILE);
  if (!entry) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`no plugin '${plugin}'; it lists ${market.plugins.map((p) => p.name).join(", ") || "none"}`]]);
  if (!entry.installable) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`${plugin}: ${entry.reason}`]]);
  const dir = entry.raw.source as string;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw Errors.PLUGIN_PATH_NOT_FOUND([dir]);
  const own = ownManifestFile(dir);
  const { source: _, strict: __, ...fields } = entry.raw;
  const merged = own ? { ...fields, ...readJsonObject(own) } : fields;
  const fromEntry = claudeManifest(dir, fields, file);
  const manifest = claudeManifest(dir, merged, own ?? file, plugin);
  // Component paths from the entry and from the folder's own manifest both count.
  for (const key of ["commands", "agents", "skills", "hooks", "mcpServers"] as const) {
    manifest.layout[key] = [...new Set([...fromEntry.layout[key], ...manifest.layout[key]])] as never;
  }
  manifest.layout.unsupported = [...new Map([...fromEntry.layout.unsupported, ...manifest.layout.unsupported].map((u) => [u.part, u])).values()];
  return manifest;
}

/** `.claude-plugin/plugin.json`, else a Claude-shaped root `plugin.json`; undefined when the folder has neither. */
function ownManifestFile(dir: string): string | undefined {
  const claudeFile = join(dir, ".claude-plugin", "plugin.json");
  if (existsSync(claudeFile)) return claudeFile;
  const root = join(dir, "plugin.json");
  return existsSync(root) && !isGantryManifest(dir, readJsonObject(root)) ? root : undefined;
}

/**
 * A root `plugin.json` is gantry's when it says so (`main`, `gantry`, `dependsOn`, `config`) or an
 * `index.ts` sits beside it; otherwise it is a Claude Code manifest (which carries `author`,
 * `keywords`, ... that gantry's strict schema refuses).
 */
export function isGantryManifest(dir: string, raw: Record<string, unknown>): boolean {
  return ["main", "gantry", "dependsOn", "config"].some((k) => k in raw) || existsSync(join(dir, "index.ts"));
}
