/** Holds the running configuration and reloads it: validates first, keeps the old one on error, reports what applied live. */
import { getDotted, setDotted, type GantryConfig } from "./config.ts";

/** Keys that only take effect at the next start. */
const RESTART_KEYS = ["data_dir", "server.host", "server.port", "plugins.dir", "plugins.disabled", "auth.bootstrap_admin_key", "cluster"];

export interface ConfigReloadResult {
  config: GantryConfig;
  /** Dotted keys whose value changed. */
  changed: string[];
  /** Changed keys now in effect. */
  applied: string[];
  /** Changed keys that need a restart (the running server keeps the old value). */
  restart_required: string[];
  /** Changed `plugin.<name>.*` keys: the plugin sees them after its next reload. */
  plugin_reload_required: string[];
}

export class ConfigManager {
  #current: GantryConfig;
  readonly #listeners: ((next: GantryConfig, previous: GantryConfig) => void)[] = [];

  constructor(initial: GantryConfig, private readonly read: () => GantryConfig) {
    this.#current = initial;
  }

  get current(): GantryConfig {
    return this.#current;
  }

  /** Runs `fn` after every successful reload. */
  onChange(fn: (next: GantryConfig, previous: GantryConfig) => void): void {
    this.#listeners.push(fn);
  }

  /** Re-reads the sources. Throws CONFIG_INVALID (400) and keeps the running config when they are invalid. */
  reload(): ConfigReloadResult {
    const next = this.read();
    const previous = this.#current;
    const changed = changedKeys(previous, next);
    const restart = changed.filter((k) => RESTART_KEYS.some((r) => k === r || k.startsWith(`${r}.`)));
    const pluginKeys = changed.filter((k) => k.startsWith("plugin."));
    // Keys that need a restart keep their running value, so what gantry reports stays true.
    const effective = structuredClone(next);
    for (const key of restart) setDotted(effective as unknown as Record<string, unknown>, key, getDotted(previous, key));
    this.#current = effective;
    for (const listener of this.#listeners) listener(effective, previous);
    return {
      config: effective,
      changed,
      applied: changed.filter((k) => !restart.includes(k) && !pluginKeys.includes(k)),
      restart_required: restart,
      plugin_reload_required: pluginKeys,
    };
  }
}

/** Dotted keys whose value differs between two configurations. */
export function changedKeys(a: unknown, b: unknown, prefix = ""): string[] {
  const isObject = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    return [...keys].flatMap((k) => changedKeys((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}
