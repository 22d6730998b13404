/** `npm pack` output installed into an empty folder: `gantry --help` and `gantry serve` work from there, outside the checkout. */
import { afterAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tempDir } from "../helpers.ts";
import { startGantryProcess } from "./gantry-process.ts";
import { httpSuite } from "./http-suite.ts";

const ROOT = resolve(import.meta.dir, "../..");
const folder = tempDir("gantry-package-");
afterAll(() => rmSync(folder, { recursive: true, force: true }), 120_000); // node_modules of a whole install

/** Runs a command without blocking the event loop (a long synchronous spawn stalls the parallel runner's worker). */
async function run(command: string[], cwd: string): Promise<string> {
  const child = Bun.spawn(command, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" } });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`${command.join(" ")} failed (${exitCode}):\n${stderr.slice(-2000)}`);
  return stdout;
}

/** Packs the checkout and installs the tarball into `folder` (dependencies from npm's cache when it has them). */
let installed: Promise<string> | undefined;
function install(): Promise<string> {
  installed ??= (async () => {
    const tarball = (await run(["npm", "pack", "--silent", "--pack-destination", folder], ROOT)).trim().split("\n").at(-1)!;
    writeFileSync(join(folder, "package.json"), JSON.stringify({ name: "gantry-install-check", private: true }));
    await run(["npm", "install", "--prefer-offline", "--no-save", join(folder, tarball)], folder);
    return join(folder, "node_modules", ".bin", "gantry");
  })();
  return installed;
}

test("gantry --help runs from the installed package", async () => {
  const bin = await install();
  const help = await run([bin, "--help"], folder);
  expect(help).toContain("gantry serve");
  expect((await run([bin, "--version"], folder)).trim()).toBe((await Bun.file(join(ROOT, "package.json")).json()).version);
}, 240_000);

httpSuite("gantry serve from the installed package", async () => startGantryProcess([await install(), "serve"]), { smoke: true });
