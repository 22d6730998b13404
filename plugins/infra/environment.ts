/** The process environment as operators may see it: sorted, secrets redacted by core's one rule. */
import { isSecretName, redactSecrets } from "gantry/plugin";

/** Hides values of secret-looking names, and secrets inside the other values (URLs, JSON, flags, API keys). */
export function redactedEnvironment(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const entries = Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => [name, isSecretName(name) ? "[redacted]" : redactSecrets(value)]);
  return Object.fromEntries(entries);
}
