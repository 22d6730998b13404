/** The process environment as operators may see it: sorted, secrets redacted. */
import { isSecretName } from "gantry/plugin";

const REDACTED = "[redacted]";
const GANTRY_KEY = /gk_[a-z0-9]{10}_[A-Za-z0-9_-]{32,}/g;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi;

/** Hides values of secret-looking names, API keys anywhere, and passwords inside URLs. */
export function redactedEnvironment(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const entries = Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => [name, isSecretName(name) ? REDACTED : value.replace(GANTRY_KEY, REDACTED).replace(URL_PASSWORD, `$1${REDACTED}@`)]);
  return Object.fromEntries(entries);
}
