/**
 * The runtime seam: the few things Bun and Deno do differently (HTTP serve and hot swap, SQLite,
 * password hashing, child processes, the `gantry/plugin` mapping, fresh plugin imports), chosen
 * once at start. Everything else in gantry uses web-standard or `node:` APIs.
 */
import type { Runtime } from "./types.ts";

export type * from "./types.ts";

/** True when running on Deno (Deno also sets `process.versions.deno` for Node compatibility). */
const onDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

export const runtime: Runtime = onDeno ? (await import("./deno.ts")).denoRuntime : (await import("./bun.ts")).bunRuntime;
