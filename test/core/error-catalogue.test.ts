/** One error catalogue: a code has one owner and one meaning; gantry's own limits answer through it (never a 500). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createError, defineErrors, errorCatalogue, GantryError } from "../../core/kernel/errors.ts";
import { BUILTIN_PLUGINS, FIXTURE_PLUGINS, json, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry();
  await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));
});
afterAll(() => g.stop());

describe("the catalogue", () => {
  test("a code another owner declared is refused; the same owner may declare it again (a reload)", () => {
    defineErrors("plugin-a", { WIDGET_MISSING: createError("WIDGET_MISSING", 404, () => "no widget") });
    expect(() => defineErrors("plugin-a", { WIDGET_MISSING: createError("WIDGET_MISSING", 404, () => "no widget") })).not.toThrow();
    let refused: unknown;
    try {
      defineErrors("plugin-b", { WIDGET_MISSING: createError("WIDGET_MISSING", 404, () => "something else") });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(GantryError);
    expect((refused as GantryError).code).toBe("ERROR_CODE_TAKEN");
    expect((refused as GantryError).message).toContain("plugin-a");
  });

  test("core and every built-in plugin load their tables without a clash", async () => {
    await import("../../core/http/plugin-routes.ts");
    for (const plugin of readdirSync(BUILTIN_PLUGINS)) if (existsSync(join(BUILTIN_PLUGINS, plugin, "index.ts"))) await import(join(BUILTIN_PLUGINS, plugin, "index.ts"));
    const owners = new Set(errorCatalogue().map((e) => e.owner));
    for (const owner of ["core", "agent", "instances", "mcp", "cron"]) expect(owners).toContain(owner);
    expect(errorCatalogue().find((e) => e.code === "PLUGIN_AGENT_NOT_FOUND")).toMatchObject({ owner: "core", status: 404 });
  });
});

describe("limits answer through the catalogue", () => {
  test("an oversized kv key from a route is 400 KV_KEY_INVALID, not 500", async () => {
    const res = await g.api(`/api/v1/hello/kv/${"k".repeat(600)}`, json("PUT", { v: 1 }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "KV_KEY_INVALID", details: null });
  });
});
