/** The HTTP suite against gantry on Bun (`npm start`'s command). */
import { join, resolve } from "node:path";
import { startGantryProcess } from "./gantry-process.ts";
import { httpSuite } from "./http-suite.ts";

const ROOT = resolve(import.meta.dir, "../..");

httpSuite("gantry on Bun", () => startGantryProcess([process.execPath, "--max-http-header-size=262144", join(ROOT, "core/main.ts"), "serve"]));
