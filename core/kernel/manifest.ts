/** plugin.json: the manifest every plugin folder carries, validated before any of its code runs. */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { Errors } from "./errors.ts";
import pkg from "../../package.json" with { type: "json" };

export const PLUGIN_NAME_PATTERN = "^[a-z][a-z0-9-]{0,47}$";
const SEMVER_PATTERN = "^\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]+)?$";

export const ManifestSchema = Type.Object(
  {
    name: Type.String({ pattern: PLUGIN_NAME_PATTERN, description: "lowercase letters, digits and dashes; starts with a letter" }),
    version: Type.String({ pattern: SEMVER_PATTERN, description: "semver" }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    main: Type.String({ default: "index.ts", minLength: 1 }),
    gantry: Type.Optional(Type.String({ description: "semver range of gantry versions this plugin works with" })),
    dependsOn: Type.Array(Type.String({ pattern: PLUGIN_NAME_PATTERN }), { default: [], uniqueItems: true }),
    config: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
  },
  { additionalProperties: false },
);

export type PluginManifest = Static<typeof ManifestSchema>;

/** A manifest plus where it came from. */
export interface LoadedManifest extends PluginManifest {
  dir: string;
  /** The entry module; null for a code-free plugin (Claude Code format). */
  entry: string | null;
  format: "gantry" | "claude";
}

/** `.claude-plugin/plugin.json` of a Claude Code plugin: only `name` is required; other fields are kept as they are. */
const ClaudeManifestSchema = Type.Object(
  {
    name: Type.String({ pattern: PLUGIN_NAME_PATTERN }),
    version: Type.Optional(Type.String({ pattern: SEMVER_PATTERN })),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: true },
);

/** Names that would shadow the plugins API's own paths (/api/v1/plugins/commands, /agents). */
const RESERVED_NAMES = new Set(["commands", "agents", "core", "gantry"]);

/** Reads and validates `<dir>/plugin.json`; throws PLUGIN_MANIFEST_INVALID listing each problem. */
export function readManifest(pluginDir: string): LoadedManifest {
  const dir = resolve(pluginDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw Errors.PLUGIN_PATH_NOT_FOUND([pluginDir]);
  const file = join(dir, "plugin.json");
  const claudeFile = join(dir, ".claude-plugin", "plugin.json");
  if (existsSync(file)) return readGantryManifest(dir, file);
  if (existsSync(claudeFile)) return readClaudeManifest(dir, claudeFile);
  throw Errors.PLUGIN_PATH_NOT_FOUND([pluginDir]);
}

function readJsonObject(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw Errors.PLUGIN_MANIFEST_INVALID([file, [`not valid JSON: ${(error as Error).message}`]]);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["must be a JSON object"]]);
  return raw as Record<string, unknown>;
}

function assertNotReserved(name: string, file: string): void {
  if (RESERVED_NAMES.has(name)) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`name: '${name}' is reserved`]]);
}

function readClaudeManifest(dir: string, file: string): LoadedManifest {
  const raw = readJsonObject(file);
  const problems = [...Value.Errors(ClaudeManifestSchema, raw)].map((e) => `${e.path.slice(1) || "(root)"}: ${e.message}`);
  if (problems.length > 0) throw Errors.PLUGIN_MANIFEST_INVALID([file, [...new Set(problems)]]);
  const name = raw.name as string;
  assertNotReserved(name, file);
  return {
    name, version: (raw.version as string | undefined) ?? "0.0.0", description: raw.description as string | undefined,
    main: "", dependsOn: [], config: {}, dir, entry: null, format: "claude",
  };
}

function readGantryManifest(dir: string, file: string): LoadedManifest {
  const raw = readJsonObject(file);
  const value = Value.Default(ManifestSchema, structuredClone(raw)) as PluginManifest;
  const problems = [...Value.Errors(ManifestSchema, value)].map((e) => `${e.path.slice(1) || "(root)"}: ${e.message}`);
  if (problems.length > 0) throw Errors.PLUGIN_MANIFEST_INVALID([file, [...new Set(problems)]]);
  assertNotReserved(value.name, file);
  if (value.dependsOn.includes(value.name)) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["dependsOn: a plugin cannot depend on itself"]]);
  if (value.gantry && !Bun.semver.satisfies(pkg.version, value.gantry)) {
    throw Errors.PLUGIN_MANIFEST_INVALID([file, [`gantry: requires gantry ${value.gantry}, this is ${pkg.version}`]]);
  }
  const entry = resolve(dir, value.main);
  if (!entry.startsWith(dir + "/")) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["main: must be a file inside the plugin folder"]]);
  if (!existsSync(entry)) throw Errors.PLUGIN_MANIFEST_INVALID([file, [`main: ${value.main} does not exist`]]);
  // The path's text can stay inside while a symlink on the way points elsewhere: compare real paths.
  if (!realpathSync(entry).startsWith(realpathSync(dir) + "/")) throw Errors.PLUGIN_MANIFEST_INVALID([file, ["main: resolves (through a symlink) to a file outside the plugin folder"]]);
  return { ...value, dir, entry, format: "gantry" };
}

/**
 * Orders manifests so each comes after its dependencies (stable by name otherwise).
 * Returns the order and, for each manifest whose dependencies are missing or cyclic, the error.
 */
export function orderByDependencies(manifests: PluginManifest[], alreadyActive: Set<string> = new Set()) {
  const byName = new Map(manifests.map((m) => [m.name, m]));
  const order: PluginManifest[] = [];
  const failed = new Map<string, Error>();
  const state = new Map<string, "visiting" | "done">();

  const visit = (m: PluginManifest, path: string[]): boolean => {
    if (state.get(m.name) === "done") return !failed.has(m.name);
    if (state.get(m.name) === "visiting") {
      const cycle = [...path.slice(path.indexOf(m.name)), m.name];
      for (const name of cycle) failed.set(name, Errors.PLUGIN_DEPENDENCY_CYCLE([cycle]));
      return false;
    }
    state.set(m.name, "visiting");
    const missing: string[] = [];
    for (const dep of [...m.dependsOn].sort()) {
      const target = byName.get(dep);
      if (target) {
        if (!visit(target, [...path, m.name])) missing.push(dep);
      } else if (!alreadyActive.has(dep)) missing.push(dep);
    }
    state.set(m.name, "done");
    if (failed.has(m.name)) return false;
    if (missing.length > 0) {
      failed.set(m.name, Errors.PLUGIN_DEPENDENCY_MISSING([m.name, missing]));
      return false;
    }
    order.push(m);
    return true;
  };

  for (const m of [...manifests].sort((a, b) => a.name.localeCompare(b.name))) visit(m, []);
  return { order, failed };
}
