/**
 * Declared models: the `[models.<name>]` tables of gantry.toml, checked and normalized into what an
 * instance is made of, compared with what an instance has, and written back as TOML (export).
 */
import { Value } from "@sinclair/typebox/value";
import { stringify } from "smol-toml";
import { REDACTED, t } from "gantry/plugin";
import { basename } from "node:path";
import { MODEL_ID_PATTERN } from "./model-names.ts";
import { Fields } from "./schemas.ts";
import type { CreateInput } from "./instance-manager.ts";

/** Fields of placement (device, memory budget, group, queue, time to live, pinned): kept with the declaration; those the instance API has also reach the instance. */
export const PLACEMENT_FIELDS = ["device", "memory", "group", "pinned", "parallel", "max_queue", "ttl"] as const;

/**
 * One `[models.<name>]` table: the instance API's fields (`Fields`: whatever the API accepts is
 * accepted here, with its schema, placement's included), a pull `source`, and `ttl`.
 */
export const Declaration = t.Object({
  ttl: t.Optional(t.Integer({ minimum: -1 })),
  ...Fields,
  model_path: t.Optional(Fields.model_path),
  source: t.Optional(t.String({ minLength: 1, maxLength: 2048, description: "hf:<repo>/<file> or https://…; model_path defaults to the file in models_dir" })),
}, { additionalProperties: false });

/** What a table that leaves a field out means; a field removed from a table goes back to this. */
const INSTANCE_DEFAULTS: Record<string, unknown> = {
  backend: "llama_cpp", options: {}, env: {}, command: null, on_demand_start: false, idle_timeout: 0, restart: "on-failure", aliases: [], unlisted: false,
  // Placement fields, where the instance API has them.
  ...Object.fromEntries(Object.entries({ device: null, memory: null, group: null, pinned: false, parallel: 0, max_queue: 0 }).filter(([field]) => field in Fields)),
};

/** A declaration made whole: every instance field with its default, as compared and stored. */
export interface NormalizedDeclaration {
  input: CreateInput;
  /** What is stored as the instance's `declaration` (env values left out: they are sealed with the row). */
  stored: Record<string, unknown>;
}

export interface DeclarationProblem {
  name: string;
  problems: string[];
}


/** Where a pull `source` lands by default: `hf:org/repo/dir/file.gguf` → `<models_dir>/file.gguf`. */
export function sourceFileName(source: string): string {
  return basename(source.replace(/^hf:/, "").replace(/[?#].*$/, ""));
}

/** Checks and normalizes every declared model; invalid ones come back as problems and are left alone. */
export function readDeclarations(section: unknown, modelsDir: string): { models: Map<string, NormalizedDeclaration>; invalid: DeclarationProblem[] } {
  const models = new Map<string, NormalizedDeclaration>();
  const invalid: DeclarationProblem[] = [];
  const tables = section && typeof section === "object" ? (section as Record<string, unknown>) : {};
  for (const [name, raw] of Object.entries(tables)) {
    const problems = checkDeclaration(name, raw);
    if (problems.length > 0) {
      invalid.push({ name, problems });
      continue;
    }
    models.set(name, normalize(name, raw as Record<string, unknown>, modelsDir));
  }
  return { models, invalid };
}

function checkDeclaration(name: string, raw: unknown): string[] {
  if (!new RegExp(MODEL_ID_PATTERN).test(name)) return [`'${name}' is not a model id (letters, digits, . _ - : /)`];
  const problems = [...Value.Errors(Declaration, raw)].map((e) => `${e.path.replace(/^\//, "").replaceAll("/", ".") || "(table)"}: ${e.message}`);
  if (problems.length > 0) return problems;
  const value = raw as Record<string, unknown>;
  if (value.model_path === undefined && value.source === undefined) problems.push("model_path or source is required");
  if (value.backend === "command" && !(value.command as string[] | undefined)?.length) problems.push("the command backend needs `command`: an argv array");
  return problems;
}

/** The table with its defaults; the instance API's fields of it become the instance (`port` absent: taken from port_range and kept). */
function normalize(name: string, raw: Record<string, unknown>, modelsDir: string): NormalizedDeclaration {
  const table: Record<string, unknown> = { ...INSTANCE_DEFAULTS, ...raw };
  table.model_path ??= `${modelsDir}/${sourceFileName(raw.source as string)}`;
  const input = Object.fromEntries(Object.entries(table).filter(([field]) => field in Fields)) as Record<string, unknown>;
  if (input.command === null) delete input.command;
  const { env: _sealedWithTheRow, ...stored } = table;
  return { input: { ...input, name } as unknown as CreateInput, stored };
}

/** The declared fields an instance does not have: compared with its stored declaration and its env. */
export function differingFields(declared: NormalizedDeclaration, stored: Record<string, unknown> | null, env: Record<string, string>): string[] {
  const fields = [...new Set([...Object.keys(declared.stored), ...Object.keys(stored ?? {})])];
  const differs = fields.filter((field) => stableJson(declared.stored[field]) !== stableJson(stored?.[field]));
  if (stored === null) return ["origin", ...differs];
  if (stableJson(declared.input.env) !== stableJson(env)) differs.push("env");
  return differs;
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` compare equal. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v)) ?? "undefined";
}

/** An instance as the view shows it, enough to write it back as a declaration. */
export interface ExportedInstance {
  name: string; backend: string; model_path: string; port: number; options: Record<string, unknown>; command: string[] | null;
  on_demand_start: boolean; idle_timeout: number; restart: string; aliases: string[]; unlisted: boolean;
  env: Record<string, string>; declaration: Record<string, unknown> | null;
  device?: string | null; memory_mib?: number | null; pinned?: boolean; group?: string | null; parallel?: number; max_queue?: number;
}

/** Placement fields the instance has (set through the API or a declaration), as a table writes them. */
function placementOf(i: ExportedInstance): Record<string, unknown> {
  const fields: Record<string, unknown> = { device: i.device ?? undefined, memory: i.memory_mib ?? undefined, group: i.group ?? undefined, pinned: i.pinned || undefined, parallel: i.parallel || undefined, max_queue: i.max_queue || undefined };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** Instances as `[models.<name>]` tables; env values are secrets at rest, so only their names are listed (in a comment). */
export function exportToml(instances: ExportedInstance[]): string {
  const models: Record<string, Record<string, unknown>> = {};
  const withEnv: string[] = [];
  for (const i of instances) {
    const table: Record<string, unknown> = { backend: i.backend, model_path: i.model_path, port: i.port };
    if (Object.keys(i.options).length > 0) table.options = i.options;
    if (i.command) table.command = i.command;
    if (i.on_demand_start) table.on_demand_start = true;
    if (i.idle_timeout) table.idle_timeout = i.idle_timeout;
    if (i.restart !== "on-failure") table.restart = i.restart;
    if (i.aliases.length > 0) table.aliases = i.aliases;
    if (i.unlisted) table.unlisted = true;
    if (typeof i.declaration?.source === "string") table.source = i.declaration.source;
    // The declaration's own spelling first ("8GiB" stays "8GiB"), else what the instance has.
    const placement = placementOf(i);
    for (const field of PLACEMENT_FIELDS) {
      const value = i.declaration?.[field] ?? placement[field];
      if (value !== undefined && value !== null && value !== INSTANCE_DEFAULTS[field]) table[field] = value;
    }
    if (Object.keys(i.env).length > 0) withEnv.push(`#   ${i.name}: ${Object.keys(i.env).join(", ")}`);
    models[i.name] = table;
  }
  const header = ["# Declared models, as exported by gantry: put these tables in gantry.toml.", ...(withEnv.length > 0 ? ["# Environment values are not exported (they are secrets); set them again under [models.<name>.env]:", ...withEnv] : [])];
  const tables = Object.keys(models).length > 0 ? stringify({ models }).trimEnd() : "";
  // The views are redacted (URL passwords, tokens): say so, or the export reads as ready to use.
  if (tables.includes(REDACTED)) header.push(`# Secrets inside values are shown as ${REDACTED}: put them back before you use these tables.`);
  return `${[header.join("\n"), ...(tables ? [tables] : [])].join("\n\n")}\n`;
}
