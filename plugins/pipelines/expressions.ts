/**
 * `${...}` placeholders and `when` conditions. Placeholders: `${inputs.NAME}`, `${phases.PHASE.output}`,
 * `${phases.PHASE.output.FIELD}`, `${phases.PHASE.state}`, `${run.id}`, `${attempt}`. A condition is
 * `LEFT == RIGHT`, `LEFT != RIGHT`, `LEFT contains RIGHT` (sides quoted or bare, placeholders filled)
 * or one value that must be truthy (not empty, "false", "0" or "null").
 */

export interface Scope {
  run: { id: string };
  inputs: Record<string, unknown>;
  phases: Record<string, { state: string; output: unknown }>;
  attempt: number;
}

export type Condition = { left: string; op: "==" | "!=" | "contains" | "truthy"; right: string };

const PLACEHOLDER = /\$\{\s*([A-Za-z_][\w.-]*)\s*\}/g;

const text = (value: unknown): string => (value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value));

/** The value a dotted path names in the scope (undefined when it names nothing). */
export function lookup(scope: Scope, path: string): unknown {
  let node: unknown = scope;
  for (const part of path.split(".")) {
    if (typeof node === "string") {
      try {
        node = JSON.parse(node);
      } catch {
        return undefined;
      }
    }
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Fills the placeholders of `template`; values that are not strings are written as JSON. */
export function interpolate(template: string, scope: Scope): string {
  return template.replace(PLACEHOLDER, (_, path: string) => text(lookup(scope, path)));
}

/** Fills the placeholders of script code with JavaScript literals (JSON), so a value is data and never code. */
export function interpolateAsCode(code: string, scope: Scope): string {
  return code.replace(PLACEHOLDER, (_, path: string) => JSON.stringify(lookup(scope, path) ?? null));
}

/** Placeholders written inside a string literal of script code (`'${inputs.x}'`), where a literal cannot go. */
export function placeholdersInStrings(code: string): string[] {
  const found: string[] = [];
  let quote: string | null = null;
  for (let i = 0; i < code.length; i++) {
    const c = code[i]!;
    if (quote === null) {
      if (c === "'" || c === '"' || c === "`") quote = c;
      continue;
    }
    if (c === "\\") i++;
    else if (c === quote) quote = null;
    else if (c === "$" && code[i + 1] === "{") {
      const match = new RegExp(PLACEHOLDER.source, "y");
      match.lastIndex = i;
      const m = match.exec(code);
      if (m) found.push(m[0]);
    }
  }
  return found;
}

const unquote = (side: string) => {
  const s = side.trim();
  return /^(['"]).*\1$/s.test(s) ? s.slice(1, -1) : s;
};

/** Parses a `when` string; an error says what is accepted. */
export function parseCondition(source: string): Condition | { error: string } {
  const trimmed = source.trim();
  if (trimmed === "") return { error: "empty condition" };
  const match = /^(.+?)\s+(==|!=|contains)\s+(.+)$/s.exec(trimmed);
  if (match) return { left: unquote(match[1]!), op: match[2] as Condition["op"], right: unquote(match[3]!) };
  if (/\s(=|<|>|<=|>=|===)\s/.test(trimmed)) return { error: `'${trimmed}': the operators are ==, != and contains` };
  return { left: unquote(trimmed), op: "truthy", right: "" };
}

/** Whether the condition holds in the scope. */
export function holds(condition: Condition, scope: Scope): boolean {
  const left = interpolate(condition.left, scope);
  const right = interpolate(condition.right, scope);
  switch (condition.op) {
    case "==": return left === right;
    case "!=": return left !== right;
    case "contains": return left.includes(right);
    case "truthy": return !["", "false", "0", "null"].includes(left.trim());
  }
}
