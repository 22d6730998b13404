/** A gantry started as a real process (any runtime, or the single binary), found by its "gantry listening" log line. */
import { expect } from "bun:test";
import { rmSync } from "node:fs";
import { ADMIN_KEY, dropTestDatabase, modelPortsOf, portRangeEnv, STAND_IN_MCP_SERVER, tempDir, testDatabaseEnv } from "../helpers.ts";

export const ADMIN_PASSWORD = "runtime-suite-password";

export interface GantryProcess {
  url: string;
  dataDir: string;
  /** Every line it wrote (stdout and stderr). */
  lines: string[];
  /** fetch relative to the server with the admin key, unless headers name another. */
  api(path: string, init?: RequestInit & { auth?: string | false }): Promise<Response>;
  stop(): Promise<void>;
}

/** Starts `command` (which must end in a `gantry serve` that honours GANTRY_* variables) on a free port. */
export async function startGantryProcess(
  command: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; /** Kept at stop (the caller removes it). */ dataDir?: string } = {},
): Promise<GantryProcess> {
  const dataDir = options.dataDir ?? tempDir("gantry-runtime-");
  const proc = Bun.spawn(command, {
    cwd: options.cwd ?? dataDir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      GANTRY_DATA_DIR: dataDir,
      GANTRY_PORT: "0",
      GANTRY_HOST: "127.0.0.1",
      GANTRY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      GANTRY_RATE_LIMIT__ENABLED: "false",
      GANTRY_LOG__FORMAT: "json",
      // A stdio MCP server (the stand-in, on this test's Bun) for the suite's MCP check.
      GANTRY_PLUGIN__MCP__SERVERS: JSON.stringify({ tools: { command: process.execPath, args: [STAND_IN_MCP_SERVER] } }),
      ...testDatabaseEnv(dataDir),
      ...portRangeEnv(await modelPortsOf(dataDir)),
      ...options.env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  let url = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buffered = "";
    for await (const chunk of stream) {
      buffered += new TextDecoder().decode(chunk);
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.includes("gantry listening")) url = JSON.parse(line).url;
      }
    }
  };
  const pumps = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000); // a ceiling for a hang: a loaded machine starts slowly
  while (!url && proc.exitCode === null && Date.now() < deadline) await Bun.sleep(20);
  if (!url) {
    proc.kill("SIGKILL");
    await pumps;
    throw new Error(`gantry did not start (${command.join(" ")}):\n${lines.slice(-30).join("\n")}`);
  }
  return {
    url, dataDir, lines,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.auth !== false && !headers.has("authorization")) headers.set("authorization", `Bearer ${init.auth ?? ADMIN_KEY}`);
      return fetch(url + path, { ...init, headers });
    },
    async stop() {
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
      if (!exited) proc.kill("SIGKILL");
      // GANTRY_SUITE_LOG=1 prints what the server logged above info, to see why a leg failed.
      if (process.env.GANTRY_SUITE_LOG) console.error(lines.filter((l) => !l.includes("\"level\":30")).join("\n"));
      // A child that outlived it (it must not) would hold the pipes open: the exit is what counts.
      await Promise.race([pumps, Bun.sleep(5000)]);
      expect(exited, `gantry did not exit on SIGTERM:\n${lines.slice(-20).join("\n")}`).toBe(true);
      if (options.dataDir) return;
      rmSync(dataDir, { recursive: true, force: true });
      await dropTestDatabase(dataDir);
    },
  };
}
