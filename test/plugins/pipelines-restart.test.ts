import { expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ADMIN_KEY, BUILTIN_PLUGINS, json, tempDir, waitFor } from "../helpers.ts";

const ROOT = resolve(import.meta.dir, "../..");

const TEMPLATE = `
[pipelines.crashy.phases.first]
script = "'one'"
[pipelines.crashy.phases.slow]
needs = ["first"]
script = "const end = Date.now() + 1500; while (Date.now() < end) {} 'slow done'"
timeout_s = 8
[pipelines.crashy.phases.last]
needs = ["slow"]
script = "'last after ' + \${phases.slow.output}"
`;

/** `gantry serve` as a real process (only the scripts and pipelines plugins), its URL once it listens. */
async function serve(dataDir: string, configFile: string) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "core/main.ts"), "serve", "--port", "0"], {
    env: {
      PATH: process.env.PATH ?? "", GANTRY_DATA_DIR: dataDir, GANTRY_CONFIG: configFile, GANTRY_PLUGINS__DIR: BUILTIN_PLUGINS,
      GANTRY_PLUGINS__DISABLED: "agent,batch,cache,cron,infra,instances,mcp", GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_LOG__FORMAT: "json", GANTRY_RATE_LIMIT__ENABLED: "false",
    },
    stdout: "pipe", stderr: "pipe",
  });
  let url = "";
  void (async () => {
    let buffered = "";
    for await (const chunk of proc.stdout) {
      buffered += new TextDecoder().decode(chunk);
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line.includes("gantry listening")) url = JSON.parse(line).url;
    }
  })();
  await waitFor(() => url !== "" || proc.exitCode !== null, 15_000, "gantry to listen");
  if (!url) throw new Error("gantry did not start");
  const api = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${ADMIN_KEY}` } });
  return { proc, api };
}

test("kill -9 during a phase: the run is interrupted at the next start; resume runs only the phases that did not complete", async () => {
  const dataDir = tempDir();
  const configFile = join(dataDir, "gantry.toml");
  writeFileSync(configFile, TEMPLATE);
  const first = await serve(dataDir, configFile);
  try {
    const started = await first.api("/api/v1/pipelines", json("POST", { template: "crashy" }));
    expect(started.status).toBe(201);
    const id = (await started.json()).run_id;
    await waitFor(async () => (await (await first.api(`/api/v1/pipelines/${id}`)).json()).current_phases.includes("slow"), 10_000, "the slow phase");
    first.proc.kill(9);
    await first.proc.exited;

    const second = await serve(dataDir, configFile);
    try {
      const after = await (await second.api(`/api/v1/pipelines/${id}`)).json();
      expect(after.state).toBe("interrupted");
      expect(after.outputs).toEqual({ first: "one" });
      const resumed = await second.api(`/api/v1/pipelines/${id}/resume`, json("POST"));
      expect(resumed.status).toBe(202);
      await waitFor(async () => (await (await second.api(`/api/v1/pipelines/${id}`)).json()).state === "succeeded", 10_000, "the resumed run");
      const done = await (await second.api(`/api/v1/pipelines/${id}`)).json();
      expect(done.outputs).toEqual({ first: "one", slow: "slow done", last: "last after slow done" });
      const started = (await (await second.api(`/api/v1/pipelines/${id}/events?kind=phase_started`)).json()).events.map((e: { phase: string }) => e.phase);
      expect(started).toEqual(["first", "slow", "slow", "last"]);
      const kinds = (await (await second.api(`/api/v1/pipelines/${id}/events`)).json()).events.map((e: { kind: string }) => e.kind);
      expect(kinds).toContain("run_interrupted");
      expect(kinds).toContain("run_resumed");
    } finally {
      second.proc.kill();
      await second.proc.exited;
    }
  } finally {
    if (first.proc.exitCode === null) first.proc.kill(9);
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 40_000);
