/** The CLI for models (ps, run, stop, logs, models, export) run as a real subprocess against a real gantry with stand-in model servers. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "smol-toml";
import { ADMIN_KEY, BUILTIN_PLUGINS, STAND_IN_MODEL_SERVER, startGantry, tempDir, type TestGantry } from "../helpers.ts";

const MAIN = resolve(import.meta.dir, "../../core/main.ts");
const configHome = tempDir("gantry-cli-home-");
const configFile = join(tempDir(), "gantry.toml");
let g: TestGantry;
let viewerKey: string;

beforeAll(async () => {
  const command = JSON.stringify([process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--model", "{model_path}"]);
  writeFileSync(configFile, `[models.alpha]\nbackend = "command"\nmodel_path = "alpha"\ncommand = ${command}\naliases = ["gpt-4o-mini"]\n\n[models.beta]\nbackend = "command"\nmodel_path = "beta"\ncommand = ${command}\n`);
  g = await startGantry({
    builtins: BUILTIN_PLUGINS, configFile,
    config: {
      plugins: { disabled: readdirSync(BUILTIN_PLUGINS).filter((name) => name !== "instances") },
      rate_limit: { enabled: false }, plugin: { instances: { stop_timeout_s: 2 } },
    },
  });
  viewerKey = (await g.gantry.security.keys.create("viewer", "viewer")).key;
});
afterAll(() => g.stop());

async function cli(args: string[], options: { stdin?: string; key?: string } = {}) {
  const env = { PATH: process.env.PATH ?? "", GANTRY_URL: g.url, XDG_CONFIG_HOME: configHome, GANTRY_API_KEY: options.key ?? ADMIN_KEY };
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { env, stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("gantry CLI for models", () => {
  test("bare gantry prints help (exit 0); an unknown command prints help on stderr (exit 2); usage errors exit 2", async () => {
    const bare = await cli([]);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toContain("gantry run MODEL [PROMPT...]");
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(unknown.stderr).toContain("gantry ps");
    expect((await cli(["run"])).code).toBe(2);
    expect((await cli(["models", "sideways"])).code).toBe(2);
    expect((await cli(["ps", "--nope"])).code).toBe(2);
    expect((await cli(["logs", "alpha", "-n", "many"])).code).toBe(2);
    const help = await cli(["run", "--help"]);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining("/bye")]);
  });

  test("models and ps: tables for people, --json for scripts, flags before or after the command", async () => {
    const list = await cli(["models"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/NAME\s+STATUS\s+ORIGIN\s+BACKEND\s+MODEL\s+ALIASES/);
    expect(list.stdout).toMatch(/alpha\s+stopped\s+declared\s+command\s+alpha\s+gpt-4o-mini/);
    const asJson = JSON.parse((await cli(["--json", "models"])).stdout);
    expect(asJson.map((i: { name: string }) => i.name)).toEqual(["alpha", "beta"]);
    expect((await cli(["ps"])).stdout).toBe("No model is running\n");
    expect(JSON.parse((await cli(["ps", "--json"])).stdout)).toEqual([]);
    expect(JSON.parse((await cli(["--url", g.url, "--json", "ps"])).stdout)).toEqual([]);
  });

  test("run with a prompt starts the model and prints the answer; an alias works; ps shows it running", async () => {
    // The stand-in streams "You said: <prompt>" word by word.
    const answer = await cli(["run", "alpha", "hello", "there"]);
    expect(answer).toMatchObject({ code: 0, stdout: "You said: hello there\n" });
    expect((await cli(["run", "gpt-4o-mini", "by alias"])).stdout).toBe("You said: by alias\n");
    const ps = await cli(["ps"]);
    expect(ps.stdout).toMatch(/NAME\s+STATUS\s+BACKEND\s+PORT\s+PID\s+MEMORY\s+UPTIME/);
    expect(ps.stdout).toMatch(/alpha\s+running\s+command\s+\d+\s+\d+/);
    expect(ps.stdout).not.toContain("beta");
    const asJson = JSON.parse((await cli(["run", "alpha", "--json", "structured"])).stdout);
    expect(asJson).toEqual({ model: "alpha", prompt: "structured", answer: "You said: structured" });
  });

  test("run without a prompt chats one line of stdin at a time, until /bye", async () => {
    const chat = await cli(["run", "alpha"], { stdin: "one\n\ntwo\n/bye\nnever\n" });
    expect(chat).toMatchObject({ code: 0, stdout: "You said: one\nYou said: two\n" });
  });

  test("logs prints the server's output, -f follows it", async () => {
    const logs = await cli(["logs", "alpha", "-n", "50"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("listening on");
    const follow = Bun.spawn([process.execPath, MAIN, "logs", "-f", "alpha"], { env: { PATH: process.env.PATH ?? "", GANTRY_URL: g.url, XDG_CONFIG_HOME: configHome, GANTRY_API_KEY: ADMIN_KEY }, stdout: "pipe", stderr: "pipe" });
    const reader = follow.stdout.getReader();
    let seen = "";
    while (!seen.includes("listening on")) seen += new TextDecoder().decode((await reader.read()).value);
    follow.kill();
    await follow.exited;
  });

  test("stop, /instances:list as a table, export; errors print the message and exit non-zero", async () => {
    const table = await cli(["/instances:list"]);
    expect(table.stdout).toMatch(/NAME\s+STATUS\s+ORIGIN\s+BACKEND\s+PORT\s+PID/);
    expect(table.stdout).toMatch(/alpha\s+running\s+declared/);
    const refused = await cli(["stop", "alpha"], { key: viewerKey });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("gantry: ");
    expect(refused.stderr).not.toContain("    at ");
    expect(await cli(["stop", "alpha"])).toMatchObject({ code: 0, stdout: "Stopped alpha\n" });
    const ghost = await cli(["stop", "ghost"]);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain("No model 'ghost'");
    const exported = await cli(["models", "export"]);
    expect(exported.code).toBe(0);
    expect(Object.keys((parse(exported.stdout) as { models: object }).models)).toEqual(["alpha", "beta"]);
    const down = await cli(["ps"], { key: ADMIN_KEY });
    expect(down.stdout).toBe("No model is running\n");
  });
});
