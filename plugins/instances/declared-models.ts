/**
 * Declared models: the `[models.<name>]` tables of gantry.toml, checked and normalized into what an
 * instance is made of, compared with what an instance has, and written back as TOML (export).
 */
import { Value } from "@sinclair/typebox/value";
import { stringify } from "smol-toml";
import { t } from "gantry/plugin";
import { basename } from "node:path";
import { MODEL_ID_PATTERN } from "./model-names.ts";
import { Fields } from "./schemas.ts";
import type { CreateInput } from "./instance-manager.ts";

/** Fields the placement side of gantry reads (device, memory budget, group, time to live, pinned); kept with the declaration. */
export const PLACEMENT_FIELDS = ["device", "memory", "group", "ttl", "pinned"] as const;

/** One `[models.<name>]` table: the instance API's fields, a pull `source`, and the placement fields. */
export const Declaration = t.Object({
  ...Fields,
  model_path: t.Optional(Fields.model_path),
  source: t.Optional(t.String({ minLength: 1, maxLength: 2048, description: "hf:<repo>/<file> or https://…; model_path defaults to the file in models_dir" })),
  device: t.Optional(t.String({ maxLength: 128 })),
  memory: t.Optional(t.Union([t.String({ maxLength: 64 }), t.Number({ minimum: 0 })])),
  group: t.Optional(t.String({ maxLength: 128 })),
  ttl: t.Optional(t.Integer({ minimum: -1 })),
  pinned: t.Optional(t.Boolean()),
}, { additionalProperties: false });

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

/** Fields compared with an instance's stored declaration; `env` is compared with the row's opened env. */
const COMPARED = ["backend", "model_path", "port", "options", "command", "on_demand_start", "idle_timeout", "restart", "aliases", "unlisted", "source", ...PLACEMENT_FIELDS] as const;

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

function normalize(name: string, raw: Record<string, unknown>, modelsDir: string): NormalizedDeclaration {
  const source = raw.source as string | undefined;
  const input: CreateInput = {
    name,
    backend: (raw.backend as CreateInput["backend"]) ?? "llama_cpp",
    model_path: (raw.model_path as string | undefined) ?? `${modelsDir}/${sourceFileName(source!)}`,
    port: raw.port as number | undefined,
    options: (raw.options as Record<string, unknown> | undefined) ?? {},
    env: (raw.env as Record<string, string> | undefined) ?? {},
    command: raw.command as string[] | undefined,
    on_demand_start: (raw.on_demand_start as boolean | undefined) ?? false,
    idle_timeout: (raw.idle_timeout as number | undefined) ?? 0,
    restart: (raw.restart as CreateInput["restart"]) ?? "on-failure",
    aliases: (raw.aliases as string[] | undefined) ?? [],
    unlisted: (raw.unlisted as boolean | undefined) ?? false,
  };
  const stored: Record<string, unknown> = { ...input, command: input.command ?? null };
  delete stored.name;
  delete stored.env;
  if (input.port === undefined) delete stored.port; // allocated from port_range, kept across reconciles
  if (source !== undefined) stored.source = source;
  for (const field of PLACEMENT_FIELDS) if (raw[field] !== undefined) stored[field] = raw[field];
  return { input, stored };
}

/** The declared fields an instance does not have: compared with its stored declaration and its env. */
export function differingFields(declared: NormalizedDeclaration, stored: Record<string, unknown> | null, env: Record<string, string>): string[] {
  const differs: string[] = COMPARED.filter((field) => stableJson(declared.stored[field]) !== stableJson(stored?.[field]));
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
    for (const field of PLACEMENT_FIELDS) if (i.declaration?.[field] !== undefined) table[field] = i.declaration[field];
    if (Object.keys(i.env).length > 0) withEnv.push(`#   ${i.name}: ${Object.keys(i.env).join(", ")}`);
    models[i.name] = table;
  }
  const header = ["# Declared models, as exported by gantry: put these tables in gantry.toml.", ...(withEnv.length > 0 ? ["# Environment values are not exported (they are secrets); set them again under [models.<name>.env]:", ...withEnv] : [])];
  return `${[header.join("\n"), ...(Object.keys(models).length > 0 ? [stringify({ models }).trimEnd()] : [])].join("\n\n")}\n`;
}
