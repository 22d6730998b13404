import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { getDotted, loadConfig, redactSecrets } from "../../core/kernel/config.ts";
import { tempDir } from "../helpers.ts";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;
let dir: string;
afterEach(() => undefined);

function writeToml(text: string): string {
  dir = tempDir("gantry-config-");
  const file = join(dir, "gantry.toml");
  writeFileSync(file, text);
  return file;
}

describe("loadConfig", () => {
  test("defaults apply when nothing is given", () => {
    const config = loadConfig({ env: {}, file: undefined });
    expect(config.server.host).toBe("127.0.0.1");
    expect(config.server.port).toBe(8080);
    expect(config.data_dir).toBe("./data");
    expect(config.log.level).toBe("info");
  });

  test("gantry.toml overrides defaults and env overrides the file", () => {
    const file = writeToml(`data_dir = "/srv/gantry"\n[server]\nport = 9000\nhost = "0.0.0.0"\n[log]\nlevel = "debug"\n[plugin.cron]\nmax_runs = 4\n`);
    const config = loadConfig({ file, env: { GANTRY_PORT: "9100", GANTRY_LOG__FORMAT: "json", GANTRY_PLUGINS__DISABLED: "a, b" } });
    expect(config.server.port).toBe(9100);
    expect(config.server.host).toBe("0.0.0.0");
    expect(config.data_dir).toBe("/srv/gantry");
    expect(config.log.level).toBe("debug");
    expect(config.log.format).toBe("json");
    expect(config.plugins.disabled).toEqual(["a", "b"]);
    expect(config.plugin.cron).toEqual({ max_runs: 4 });
  });

  test("the fixed environment names are honoured", () => {
    const config = loadConfig({ env: { GANTRY_HOST: "::1", GANTRY_PORT: "1234", GANTRY_DATA_DIR: "/d", GANTRY_LOG_LEVEL: "warn" } });
    expect([config.server.host, config.server.port, config.data_dir, config.log.level]).toEqual(["::1", 1234, "/d", "warn"]);
  });

  test("an invalid file names each bad key", () => {
    const file = writeToml(`[server]\nport = "eighty"\nbogus = 1\n[log]\nlevel = "loud"\n`);
    let message = "";
    try {
      loadConfig({ file, env: {} });
    } catch (error) {
      message = (error as Error).message;
      expect((error as { code: string }).code).toBe("CONFIG_INVALID");
    }
    expect(message).toContain("server.port");
    expect(message).toContain("server.bogus: unknown key");
    expect(message).toContain("log.level: must be one of trace, debug, info, warn, error, fatal, silent");
  });

  test("a bad bootstrap admin key is a configuration error that never shows the key", () => {
    const key = "gk_admin_test_key_0123456789abcdef"; // not gk_<10 lowercase letters or digits>_<32-64>
    let error: { code?: string; message?: string; details?: unknown } = {};
    try {
      loadConfig({ env: { GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: key, GANTRY_SERVER__PORT: "eighty" } });
    } catch (caught) {
      error = caught as typeof error;
    }
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain("auth.bootstrap_admin_key: Expected string to match");
    expect(error.message).toContain('(got "eighty")'); // other values are still shown back
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain("0123456789abcdef");
    expect(loadConfig({ env: { GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: "gk_abcdefghij_0123456789abcdefghijklmnopqrstuv" } }).auth.bootstrap_admin_key).toStartWith("gk_abcdefghij_");
  });

  test("a TOML syntax error and a missing explicit file are reported", () => {
    expect(() => loadConfig({ file: writeToml("[server\nport = 1"), env: {} })).toThrow(/not valid TOML/);
    expect(() => loadConfig({ file: "/nonexistent/gantry.toml", env: {} })).toThrow(/file not found/);
  });

  test("plugin settings from the environment are read as JSON when they parse", () => {
    const config = loadConfig({ env: { GANTRY_PLUGIN__INSTANCES__PORT_RANGE: "[9000, 9010]", GANTRY_PLUGIN__INSTANCES__MAX_RUNNING: "2", GANTRY_PLUGIN__X__NAME: "plain", GANTRY_PLUGINS__DISABLED: '["a","b"]' } });
    expect(config.plugin.instances).toEqual({ port_range: [9000, 9010], max_running: 2 });
    expect(config.plugin.x).toEqual({ name: "plain" });
    expect(config.plugins.disabled).toEqual(["a", "b"]);
  });

  test("a bad env value names the key it sets", () => {
    expect(() => loadConfig({ env: { GANTRY_PORT: "99999" } })).toThrow(/server\.port/);
  });

  test("secrets are redacted and dotted keys resolve", () => {
    const config = loadConfig({ env: { GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: "gk_abcdefghij_0123456789012345678901234567890123" } });
    const redacted = redactSecrets(config);
    expect(redacted.auth.bootstrap_admin_key).toBe("[redacted]");
    expect(getDotted(redacted, "server.port")).toBe(8080);
    expect(getDotted(redacted, "server.nope")).toBeUndefined();
  });

  test("gantry.example.toml documents every key and is itself valid", () => {
    const example = join(ROOT, "gantry.example.toml");
    const config = loadConfig({ file: example, env: {} });
    const text = readFileSync(example, "utf8");
    const keys = (obj: Record<string, unknown>, prefix = ""): string[] =>
      Object.entries(obj).flatMap(([k, v]) => (v && typeof v === "object" && !Array.isArray(v) && k !== "plugin" ? keys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`]));
    for (const key of keys(config as never)) expect(text).toContain(key.split(".").at(-1)!);
  });
});

describe("gantry serve with a bad config", () => {
  test("exits non-zero with a message naming the bad keys and no stack", () => {
    const file = writeToml(`[server]\nport = -5\n`);
    const result = Bun.spawnSync([BUN, join(ROOT, "core/main.ts"), "serve", "--config", file], { env: { PATH: process.env.PATH ?? "" }, stderr: "pipe", stdout: "pipe" });
    expect(result.exitCode).toBe(1);
    const stderr = result.stderr.toString();
    expect(stderr).toContain("server.port");
    expect(stderr).not.toContain("    at ");
  });

  test("an unknown command exits 2 with help", () => {
    const result = Bun.spawnSync([BUN, join(ROOT, "core/main.ts"), "frobnicate"], { stderr: "pipe" });
    expect(result.exitCode).toBe(2);
    expect(result.stderr.toString()).toContain("unknown command 'frobnicate'");
  });
});
