/**
 * Pipeline templates: `pipelines/*.yaml` (or `.md` with YAML front matter) files and
 * `[pipelines.<name>]` in gantry.toml, checked into a `Template` or a list of problems.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { parseCondition, placeholdersInStrings, type Condition } from "./expressions.ts";

export const PHASE_KINDS = ["agent", "command", "script", "pipeline"] as const;
export type PhaseKind = (typeof PHASE_KINDS)[number];

export interface Phase {
  name: string;
  kind: PhaseKind;
  /** Agent name, slash command line, script code or template name; `${...}` placeholders filled at run time. */
  target: string;
  /** Agent input (agent phases) or inputs of the nested run (pipeline phases). */
  input: string | null;
  inputs: Record<string, unknown>;
  needs: string[];
  retry: { attempts: number; backoffMs: number };
  timeoutS: number | null;
  when: Condition | null;
  gate: { message: string } | null;
  artifact: { name: string; mediaType: string } | null;
}

export interface Template {
  name: string;
  description: string;
  source: string;
  compliance: string[];
  chat: boolean;
  maxParallel: number | null;
  /** Declared inputs: name → default (null: required). */
  inputs: Record<string, unknown>;
  phases: Phase[];
}

export type Loaded = { template: Template; problems: [] } | { template: null; name: string; source: string; problems: string[] };

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks one template definition; every problem is named, none stops at the first. */
export function checkTemplate(name: string, raw: unknown, source: string): Loaded {
  const problems: string[] = [];
  if (!NAME.test(name)) problems.push(`the name '${name}' must match ${NAME.source}`);
  if (!isObject(raw)) return { template: null, name, source, problems: [...problems, "a template is a table/mapping"] };
  const rawPhases = raw.phases;
  const entries: [string, unknown][] = Array.isArray(rawPhases)
    ? rawPhases.map((p, i) => [isObject(p) && typeof p.name === "string" ? p.name : `#${i + 1}`, p])
    : isObject(rawPhases) ? Object.entries(rawPhases) : [];
  if (entries.length === 0) problems.push("phases: at least one phase is required");
  const phases: Phase[] = [];
  for (const [phaseName, value] of entries) {
    const phase = checkPhase(phaseName, value, problems);
    if (phase) phases.push(phase);
  }
  const names = new Set(phases.map((p) => p.name));
  for (const phase of phases) for (const need of phase.needs) if (!names.has(need)) problems.push(`phase '${phase.name}': needs unknown phase '${need}'`);
  const cycle = findCycle(phases);
  if (cycle) problems.push(`needs form a cycle: ${cycle.join(" → ")}`);
  const compliance = raw.compliance === undefined ? [] : raw.compliance;
  if (!Array.isArray(compliance) || compliance.some((c) => typeof c !== "string")) problems.push("compliance: a list of tags");
  const maxParallel = raw.max_parallel === undefined ? null : raw.max_parallel;
  if (maxParallel !== null && (!Number.isInteger(maxParallel) || (maxParallel as number) < 1)) problems.push("max_parallel: a positive integer");
  const inputs = raw.inputs === undefined ? {} : raw.inputs;
  if (!isObject(inputs)) problems.push("inputs: a mapping of input name → default (null when required)");
  if (problems.length > 0) return { template: null, name, source, problems };
  return {
    template: {
      name, source, description: typeof raw.description === "string" ? raw.description : "", compliance: compliance as string[],
      chat: raw.chat === true, maxParallel: maxParallel as number | null, inputs: inputs as Record<string, unknown>, phases,
    },
    problems: [],
  };
}

function checkPhase(name: string, value: unknown, problems: string[]): Phase | undefined {
  const at = `phase '${name}'`;
  if (!NAME.test(name)) problems.push(`${at}: the name must match ${NAME.source}`);
  if (!isObject(value)) return void problems.push(`${at}: a mapping`);
  const kinds = PHASE_KINDS.filter((k) => value[k] !== undefined);
  if (kinds.length !== 1) {
    const other = Object.keys(value).filter((k) => !["needs", "retry", "timeout_s", "when", "gate", "input", "inputs", "artifact", "name"].includes(k));
    return void problems.push(`${at}: unknown phase kind${kinds.length > 1 ? ` (${kinds.join(" and ")} together)` : other.length > 0 ? ` '${other.join(", ")}'` : ""}; give exactly one of ${PHASE_KINDS.join(", ")}`);
  }
  const kind = kinds[0]!;
  const target = value[kind];
  if (typeof target !== "string" || target.trim() === "") problems.push(`${at}: ${kind} must be a non-empty string`);
  if (kind === "command" && typeof target === "string" && !target.trim().startsWith("/")) problems.push(`${at}: command must be a slash command line such as '/scripts:run 1 + 1'`);
  if (kind === "command" && typeof target === "string" && /\$\{/.test(target.trim().split(/\s/, 1)[0]!)) problems.push(`${at}: the command's name must be written out (placeholders may fill its arguments only)`);
  if (kind === "script" && typeof target === "string") {
    for (const quoted of placeholdersInStrings(target)) problems.push(`${at}: ${quoted} is inside a string literal; in script code a placeholder is a JavaScript value (write "text " + \${inputs.x}, not "text \${inputs.x}")`);
  }
  const needs = value.needs === undefined ? [] : typeof value.needs === "string" ? [value.needs] : value.needs;
  if (!Array.isArray(needs) || needs.some((n) => typeof n !== "string")) problems.push(`${at}: needs must be a list of phase names`);
  const retry = isObject(value.retry) ? value.retry : value.retry === undefined ? {} : null;
  const attempts = retry?.attempts ?? 1;
  const backoffMs = retry?.backoff_ms ?? 1000;
  if (!retry || !Number.isInteger(attempts) || (attempts as number) < 1 || (attempts as number) > 20 || !Number.isInteger(backoffMs) || (backoffMs as number) < 0) {
    problems.push(`${at}: retry is {attempts: 1-20, backoff_ms: ≥ 0}`);
  }
  const timeoutS = value.timeout_s ?? null;
  if (timeoutS !== null && (typeof timeoutS !== "number" || timeoutS <= 0)) problems.push(`${at}: timeout_s must be a positive number`);
  let when: Condition | null = null;
  if (value.when !== undefined) {
    const parsed = typeof value.when === "string" ? parseCondition(value.when) : { error: "a string such as \"${phases.check.output} contains 'ok'\"" };
    if ("error" in parsed) problems.push(`${at}: when: ${parsed.error}`);
    else when = parsed;
  }
  const gate = value.gate === undefined || value.gate === false ? null
    : value.gate === true ? { message: `approve phase '${name}'` }
    : isObject(value.gate) && typeof value.gate.message === "string" ? { message: value.gate.message } : undefined;
  if (gate === undefined) problems.push(`${at}: gate is true or {message}`);
  const artifact = value.artifact === undefined ? null
    : isObject(value.artifact) && typeof value.artifact.name === "string" && /^[\w][\w.-]{0,127}$/.test(value.artifact.name.replace(/\$\{[^}]*\}/g, "x"))
      ? { name: value.artifact.name, mediaType: typeof value.artifact.media_type === "string" ? value.artifact.media_type : "application/octet-stream" } : undefined;
  if (artifact === undefined) problems.push(`${at}: artifact is {name (a file name), media_type}`);
  if (value.input !== undefined && typeof value.input !== "string") problems.push(`${at}: input must be a string`);
  if (value.inputs !== undefined && !isObject(value.inputs)) problems.push(`${at}: inputs must be a mapping`);
  return {
    name, kind, target: String(target ?? ""), input: typeof value.input === "string" ? value.input : null, inputs: isObject(value.inputs) ? value.inputs : {},
    needs: Array.isArray(needs) ? (needs as string[]) : [], retry: { attempts: Number(attempts), backoffMs: Number(backoffMs) },
    timeoutS: timeoutS as number | null, when, gate: gate ?? null, artifact: artifact ?? null,
  };
}

/** A cycle in the needs graph as the names along it, or undefined (depth-first search, three colours). */
export function findCycle(phases: Pick<Phase, "name" | "needs">[]): string[] | undefined {
  const byName = new Map(phases.map((p) => [p.name, p]));
  const colour = new Map<string, "grey" | "black">();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (colour.get(name) === "black") return undefined;
    if (colour.get(name) === "grey") return [...path.slice(path.indexOf(name)), name];
    colour.set(name, "grey");
    path.push(name);
    for (const need of byName.get(name)?.needs ?? []) {
      if (!byName.has(need)) continue;
      const found = visit(need);
      if (found) return found;
    }
    path.pop();
    colour.set(name, "black");
    return undefined;
  };
  for (const phase of phases) {
    const found = visit(phase.name);
    if (found) return found;
  }
  return undefined;
}

/** Templates of one folder: `<name>.yaml`, `<name>.yml`, or `<name>.md` whose front matter is the template. */
export async function templatesInFolder(dir: string): Promise<Loaded[]> {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir).sort().filter((file) => [".yaml", ".yml", ".md"].includes(extname(file)));
  if (files.length === 0) return [];
  // The YAML parser (~50 ms and ~3 MiB to load) only once there is a template to read.
  const { parse: parseYaml } = await import("yaml");
  const loaded: Loaded[] = [];
  for (const file of files) {
    const ext = extname(file);
    const path = join(dir, file);
    const name = basename(file, ext);
    try {
      let text = readFileSync(path, "utf8");
      if (ext === ".md") {
        const match = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
        if (!match) {
          loaded.push({ template: null, name, source: path, problems: ["a .md template starts with --- YAML front matter ---"] });
          continue;
        }
        text = match[1]!;
      }
      const raw = parseYaml(text) as Record<string, unknown>;
      loaded.push(checkTemplate(typeof raw?.name === "string" ? raw.name : name, raw, path));
    } catch (error) {
      loaded.push({ template: null, name, source: path, problems: [`not valid YAML: ${(error as Error).message}`] });
    }
  }
  return loaded;
}

/** Every template: files of the folders first, then `[pipelines.<name>]` (config wins on a name both define). */
export async function loadTemplates(dirs: string[], configured: Record<string, unknown>): Promise<Map<string, Loaded>> {
  const all = new Map<string, Loaded>();
  for (const dir of dirs) for (const loaded of await templatesInFolder(dir)) all.set(loaded.template?.name ?? (loaded as { name: string }).name, loaded);
  for (const [name, raw] of Object.entries(configured ?? {})) all.set(name, checkTemplate(name, raw, `[pipelines.${name}]`));
  return all;
}
