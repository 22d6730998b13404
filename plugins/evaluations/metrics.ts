/**
 * The metrics an evaluation scores each answer with. Every score is in [0, 1]: pass/fail metrics
 * give 0 or 1; embedding similarity gives the cosine of answer and expected; the LLM judge gives
 * its score divided by the scale.
 */
import type { ValidateFunction } from "ajv";

export type MetricType = "exact_match" | "contains" | "regex" | "json_schema" | "numeric" | "embedding_similarity" | "llm_judge";
export const METRIC_TYPES: MetricType[] = ["exact_match", "contains", "regex", "json_schema", "numeric", "embedding_similarity", "llm_judge"];
/** Metrics whose scores are 0 or 1 (their intervals are Wilson's). */
export const BINARY: ReadonlySet<string> = new Set(["exact_match", "contains", "regex", "json_schema", "numeric"]);

export interface MetricSpec {
  name: string;
  type: MetricType;
  [option: string]: unknown;
}

export interface ScoringTools {
  /** Embeds texts with an instance (through the inference service). */
  embed(model: string, texts: string[]): Promise<Float32Array[]>;
  /** One chat completion's text. */
  chat(model: string, messages: { role: string; content: string }[]): Promise<string>;
  judge: { model: string; rubric: string; scale: number } | null;
}

export interface RowToScore {
  input: string;
  expected: string | null;
  output: string;
}

/** Ajv, loaded when a json_schema metric is first used (it costs startup time otherwise). */
let ajv: Promise<import("ajv").default> | undefined;
const loadAjv = () => (ajv ??= import("ajv").then(({ default: Ajv }) => new Ajv({ allErrors: false, strict: false })));
const validators = new WeakMap<object, ValidateFunction>();

/** Checks a metric spec (before anything runs); answers the problem or undefined. */
export async function checkMetric(m: MetricSpec, hasExpected: boolean, judge: ScoringTools["judge"]): Promise<string | undefined> {
  if (!METRIC_TYPES.includes(m.type)) return `unknown metric type '${m.type}' (${METRIC_TYPES.join(", ")})`;
  const needsExpected = ["exact_match", "contains", "numeric", "embedding_similarity"].includes(m.type) || (m.type === "regex" && m.pattern === undefined);
  if (needsExpected && !hasExpected) return `${m.name} needs an expected column`;
  if (m.type === "regex") {
    try {
      new RegExp(String(m.pattern ?? "x"), typeof m.flags === "string" ? m.flags : "");
    } catch (error) {
      return `${m.name}: ${(error as Error).message}`;
    }
  }
  if (m.type === "json_schema") {
    if (typeof m.schema !== "object" || m.schema === null) return `${m.name} needs a schema (a JSON Schema object)`;
    try {
      validators.set(m, (await loadAjv()).compile(m.schema));
    } catch (error) {
      return `${m.name}: the schema is invalid: ${(error as Error).message}`;
    }
  }
  if (m.type === "numeric" && m.tolerance !== undefined && !(typeof m.tolerance === "number" && m.tolerance >= 0)) return `${m.name}: tolerance must be a number ≥ 0`;
  if (m.type === "embedding_similarity" && (typeof m.model !== "string" || m.model === "")) return `${m.name} needs model (an instance serving embeddings)`;
  if (m.type === "llm_judge" && !judge) return `${m.name} needs judge: {model, rubric?}`;
  return undefined;
}

const normalize = (s: string, ignoreCase: unknown) => (ignoreCase === false ? s.trim() : s.trim().toLowerCase());
const firstNumber = (s: string) => {
  const match = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/i.exec(s.replaceAll(",", ""));
  return match ? Number(match[0]) : undefined;
};
/** JSON out of an answer, also when it is wrapped in a ``` fence. */
const jsonOf = (s: string) => JSON.parse(/```(?:json)?\s*([\s\S]*?)```/.exec(s)?.[1] ?? s);

const cosine = (a: Float32Array, b: Float32Array) => {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) [dot, na, nb] = [dot + a[i]! * b[i]!, na + a[i]! ** 2, nb + b[i]! ** 2];
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
};

export const JUDGE_PROMPT = (rubric: string, scale: number, row: RowToScore) =>
  `Grade the answer below by this rubric:\n${rubric}\n\nQuestion:\n${row.input}\n\n${row.expected !== null ? `Reference answer:\n${row.expected}\n\n` : ""}Answer to grade:\n${row.output}\n\nReply with a single number from 0 to ${scale}.`;

/** Scores one answer; a metric that cannot score gives 0 and a note. */
export async function score(m: MetricSpec, row: RowToScore, tools: ScoringTools): Promise<{ score: number; note?: string }> {
  const expected = row.expected ?? "";
  switch (m.type) {
    case "exact_match":
      return { score: normalize(row.output, m.ignore_case) === normalize(expected, m.ignore_case) ? 1 : 0 };
    case "contains":
      return { score: normalize(row.output, m.ignore_case).includes(normalize(expected, m.ignore_case)) ? 1 : 0 };
    case "regex":
      return { score: new RegExp(String(m.pattern ?? expected), typeof m.flags === "string" ? m.flags : "").test(row.output) ? 1 : 0 };
    case "json_schema": {
      let value: unknown;
      try {
        value = jsonOf(row.output);
      } catch {
        return { score: 0, note: "the answer is not JSON" };
      }
      const compiler = await loadAjv();
      let validate = validators.get(m);
      if (!validate) validators.set(m, (validate = compiler.compile(m.schema as object)));
      return validate(value) ? { score: 1 } : { score: 0, note: compiler.errorsText(validate.errors) };
    }
    case "numeric": {
      const [got, want] = [firstNumber(row.output), firstNumber(expected)];
      if (got === undefined || want === undefined) return { score: 0, note: got === undefined ? "no number in the answer" : "no number in the expected value" };
      const tolerance = typeof m.tolerance === "number" ? m.tolerance : 1e-9;
      const allowed = m.relative === true ? tolerance * Math.abs(want) : tolerance;
      return { score: Math.abs(got - want) <= allowed ? 1 : 0, note: `${got} vs ${want}` };
    }
    case "embedding_similarity": {
      const [a, b] = await tools.embed(String(m.model), [row.output, expected]);
      return { score: Math.max(0, Math.min(1, cosine(a!, b!))) };
    }
    case "llm_judge": {
      const judge = tools.judge!;
      const rubric = typeof m.rubric === "string" ? m.rubric : judge.rubric;
      const reply = await tools.chat(judge.model, [{ role: "user", content: JUDGE_PROMPT(rubric, judge.scale, row) }]);
      const value = firstNumber(reply);
      if (value === undefined) return { score: 0, note: `the judge gave no number: ${reply.slice(0, 200)}` };
      return { score: Math.max(0, Math.min(judge.scale, value)) / judge.scale, note: reply.slice(0, 500) };
    }
  }
}
