import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { launch } from "puppeteer-core";
import { ADMIN_KEY, BUILTIN_PLUGINS, startGantry, tempDir, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;

beforeAll(async () => {
  g = await startGantry({ builtins: BUILTIN_PLUGINS, config: { rate_limit: { enabled: false } } });
  viewer = g.gantry.security.keys.create("docs-viewer", "viewer").key;
});
afterAll(() => g.stop());

describe("API reference pages", () => {
  test("/docs, /redoc and /openapi.json need a viewer; the UI assets are served offline", async () => {
    for (const path of ["/docs", "/redoc", "/openapi.json"]) {
      const anonymous = await g.api(path, { auth: false });
      expect([path, anonymous.status, (await anonymous.json()).code]).toEqual([path, 401, "UNAUTHORIZED"]);
      expect([path, (await g.api(path, { auth: viewer })).status]).toEqual([path, 200]);
    }
    const html = await (await g.api("/redoc", { auth: viewer })).text();
    expect(html).toContain("/redoc/assets/redoc.standalone.js");
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    const bundle = await g.api("/redoc/assets/redoc.standalone.js", { auth: false });
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(500_000);
    expect((await g.api("/redoc/assets/..%2F..%2Fpackage.json", { auth: false })).status).toBe(404);
    expect((await g.api("/redoc/assets/swagger-ui.css", { auth: false })).status).toBe(404);
  });

  test("ReDoc renders the spec in Chromium with a viewer's key in the page address", async () => {
    const browser = await launch({ executablePath: Bun.which("chromium") ?? "/usr/bin/chromium", pipe: true, headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", `--user-data-dir=${tempDir("gantry-chromium-docs-")}`] });
    try {
      const page = await browser.newPage();
      const external: string[] = [];
      // Requests that reached another host (the page's CSP blocks ReDoc's footer logo before it leaves).
      page.on("response", (r) => !r.url().startsWith(g.url) && !/^(data|blob):/.test(r.url()) && external.push(r.url()));
      await page.goto(`${g.url}/redoc?api_key=${viewer}`);
      await page.waitForFunction("document.body.innerText.includes('/api/v1/datasets/{name}/profile')", { timeout: 20_000 });
      expect(await page.title()).toContain("API reference");
      expect(external).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  test("server.public_docs opens them to everyone", async () => {
    const open = await startGantry({ config: { server: { public_docs: true } } });
    try {
      for (const path of ["/docs", "/redoc", "/openapi.json"]) expect([path, (await open.api(path, { auth: false })).status]).toEqual([path, 200]);
    } finally {
      await open.stop();
    }
  });

  test("/api/v1/inference/{model} is for operators and inference keys, not viewers", async () => {
    const inference = g.gantry.security.keys.create("docs-inference", "inference").key;
    const call = (auth: string) => g.api("/api/v1/inference/none", { method: "POST", headers: { "content-type": "application/json" }, body: "{}", auth });
    expect((await call(viewer)).status).toBe(403);
    expect((await call(inference)).status).toBe(404); // allowed through; the model does not exist (OpenAI's model_not_found)
    expect((await call(ADMIN_KEY)).status).toBe(404);
    const spec = await (await g.api("/openapi.json")).json();
    expect(spec.paths["/api/v1/inference/{model}"].post["x-gantry-role"]).toBe("operator|inference");
  });
});
