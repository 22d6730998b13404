/**
 * MCP server entries as `.mcp.json` and `[plugin.mcp.servers]` write them (Claude Code's format):
 * `{command, args?, env?, cwd?}` for stdio, `{type: "http", url, headers?}` for streamable HTTP.
 * `${VAR}` and `${VAR:-default}` are read from gantry's environment; `${CLAUDE_PLUGIN_ROOT}` and
 * `${GANTRY_PLUGIN_ROOT}` are the declaring plugin's folder.
 */
import { redactSecrets } from "gantry/plugin";
export type ServerSpec =
  | { transport: "stdio"; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { transport: "http"; url: string; headers: Record<string, string> };

/** A spec, or why the entry cannot be used (shown as the server's error). */
export type ParsedSpec = { ok: true; spec: ServerSpec } | { ok: false; error: string };

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function expand(value: string, env: Record<string, string | undefined>, missing: Set<string>): string {
  return value.replace(VARIABLE, (_, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined) return found;
    if (fallback !== undefined) return fallback;
    missing.add(name);
    return "";
  });
}

const strings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === "string");
const stringMap = (value: unknown): value is Record<string, string> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");

export function parseServerSpec(entry: Record<string, unknown>, pluginDir?: string, env: Record<string, string | undefined> = process.env): ParsedSpec {
  const vars = pluginDir ? { ...env, CLAUDE_PLUGIN_ROOT: pluginDir, GANTRY_PLUGIN_ROOT: pluginDir } : env;
  const missing = new Set<string>();
  const x = (value: string) => expand(value, vars, missing);
  const xMap = (map: Record<string, string>) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, x(v)]));
  const type = entry.type ?? (entry.url !== undefined ? "http" : "stdio");
  let spec: ServerSpec;
  if (type === "stdio") {
    if (typeof entry.command !== "string" || entry.command === "") return { ok: false, error: "a stdio server needs `command`" };
    if (entry.args !== undefined && !strings(entry.args)) return { ok: false, error: "`args` must be an array of strings" };
    if (entry.env !== undefined && !stringMap(entry.env)) return { ok: false, error: "`env` must map names to strings" };
    if (entry.cwd !== undefined && typeof entry.cwd !== "string") return { ok: false, error: "`cwd` must be a string" };
    spec = {
      transport: "stdio", command: x(entry.command), args: (entry.args ?? []).map(x), env: xMap(entry.env ?? {}),
      cwd: entry.cwd !== undefined ? x(entry.cwd) : pluginDir,
    };
  } else if (type === "http" || type === "streamable-http") {
    if (typeof entry.url !== "string") return { ok: false, error: "an http server needs `url`" };
    if (entry.headers !== undefined && !stringMap(entry.headers)) return { ok: false, error: "`headers` must map names to strings" };
    const url = x(entry.url);
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) return { ok: false, error: `\`url\` is not an http(s) URL: ${redactSecrets(url)}` };
    spec = { transport: "http", url, headers: xMap(entry.headers ?? {}) };
  } else {
    return { ok: false, error: `transport type '${String(type)}' is not supported (stdio, http)` };
  }
  if (missing.size > 0) return { ok: false, error: `environment variable${missing.size > 1 ? "s" : ""} not set: ${[...missing].join(", ")}` };
  return { ok: true, spec };
}

/** Where the server is, without secrets: the command's name, or the URL without query and credentials. */
export function describeSpec(spec: ServerSpec): string {
  if (spec.transport === "stdio") return spec.command;
  const url = new URL(spec.url);
  return `${url.protocol}//${url.host}${url.pathname}`;
}
