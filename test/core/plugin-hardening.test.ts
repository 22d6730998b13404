import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({ config: { plugins: { setup_timeout_ms: 150 } } });
});
afterAll(() => g.stop());

function pluginFolder(name: string, files: Record<string, string>): string {
  const dir = join(tempDir("gantry-hard-"), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "plugin.json"), JSON.stringify({ name, version: "0.1.0", main: "index.ts", gantry: "^0.1" }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

describe("plugin host hardening", () => {
  test("a main that is a symlink to a file outside the plugin folder is refused, and never imported", async () => {
    const outside = join(tempDir("gantry-outside-"), "evil.ts");
    const marker = `${outside}.imported`;
    writeFileSync(outside, `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(marker)}, "1"); export default { setup() {} };\n`);
    const dir = pluginFolder("linked", {});
    symlinkSync(outside, join(dir, "index.ts"));
    const res = await g.api("/api/v1/plugins", json("POST", { path: dir }));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain("outside the plugin folder");
    expect(existsSync(marker)).toBe(false);
  });

  test("a setup that finishes after its timeout is released: its dispose runs, its context is closed", async () => {
    const marker = join(tempDir("gantry-late-"), "disposed");
    const dir = pluginFolder("late", {
      "index.ts": `import { writeFileSync } from "node:fs";
export default { name: "late", async setup(ctx) {
  await Bun.sleep(400);
  const timer = setInterval(() => {}, 1000);
  let closed = "open";
  try { ctx.command("x", { description: "x", run: () => 1 }); } catch (e) { closed = e.code; }
  return () => { clearInterval(timer); writeFileSync(${JSON.stringify(marker)}, String(ctx.signal.aborted) + " " + closed); };
} };\n`,
    });
    const res = await g.api("/api/v1/plugins", json("POST", { path: dir }));
    expect([res.status, (await res.json()).code]).toEqual([422, "PLUGIN_SETUP_TIMEOUT"]);
    await waitFor(() => existsSync(marker), 3000, "the late setup's dispose");
    expect(await Bun.file(marker).text()).toBe("true PLUGIN_CONTEXT_CLOSED");
    expect(g.logs.text).toContain("plugin setup finished after its timeout");
  });
});
