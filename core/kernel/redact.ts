/**
 * The one redaction rule for everything gantry shows (env, config views, instance views, logs):
 * values of secret-named keys at any depth, credentials inside URLs, secret-named query parameters,
 * argument values after secret-named flags, gantry API keys anywhere, and JSON held in strings.
 */

export const REDACTED = "[redacted]";

const SECRET_NAME = /(key|secret|token|password|passwd|pwd|credential|private|auth|cookie|session|signature)/i;
const GANTRY_KEY = /gk_[a-z0-9]{10}_[A-Za-z0-9_-]{32,}/g;
/** `scheme://user:password@` (the password part) and `scheme://token@` (a bare userinfo is a credential too). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s"']+)@/gi;
/** `name=value` inside a query string (after ? or &). */
const QUERY_PARAM = /([?&;])([^=&#\s"']+)=([^&#\s"']*)/g;
/** `--api-key=value`, `-token=value` inside one string (a command line). */
const FLAG_WITH_VALUE = /(^|\s)(--?[A-Za-z][\w.-]*)(=|\s+)("[^"]*"|'[^']*'|\S+)/g;
/** `Bearer abc`, `Basic abc` inside header-like strings. */
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/g;

/** True for names whose values must never be shown (config keys, env variables, headers, flags). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A flag such as `--api-key` or `-p` whose following argument is a secret. */
function isSecretFlag(arg: string): boolean {
  return /^--?[A-Za-z]/.test(arg) && isSecretName(arg.replace(/^--?/, "").split("=")[0]!);
}

/** `text` with URL credentials, secret query parameters, secret flag values, auth headers and API keys hidden. */
export function redactText(text: string): string {
  if (text.length > 0 && (text[0] === "{" || text[0] === "[")) {
    const fromJson = redactJsonText(text);
    if (fromJson !== undefined) return fromJson;
  }
  return text
    .replace(GANTRY_KEY, REDACTED)
    .replace(URL_USERINFO, (_m, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      return colon >= 0 ? `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@` : `${scheme}${REDACTED}@`;
    })
    .replace(QUERY_PARAM, (m, sep: string, name: string) => (isSecretName(safeDecode(name)) ? `${sep}${name}=${REDACTED}` : m))
    .replace(FLAG_WITH_VALUE, (m, lead: string, flag: string, joiner: string) => (isSecretFlag(flag) ? `${lead}${flag}${joiner}${REDACTED}` : m))
    .replace(AUTH_SCHEME, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** JSON held in a string (an env variable set to a JSON object), redacted and serialized again. */
function redactJsonText(text: string): string | undefined {
  try {
    return JSON.stringify(redactSecrets(JSON.parse(text)));
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
