/** The HTTP suite against gantry on Deno: as `npm run start:deno` runs it, and under its sandboxed permission set. */
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { startGantryProcess } from "./gantry-process.ts";
import { httpSuite } from "./http-suite.ts";

const SERVE = join(resolve(import.meta.dir, "../.."), "scripts/deno-serve.sh");

httpSuite("gantry on Deno", () => startGantryProcess(["sh", SERVE]));

// Plugins under test are copied to the temp folder, which the sandbox must let gantry read and write;
// the stand-in model server runs on this test's Bun.
httpSuite("gantry on Deno, sandboxed", () =>
  startGantryProcess(["sh", SERVE], { env: { DENO_SANDBOX: "1", DENO_ALLOW_READ: tmpdir(), DENO_ALLOW_WRITE: tmpdir(), DENO_ALLOW_RUN: process.execPath } }));
