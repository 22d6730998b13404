/**
 * bench/pull: a model download through gantry (POST /api/v1/models/pull, followed to the end: written
 * to a .partial file, SHA-256 checked, renamed) against the same file fetched straight from the hub,
 * written to disk and hashed afterwards (what `curl -o` then `sha256sum` do), in the same run from
 * the stand-in hub on loopback. Reports medians of REPEAT alternating rounds and the ratio (goal ≤ 1.5).
 */
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ADMIN_KEY } from "../test/helpers.ts";
import { cpuSecondsOf, freePort, percentile, round, spawnGantry } from "./lib.ts";

const MIB = Number(process.env.BIG_MIB ?? 128);
const REPEAT = Number(process.env.REPEAT ?? 5);
const modelsDir = mkdtempSync(join(tmpdir(), "gantry-bench-models-"));
const hubPort = await freePort();
const hub = Bun.spawn([process.execPath, resolve(import.meta.dir, "../test/fixtures/model-hub/server.ts"), "--port", String(hubPort), "--big-mib", String(MIB)], { stdout: "ignore", stderr: "inherit" });
const hubUrl = `http://127.0.0.1:${hubPort}`;
for (let i = 0; !(await fetch(`${hubUrl}/_requests`).catch(() => null))?.ok; i++) {
  if (i > 500) throw new Error("the stand-in hub did not start");
  await Bun.sleep(20);
}
// The stand-in hashes its files at the first listing: done before anything is timed.
await (await fetch(`${hubUrl}/api/models/acme/big-GGUF/tree/main`)).arrayBuffer();
const disabled = readdirSync(resolve(import.meta.dir, "../plugins")).filter((name) => name !== "instances");
const server = await spawnGantry({
  GANTRY_AUTH__BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, GANTRY_PLUGINS__DISABLED: JSON.stringify(disabled), GANTRY_RATE_LIMIT__ENABLED: "false",
  GANTRY_PLUGIN__INSTANCES__HUB_URL: hubUrl, GANTRY_PLUGIN__INSTANCES__MODELS_DIR: modelsDir,
  GANTRY_OUTBOUND__ALLOW: `127.0.0.1:${hubPort}`, // the stand-in hub is on loopback
});
const headers = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

async function throughGantry(): Promise<number> {
  rmSync(join(modelsDir, "big.gguf"), { force: true });
  const t0 = performance.now();
  const pull = await (await fetch(`${server.url}/api/v1/models/pull`, { method: "POST", headers, body: JSON.stringify({ source: "hf:acme/big-GGUF/big.gguf" }) })).json();
  const events = await (await fetch(`${server.url}/api/v1/models/pulls/${pull.id}/events`, { headers })).text();
  if (!events.includes('"status":"completed"')) throw new Error(`the pull did not complete: ${events.slice(-300)}`);
  return performance.now() - t0;
}

async function straight(): Promise<number> {
  const path = join(modelsDir, "direct.gguf");
  const t0 = performance.now();
  const res = await fetch(`${hubUrl}/acme/big-GGUF/resolve/main/big.gguf`);
  const file = await open(path, "w");
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) await file.write(chunk);
  await file.close();
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  hash.digest("hex");
  const ms = performance.now() - t0;
  rmSync(path);
  return ms;
}

try {
  const gantry: number[] = [];
  const direct: number[] = [];
  const cpuBefore = cpuSecondsOf(server.proc.pid);
  for (let i = 0; i < REPEAT; i++) {
    direct.push(await straight());
    gantry.push(await throughGantry());
  }
  const cpuPerGiB = ((cpuSecondsOf(server.proc.pid) - cpuBefore) / REPEAT) * (1024 / MIB);
  const g50 = percentile(gantry, 50);
  const d50 = percentile(direct, 50);
  console.log(JSON.stringify({
    bench: "pull", file_mib: MIB, rounds: REPEAT,
    gantry_ms_median: round(g50, 0), direct_ms_median: round(d50, 0), ratio: round(g50 / d50),
    gantry_mib_per_s: round(MIB / (g50 / 1000), 0), direct_mib_per_s: round(MIB / (d50 / 1000), 0),
    gantry_cpu_seconds_per_gib: round(cpuPerGiB, 2), goal_ratio: 1.5,
  }, null, 2));
} finally {
  await server.stop();
  hub.kill();
  rmSync(modelsDir, { recursive: true, force: true });
}
