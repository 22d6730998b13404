/**
 * Secret scan: a marker secret in every place gantry keeps configuration (env variables, JSON-valued
 * env, gantry.toml plugin sections, MCP server specs, instance env, command lines and model URL,
 * secrets known by their value alone: a JWT, a PEM block, a provider key), then every
 * GET route in /openapi.json, the script host API and every log line are scanned for a marker.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS, json, startGantry, STAND_IN_MODEL_SERVER, tempDir, type TestGantry } from "../helpers.ts";

const MARK = "SECRETMARK";
const mark = (n: number) => `${MARK}${n}x`;
let g: TestGantry;
const env: Record<string, string> = {
  SCAN_MCP_SERVERS: JSON.stringify({ hub: { type: "http", url: `https://hub.example/mcp?token=${mark(1)}`, headers: { Authorization: `Bearer ${mark(2)}` } }, local: { command: "srv", args: ["--api-key", mark(3), `--token=${mark(4)}`], env: { GITHUB_TOKEN: mark(5) } } }),
  SCAN_DSN: `postgres://app:${mark(6)}@db.internal:5432/app`,
  SCAN_WEBHOOK: `https://hooks.example/x?access_token=${mark(7)}&channel=ops`,
  SCAN_CMD: `llama-server --model m.gguf --api-key ${mark(8)} --port 9000`,
  SCAN_PASSWORD: mark(9),
  // Secrets known by their value alone, under names that say nothing.
  SCAN_HEADER: `Bearer eyJhbGciOiJIUzI1NiJ9.eyJ${mark(23)}.c2lnbmF0dXJl`,
  SCAN_PEM: `-----BEGIN EC PRIVATE KEY-----\n${mark(24)}\n-----END EC PRIVATE KEY-----`,
  SCAN_OPENAI: `sk-proj-${mark(25)}AbCdEf0123456789xYz`,
};

beforeAll(async () => {
  Object.assign(process.env, env);
  const configFile = join(tempDir("gantry-scan-"), "gantry.toml");
  writeFileSync(configFile, [
    "[plugin.scan]", `dsn = "redis://:${mark(10)}@cache:6379/0"`, `endpoint = "https://api.example/v1?key=${mark(11)}"`, `client_secret = "${mark(12)}"`,
    `nested = { deeper = { api_token = "${mark(13)}" } }`, `argv = ["--password", "${mark(14)}"]`,
  ].join("\n"));
  g = await startGantry({
    builtins: BUILTIN_PLUGINS, configFile,
    config: {
      log: { level: "debug" },
      plugin: { mcp: { servers: {
        hub: { type: "http", url: `http://127.0.0.1:9/mcp?token=${mark(15)}`, headers: { Authorization: `Bearer ${mark(16)}` } },
        local: { command: "/nonexistent/mcp-server", args: ["--api-key", mark(17)], env: { API_TOKEN: mark(18) } },
      } } },
    },
  });
  const created = await g.api("/api/v1/instances", json("POST", {
    name: "scan", backend: "command", model_path: `https://u:${mark(21)}@models.example/m.gguf?token=${mark(22)}`, env: { HF_TOKEN: mark(19) },
    command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}", "--api-key", mark(20)],
  }));
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await g.stop();
  for (const name of Object.keys(env)) delete process.env[name];
});

test("no marker secret appears in any GET route, the script API or the log", async () => {
  const spec = await (await g.api("/openapi.json")).json();
  const paths = Object.entries<Record<string, unknown>>(spec.paths)
    .filter(([, item]) => "get" in item)
    .map(([path]) => path.replace("{name}", "scan").replace("{key}", "plugin.scan"))
    .filter((path) => !path.includes("{"));
  paths.push("/api/v1/infra/config/plugin.scan.dsn", "/api/v1/infra/config/plugin.mcp.servers", "/api/v1/mcp/servers/hub", "/api/v1/mcp/servers/local");
  expect(paths.length).toBeGreaterThan(40);
  const leaks: string[] = [];
  for (const path of paths) {
    const body = await (await g.api(path)).text();
    if (body.includes(MARK)) leaks.push(`${path}: ${body.slice(Math.max(0, body.indexOf(MARK) - 80), body.indexOf(MARK) + 20)}`);
  }
  const script = await (await g.api("/api/v1/scripts/run", json("POST", { code: "result = [await gantry.config(), await gantry.instances(), await gantry.plugins()]" }))).text();
  if (script.includes(MARK)) leaks.push(`gantry.config(): ${script.slice(script.indexOf(MARK) - 80, script.indexOf(MARK) + 20)}`);
  for (const line of g.logs.lines) if (line.includes(MARK)) leaks.push(`log: ${line.slice(0, 300)}`);
  expect(leaks).toEqual([]);
  // The values are still there, redacted in place: the shape stays readable.
  const shown = await (await g.api("/env")).json();
  expect(shown.SCAN_DSN).toBe("postgres://app:[redacted]@db.internal:5432/app");
  expect(shown.SCAN_WEBHOOK).toBe("https://hooks.example/x?access_token=[redacted]&channel=ops");
  expect(JSON.parse(shown.SCAN_MCP_SERVERS).local.args).toEqual(["--api-key", "[redacted]", "--token=[redacted]"]);
});
