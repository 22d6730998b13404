/**
 * Ollama's `keep_alive`: how long a model stays loaded after a request. A duration string as Go
 * writes it (`"5m"`, `"1h30m"`, `"90s"`), or a number of seconds; `0` unloads once the request is
 * done; a negative value keeps the model loaded until something else stops it.
 */
import { createError, defineErrors } from "gantry/plugin";

export const KeepAliveErrors = defineErrors("instances", {
  KEEP_ALIVE_INVALID: createError("KEEP_ALIVE_INVALID", 400, (value: string) => `keep_alive '${value}' is not a duration: give seconds (300), a duration ("5m", "1h30m"), 0 to unload after this request or a negative value to keep the model loaded`),
});

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(-)?((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/;
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;

/** keep_alive → milliseconds: Infinity for a negative value; throws KEEP_ALIVE_INVALID for anything else that is not a duration. */
export function keepAliveMs(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value)) return value < 0 ? Infinity : Math.round(value * 1000);
  if (typeof value !== "string" || value.length > 64) throw KeepAliveErrors.KEEP_ALIVE_INVALID([String(value).slice(0, 64)]);
  const trimmed = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return keepAliveMs(Number(trimmed));
  const match = DURATION.exec(trimmed);
  if (!match) throw KeepAliveErrors.KEEP_ALIVE_INVALID([value]);
  if (match[1]) return Infinity;
  let ms = 0;
  for (const [, amount, unit] of match[2]!.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(ms);
}
