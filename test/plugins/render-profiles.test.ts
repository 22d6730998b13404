/** The render service's sweep of Chromium profile folders a killed gantry left in the temp folder: only gantry's own, only of dead processes. */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RenderService } from "../../plugins/cache/render-service.ts";

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

test("a start removes profile folders of gone gantry processes and leaves every other folder, another program's of the same prefix included", () => {
  // Linux pids stay below 2^22: this one belongs to no process.
  const dead = join(tmpdir(), `gantry-chromium-4194999-${process.pid}-sweep`);
  mkdirSync(dead, { recursive: true });
  const live = mkdtempSync(join(tmpdir(), `gantry-chromium-${process.pid}-`));
  const notGantrys = mkdtempSync(join(tmpdir(), "gantry-chromium-docs-"));
  made.push(dead, live, notGantrys);
  new RenderService(() => { throw new Error("not rendering here"); }, () => { throw new Error("not launching here"); });
  expect([existsSync(dead), existsSync(live), existsSync(notGantrys)]).toEqual([false, true, true]);
});
