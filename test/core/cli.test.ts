import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ADMIN_KEY, copyFixture, FIXTURE_PLUGINS, FIXTURES, startGantry, tempDir, type TestGantry } from "../helpers.ts";

const MAIN = resolve(import.meta.dir, "../../core/main.ts");
let g: TestGantry;
const configHome = tempDir("gantry-cli-home-");

beforeAll(async () => {
  process.env.GANTRY_ADMIN_PASSWORD = "cli-admin-password";
  g = await startGantry({ config: { rate_limit: { login_per_minute: 1000 } } });
  delete process.env.GANTRY_ADMIN_PASSWORD;
});
afterAll(() => g.stop());

/** Runs the real CLI as a subprocess. */
async function cli(args: string[], options: { key?: string | null; stdin?: string } = {}) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", GANTRY_URL: g.url, XDG_CONFIG_HOME: configHome };
  if (options.key !== null) env.GANTRY_API_KEY = options.key ?? ADMIN_KEY;
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { env, stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("gantry CLI", () => {
  test("install → invoke a command → reload with a changed command → remove", async () => {
    const dir = copyFixture("hello");
    const installed = await cli(["plugin", "install", dir]);
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain("Installed hello 1.0.0 active");
    expect((await cli(["plugin", "list"])).stdout).toMatch(/hello\s+1\.0\.0\s+active\s+path/);
    expect((await cli(["commands"])).stdout).toContain("/hello:greet  <name>  Greets someone");

    const first = await cli(["/hello:greet", "Bo Li"]);
    expect(first).toMatchObject({ code: 0, stdout: "hello, Bo Li\n" });
    const source = await Bun.file(join(dir, "index.ts")).text();
    writeFileSync(join(dir, "index.ts"), source.replace("`${greeting}, ${argv[0] ?? \"world\"}`", "`good day, ${argv.join(\" & \")}`"));
    expect((await cli(["plugin", "reload", "hello"])).stdout).toContain("Reloaded hello");
    expect((await cli(["/hello:greet", "Bo Li", "Ann"])).stdout).toBe("good day, Bo Li & Ann\n");
    const json = await cli(["--json", "/hello:greet", "x"]);
    expect(JSON.parse(json.stdout)).toEqual({ qname: "hello:greet", kind: "code", result: "good day, x" });

    const info = await cli(["plugin", "info", "hello"]);
    expect(info.stdout).toContain("command: hello:greet");
    expect((await cli(["plugin", "remove", "hello"])).stdout).toBe("Removed hello\n");
    const gone = await cli(["/hello:greet", "x"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("No command 'hello:greet'");
  });

  test("a markdown command from a Claude Code folder prints its rendered prompt; a marketplace is listed, then one of its plugins installed", async () => {
    await cli(["plugin", "install", join(FIXTURES, "claude-plugins", "code-review")]);
    const out = await cli(["/code-review:review", "main", "error handling"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("Review the changes on branch main compared with main.\nFocus on: error handling");
    expect(out.stdout).toContain(`Everything the user asked: main 'error handling'`);
    await cli(["plugin", "remove", "code-review"]);

    const market = join(FIXTURES, "claude-plugins", "marketplace");
    const listing = await cli(["plugin", "install", market]);
    expect(listing.stdout).toStartWith("Marketplace example-market: install one with --plugin NAME");
    expect(listing.stdout).toMatch(/remote\s+-\s+no: remote source \(github\)/);
    const installed = await cli(["plugin", "install", market, "--plugin", "inline-only"]);
    expect(installed.stdout).toContain("Installed inline-only 2.0.0 active");
    expect(installed.stdout).toContain("unsupported: lspServers (language servers");
    await cli(["plugin", "remove", "inline-only"]);
  });

  test("dependency refusal on remove, then --force", async () => {
    await cli(["plugin", "install", join(FIXTURE_PLUGINS, "hello")]);
    await cli(["plugin", "install", join(FIXTURE_PLUGINS, "consumer")]);
    const refused = await cli(["plugin", "remove", "hello"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("required by consumer");
    expect(refused.stderr).toContain("PLUGIN_HAS_DEPENDENTS");
    expect((await cli(["plugin", "remove", "hello", "--force"])).code).toBe(0);
    await cli(["plugin", "remove", "consumer"]);
  });

  test("features list, set (typed), get, reset", async () => {
    await cli(["plugin", "install", join(FIXTURE_PLUGINS, "hello")]);
    expect((await cli(["features", "list"])).stdout).toMatch(/hello\.shout\s+false\s+boolean\s+hello/);
    expect((await cli(["features", "set", "hello.shout", "true"])).stdout).toBe("hello.shout = true (boolean; default false; set)\n");
    const wrong = await cli(["features", "set", "hello.shout", "loud"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("FLAG_VALUE_INVALID");
    expect(JSON.parse((await cli(["features", "get", "hello.shout", "--json"])).stdout).value).toBe(true);
    expect((await cli(["features", "reset", "hello.shout"])).stdout).toBe("hello.shout = false (boolean; default false)\n");
    await cli(["plugin", "remove", "hello"]);
  });

  test("login with a password saves a session (mode 600); commands use it; logout ends it", async () => {
    const login = await cli(["login", "--username", "admin", "--password-stdin"], { key: null, stdin: "cli-admin-password\n" });
    expect(login.code).toBe(0);
    expect(login.stdout).toContain("as admin (admin)");
    const file = join(configHome, "gantry", "cli.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await Bun.file(file).text());
    expect(saved.url).toBe(g.url);
    expect(saved.refresh_token).toStartWith("grt_");
    expect((await cli(["plugin", "list"], { key: null })).code).toBe(0);

    expect((await cli(["logout"], { key: null })).code).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect((await g.api("/api/v1/auth/whoami", { auth: saved.access_token })).status).toBe(401);
    const denied = await cli(["plugin", "list"], { key: null });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("gantry login");
  });

  test("a wrong password and a bad key fail clearly", async () => {
    const wrong = await cli(["login", "--username", "admin", "--password-stdin"], { key: null, stdin: "nope" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("Invalid username or password");
    const badKey = await cli(["login", "--key", "gk_abcdefghij_notarealkeynotarealkeynotarealkey00"], { key: null });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain("INVALID_CREDENTIAL");
  });

  test("the package bin runs the CLI under the installed Bun, from Node", async () => {
    // bun test puts a `node` that is Bun first on PATH; find the real Node.js.
    const node = Bun.which("node", { PATH: (process.env.PATH ?? "").split(":").filter((d) => !d.includes("bun-node")).join(":") });
    expect(node).toBeTruthy();
    const proc = Bun.spawn([node!, resolve(import.meta.dir, "../../bin/gantry.js"), "--version"], { stdout: "pipe", stderr: "pipe" });
    expect(await new Response(proc.stdout).text()).toBe(`${(await import("../../package.json")).version}\n`);
    expect(await proc.exited).toBe(0);
  });

  test("help everywhere; usage errors exit 2; errors name the problem", async () => {
    for (const args of [["--help"], ["help", "plugin"], ["plugin", "--help"], ["features", "-h"], ["login", "--help"], ["help", "/x:y"]]) {
      const out = await cli(args);
      expect([args.join(" "), out.code]).toEqual([args.join(" "), 0]);
      expect(out.stdout.length).toBeGreaterThan(50);
    }
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["plugin"])).code).toBe(2);
    expect((await cli(["plugin", "info"])).code).toBe(2);
    expect((await cli(["plugin", "list", "--nope"])).code).toBe(2);
    const missing = await cli(["plugin", "info", "ghost"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("gantry: Plugin 'ghost' is not installed (PLUGIN_NOT_FOUND)\n");
    const unreachable = await cli(["plugin", "list", "--url", "http://127.0.0.1:9"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("Cannot reach gantry at http://127.0.0.1:9");
  });
});
