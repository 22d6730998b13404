/**
 * `npm run build:binary` → dist/gantry, copied alone into an empty folder (no node_modules, no
 * sources near it) and started there: the HTTP suite's smoke subset. Building takes a few seconds,
 * so every run builds afresh.
 */
import { afterAll, expect } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.ts";
import { startGantryProcess } from "./gantry-process.ts";
import { httpSuite } from "./http-suite.ts";

const ROOT = resolve(import.meta.dir, "../..");
const folder = tempDir("gantry-binary-");
afterAll(() => rmSync(folder, { recursive: true, force: true }), 60_000);

function buildBinary(): string {
  const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build-binary.ts")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(build.exitCode, build.stderr.toString().slice(-2000)).toBe(0);
  const binary = join(folder, "gantry");
  copyFileSync(join(ROOT, "dist", "gantry"), binary);
  return binary;
}

httpSuite("the single binary, alone in an empty folder", () =>
  // The embedded files unpack into a cache folder of this test's own.
  startGantryProcess([buildBinary(), "serve"], { cwd: folder, env: { XDG_CACHE_HOME: join(folder, "cache") } }), { smoke: true });
