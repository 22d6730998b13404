import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { ADMIN_KEY, FIXTURE_PLUGINS, tempDir, testDatabaseEnv, waitFor } from "../helpers.ts";

const ROOT = resolve(import.meta.dir, "../..");

/** Starts `gantry serve` as a real process and waits for its "listening" line. */
async function spawnGantry(dataDir: string) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "core/main.ts"), "serve", "--port", "0"], {
    env: {
      PATH: process.env.PATH ?? "",
      GANTRY_DATA_DIR: dataDir,
      GANTRY_PLUGINS__DIR: FIXTURE_PLUGINS,
      GANTRY_PLUGINS__DISABLED: "clash,slow-dispose",
      GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
      GANTRY_LOG__FORMAT: "json",
      ...testDatabaseEnv(dataDir),
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const reader = proc.stdout.getReader();
  let url = "";
  const pump = (async () => {
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += new TextDecoder().decode(value);
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.includes("gantry listening")) url = JSON.parse(line).url;
      }
    }
  })();
  const deadline = Date.now() + 60_000; // a ceiling for a hang: a loaded machine starts slowly
  while (!url && Date.now() < deadline && proc.exitCode === null) await Bun.sleep(20);
  if (!url) throw new Error(`gantry did not start: ${lines.join("\n")}`);
  return { proc, url, lines, pump };
}

describe("graceful shutdown", () => {
  test("SIGTERM finishes in-flight requests, disposes plugins in reverse order, exits 0", async () => {
    const dataDir = tempDir();
    const { proc, url, lines, pump } = await spawnGantry(dataDir);
    const inFlight = fetch(`${url}/api/v1/hello/slow?ms=400`);
    await waitFor(() => lines.some((l) => l.includes('"slow request started"')), 60_000, "the slow request to reach its handler");
    proc.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    expect(await proc.exited).toBe(0);
    await pump;
    const records = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const stopped = records.filter((r) => r.msg === "plugin stopped").map((r) => r.plugin);
    expect(stopped.indexOf("consumer")).toBeLessThan(stopped.indexOf("hello"));
    // "stopped" comes after every plugin has stopped (an in-flight request's own log line may still follow it).
    const messages = records.map((r) => r.msg);
    expect(messages.lastIndexOf("stopped")).toBeGreaterThan(messages.lastIndexOf("plugin stopped"));
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("buffered log output: a request's line reaches stdout while gantry runs and is idle; all lines by exit", async () => {
    const dataDir = tempDir();
    const { proc, url, lines, pump } = await spawnGantry(dataDir);
    const res = await fetch(`${url}/api/v1/hello/greeting`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, "x-request-id": "buffered-1" } });
    expect(res.status).toBe(200);
    const requestLine = () => lines.find((l) => l.includes('"reqId":"buffered-1"'));
    const deadline = Date.now() + 5000;
    while (!requestLine() && Date.now() < deadline) await Bun.sleep(20);
    expect(proc.exitCode).toBeNull();
    expect(JSON.parse(requestLine()!)).toMatchObject({ msg: "request", method: "GET", path: "/api/v1/hello/greeting", status: 200 });
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await pump;
    expect(JSON.parse(lines.filter((l) => l.startsWith("{")).at(-1)!).msg).toBe("stopped");
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the first start prints the generated keys once; a restart does not", async () => {
    const dataDir = tempDir();
    const first = await spawnGantry(dataDir);
    first.proc.kill("SIGINT");
    expect(await first.proc.exited).toBe(0);
    await first.pump;
    expect(first.lines.join("\n")).toContain("inference key: gk_");
    const second = await spawnGantry(dataDir);
    second.proc.kill("SIGTERM");
    expect(await second.proc.exited).toBe(0);
    await second.pump;
    expect(second.lines.join("\n")).not.toContain("inference key");
    rmSync(dataDir, { recursive: true, force: true });
  });
});
