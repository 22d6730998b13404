/**
 * The one redaction rule for everything gantry shows or hands on (env, config views, instance views,
 * packages, shells' environments, logs): values of secret-named keys at any depth, and secrets found
 * by their value wherever they sit: credentials inside URLs, secret-named query parameters and
 * `name=value` pairs, argument values after secret-named flags, `Bearer` tokens, gantry API keys,
 * JWTs, PEM blocks, common provider keys, and JSON held in strings.
 */

export const REDACTED = "[redacted]";

const SECRET_NAME = /(key|secret|token|password|passwd|pwd|credential|private|auth|cookie|session|signature)/i;
/** Names too short for SECRET_NAME that carry a credential as a query parameter (Azure SAS `sig`). */
const SECRET_PARAMS = new Set(["sig"]);
/**
 * Secrets recognisable by their shape alone, in one pass: gantry API keys; JWTs (three base64url
 * segments, the first a JSON header); OpenAI/Anthropic `sk-`, Hugging Face `hf_`, GitHub, GitLab,
 * Slack, AWS and Google keys. `sk-`/`hf_` also need mixed case (see looksRandom), so a model file
 * named `sk-llama-3-8b-instruct-q4_k_m` is left alone.
 */
const SHAPED_SECRET = new RegExp([
  String.raw`gk_[a-z0-9]{10}_[A-Za-z0-9_-]{32,}`,
  String.raw`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`,
  String.raw`\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{24,}|hf_[A-Za-z0-9]{30,})`,
  String.raw`\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,})`,
  String.raw`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`,
  String.raw`\bAIza[0-9A-Za-z_-]{35}`,
].join("|"), "g");
/** A PEM block (a private key, a certificate); one cut off before its END line is hidden to the end. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----[\s\S]*?(?:-----END \1-----|$)/g;
/** `scheme://user:password@` (the password part) and `scheme://token@` (a bare userinfo is a credential too). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s"']+)@/gi;
/** `name=value` inside a query string (after ? & ;) or standing alone (libpq's `host=db password=x`). */
const NAMED_VALUE = /(^|[?&;\s])([^=&#\s"'?;]+)=([^&#\s"']*)/g;
/** `--api-key=value`, `-token=value` inside one string (a command line). */
const FLAG_WITH_VALUE = /(^|\s)(--?[A-Za-z][\w.-]*)(=|\s+)("[^"]*"|'[^']*'|\S+)/g;
/** `Bearer abc`, `Basic abc` inside header-like strings. */
const AUTH_SCHEME = /\b(Bearer|bearer|BEARER|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/g;

/** True for names whose values must never be shown (config keys, env variables, headers, flags). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A flag such as `--api-key` or `-p` whose following argument is a secret. */
function isSecretFlag(arg: string): boolean {
  return /^--?[A-Za-z]/.test(arg) && isSecretName(arg.replace(/^--?/, "").split("=")[0]!);
}

/** `text` with every secret this module knows by value hidden; text holding none comes back as it was. */
export function redactText(text: string): string {
  // Cheap gates first: most strings (log fields, paths) hold none of the markers a pattern needs.
  if (text.length < 8) return text;
  if (text[0] === "{" || text[0] === "[") {
    const fromJson = redactJsonText(text);
    if (fromJson !== undefined) return fromJson;
  }
  let out = text.replace(SHAPED_SECRET, (m) => (looksRandom(m) ? REDACTED : m));
  if (out.includes("-----BEGIN ")) out = out.replace(PEM_BLOCK, (_m, label: string) => `-----BEGIN ${label}-----${REDACTED}-----END ${label}-----`);
  if (out.includes("://")) {
    out = out.replace(URL_USERINFO, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      return colon >= 0 ? `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@` : `${scheme}${REDACTED}@`;
    });
  }
  if (out.includes("=")) out = out.replace(NAMED_VALUE, (m, sep: string, name: string, value: string) => (value !== "" && isSecretParam(name) ? `${sep}${name}=${REDACTED}` : m));
  if (out.includes("-")) out = out.replace(FLAG_WITH_VALUE, (m, lead: string, flag: string, joiner: string) => (isSecretFlag(flag) ? `${lead}${flag}${joiner}${REDACTED}` : m));
  return out.replace(AUTH_SCHEME, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}

/** True when `text` holds a secret by its value (what redactText would change). */
export function carriesSecret(text: string): boolean {
  return redactText(text) !== text;
}

/** A query parameter or `name=value` pair whose value is a credential (`max_tokens=512` counts tokens: it is not one). */
function isSecretParam(name: string): boolean {
  const decoded = safeDecode(name);
  if (/tokens$/i.test(decoded)) return false;
  return isSecretName(decoded) || SECRET_PARAMS.has(decoded.toLowerCase());
}

/** `sk-`/`hf_` keys are random: both cases of letters (names of models and files seldom are, at that length, without a dot). */
function looksRandom(match: string): boolean {
  if (!match.startsWith("sk-") && !match.startsWith("hf_")) return true;
  return /[a-z]/.test(match.slice(3)) && /[A-Z]/.test(match.slice(3));
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** JSON held in a string (an env variable set to a JSON object), redacted and serialized again; as written when it holds no secret. */
function redactJsonText(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    const redacted = JSON.stringify(redactSecrets(parsed));
    return redacted === JSON.stringify(parsed) ? text : redacted;
  } catch {
    return undefined;
  }
}

/** Redacts an argument list: the value after a secret-named flag, and each argument's text. */
function redactArgs(args: unknown[], name: string, depth: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg === "string" && isSecretFlag(arg) && !arg.includes("=") && i + 1 < args.length && typeof args[i + 1] === "string") {
      out.push(arg, REDACTED);
      i++;
      continue;
    }
    out.push(redactSecrets(arg, name, depth));
  }
  return out;
}

/**
 * A deep copy with every secret-looking value replaced by "[redacted]". Depth is bounded: what lies
 * deeper than 64 levels is replaced as a whole, so hostile input cannot overflow the stack.
 */
export function redactSecrets<T>(value: T, name = "", depth = 0): T {
  if (depth > 64) return REDACTED as T;
  if (Array.isArray(value)) return redactArgs(value, name, depth + 1) as T;
  if (value && typeof value === "object") {
    if (!isPlainObject(value)) return value; // errors, dates, buffers: their owners serialize them
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v, k, depth + 1)])) as T;
  }
  if (name && isSecretName(name) && value !== "" && value !== null && value !== undefined && typeof value !== "boolean" && typeof value !== "number") return REDACTED as T;
  if (typeof value === "string") return redactText(value) as T;
  return value;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
