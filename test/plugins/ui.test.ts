/**
 * The dashboard end to end: a real gantry with the built-in plugins, Debian's headless Chromium driven by
 * playwright-core, and the stand-in model server. Each test leaves a screenshot in the artifacts folder
 * (GANTRY_UI_ARTIFACTS, else a temp folder printed at the start).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { BUILTIN_PLUGINS, copyFixture, FIXTURES, freePort, json, STAND_IN_MODEL_SERVER, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

// Globals of the page, for the functions handed to page.evaluate (this file is type-checked without the DOM library).
declare const document: {
  documentElement: { dataset: Record<string, string | undefined>; scrollWidth: number };
  body: { textContent: string | null };
  querySelector(selector: string): { textContent: string | null } | null;
};
declare class MutationObserver {
  constructor(callback: () => void);
  observe(target: unknown, options: Record<string, boolean>): void;
}
type AxeResult = { violations: { id: string; nodes: { target: string[] }[] }[] };
declare const localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
declare const history: { pushState(state: null, title: string, url: string): void };
declare function dispatchEvent(event: unknown): void;
declare class PopStateEvent {
  constructor(type: string);
}
declare const window: { axe: { run(options: unknown): Promise<AxeResult> } };

const ARTIFACTS = process.env.GANTRY_UI_ARTIFACTS ?? tempDir("gantry-ui-artifacts-");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
let g: TestGantry;
let browser: Browser;
let page: Page;
let modelPort: number;

/** The stand-in OIDC provider's port, reserved before gantry starts so outbound.allow can name it. */
let oidcPort: number;
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  console.log(`dashboard screenshots: ${ARTIFACTS}`);
  const brainPort = await freePort();
  oidcPort = await freePort();
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      outbound: { allow: [`127.0.0.1:${oidcPort}`] }, // the stand-in OIDC provider, on loopback

      plugin: {
        instances: { port_range: [brainPort, brainPort] },
        agent: { default_model: "brain", agents: { helper: { prompt: "You help.", tools: ["/cron:*"], ask: ["/cron:*"] } } },
      },
    },
  });
  for (const [username, role] of [["ada", "admin"], ["vic", "viewer"]]) {
    const res = await g.api("/api/v1/auth/users", json("POST", { username, password: `${username}-password-1`, role }));
    expect(res.status).toBe(201);
  }
  const brain = await g.api("/api/v1/instances", json("POST", { name: "brain", backend: "command", model_path: "brain", port: brainPort, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] }));
  expect(brain.status).toBe(201);
  modelPort = await freePort();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true })).newPage();
  // Under bun's per-test timeout: a hung step fails with playwright's message instead of killing the browser.
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
});
afterAll(async () => {
  await browser?.close();
  await g?.stop();
});

const shot = (name: string, target: Page = page) => target.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
/** Opens a page of the app: routed in the page when the app is loaded (as a click on a link does), else loaded. */
async function go(path: string, target: Page = page): Promise<void> {
  if (!target.url().startsWith(`${g.url}/ui`)) {
    await target.goto(`${g.url}/ui${path}`);
    return;
  }
  await target.evaluate((to) => {
    history.pushState(null, "", to);
    dispatchEvent(new PopStateEvent("popstate"));
  }, `/ui${path === "/" ? "" : path}`);
}

async function signIn(target: Page, username: string): Promise<void> {
  await target.goto(`${g.url}/`);
  await target.getByLabel("Username", { exact: true }).fill(username);
  await target.getByLabel("Password", { exact: true }).fill(`${username}-password-1`);
  await target.getByRole("button", { name: "Sign in" }).click();
  await target.getByRole("heading", { name: "Overview" }).waitFor();
}

/** axe-core's violations on the current page (WCAG A and AA rules). */
async function axeViolations(target: Page): Promise<{ id: string; nodes: { target: string[] }[] }[]> {
  await target.addScriptTag({ content: AXE });
  return target.evaluate(async () => {
    const result = await window.axe.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } });
    return result.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

describe("dashboard", () => {
  test("GET / redirects to /ui; a deep link serves the app; assets are immutable and the page revalidates", async () => {
    const root = await fetch(`${g.url}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/ui");
    const deep = await fetch(`${g.url}/ui/instances/brain`, { headers: { "accept-encoding": "gzip" } });
    expect(deep.status).toBe(200);
    expect(deep.headers.get("cache-control")).toBe("no-cache");
    const html = await deep.text();
    const script = /src="(\/ui\/assets\/main-[a-z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${g.url}${script}`, { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect(asset.headers.get("content-encoding")).toBe("gzip");
    const gzipped = (await asset.arrayBuffer()).byteLength;
    const plain = (await (await fetch(`${g.url}${script}`, { headers: { "accept-encoding": "identity" } })).arrayBuffer()).byteLength;
    expect(gzipped).toBeLessThan(plain / 2);
    const again = await fetch(`${g.url}${script}`, { headers: { "if-none-match": asset.headers.get("etag")! } });
    expect(again.status).toBe(304);
    const missing = await fetch(`${g.url}/ui/assets/nope-123.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "UI_ASSET_NOT_FOUND" });
    const spec = await (await g.api("/openapi.json")).json();
    expect(spec.paths["/ui/assets/{file}"].get["x-gantry-role"]).toBe("public");
  });

  test("sign in with a password; a wrong password is refused in the page; the overview passes axe", async () => {
    await page.goto(`${g.url}/`);
    expect(page.url()).toBe(`${g.url}/ui`);
    await page.getByLabel("Username", { exact: true }).fill("ada");
    await page.getByLabel("Password", { exact: true }).fill("wrong-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("INVALID_CREDENTIALS");
    await signIn(page, "ada");
    await page.getByText("this node (single-node mode)").waitFor();
    await page.locator(".live.on").waitFor();
    await shot("01-overview");
    expect(await axeViolations(page)).toEqual([]);
  });

  test("create an instance from the form, start it, and watch its status change live", async () => {
    await go("/instances");
    const form = page.getByRole("form", { name: "Create an instance" });
    await form.getByLabel("Name", { exact: true }).fill("demo");
    await form.getByLabel("Backend", { exact: true }).selectOption("command");
    await form.getByLabel("Model path", { exact: true }).fill("demo");
    await form.getByLabel("Port", { exact: true }).fill(String(modelPort));
    await form.getByLabel("Command", { exact: true }).fill(`${process.execPath} ${STAND_IN_MODEL_SERVER} --port {port} --start-delay-ms 600 --chunk-delay-ms 30`);
    await form.getByRole("button", { name: "Create instance" }).click();
    const status = page.locator('[data-instance-status="demo"]');
    await status.getByText("stopped").waitFor();
    await page.getByRole("button", { name: "Start demo" }).click();
    // The page is not reloaded: the statuses arrive as instance_status_changed events over the WebSocket.
    await status.getByText("starting").waitFor();
    await status.getByText("running").waitFor({ timeout: 10_000 });
    expect((await (await g.api("/api/v1/instances/demo")).json()).status).toBe("running");
    await shot("02-instance-running");
  });

  test("follow an instance's logs: new lines appear; the level filter narrows them", async () => {
    await page.getByRole("link", { name: "demo" }).first().click();
    await page.getByRole("heading", { name: "Instance demo" }).waitFor();
    await page.getByText("through the API").waitFor(); // created by the form, not declared in gantry.toml
    const log = page.getByLabel("Logs of demo", { exact: true });
    await log.getByText("listening on").waitFor();
    const res = await g.api("/v1/chat/completions", json("POST", { model: "demo", messages: [{ role: "user", content: "ping" }] }));
    expect(res.status).toBe(200);
    await log.getByText("/v1/chat/completions").waitFor();
    await shot("03-instance-logs");
    await page.getByLabel("Level", { exact: true }).selectOption("error");
    await waitFor(async () => !(await log.textContent())?.includes("listening on"), 5000, "info lines to be filtered out");
  });

  test("chat in the playground: the answer streams in, and the request is shown as curl", async () => {
    await go("/playground");
    await page.getByLabel("Model", { exact: true }).selectOption("demo");
    await page.getByLabel("Message", { exact: true }).fill("one two three four five six seven eight");
    // Record, in the page, every text the answer had while it streamed.
    await page.evaluate(() => {
      const seen: string[] = [];
      (globalThis as unknown as { seenAnswers: string[] }).seenAnswers = seen;
      new MutationObserver(() => {
        const text = document.querySelector(".msg.assistant:last-child p")?.textContent;
        if (text && seen.at(-1) !== text) seen.push(text);
      }).observe(document.querySelector(".chat")!, { subtree: true, childList: true, characterData: true });
    });
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".msg.assistant").getByText("You said: one two three four five six seven eight").waitFor();
    const seen = await page.evaluate(() => (globalThis as unknown as { seenAnswers: string[] }).seenAnswers);
    // Partial answers were on screen before the whole one: the stream was rendered as it came.
    expect(seen.some((t) => t.startsWith("You said:") && t.length < "You said: one two three four five six seven eight".length)).toBe(true);
    expect(await page.getByLabel("curl command", { exact: true }).textContent()).toContain('"stream":true');
    await shot("04-playground");
    // The overview counts each model's requests from gantry's own /metrics.
    await go("/");
    await page.getByRole("region", { name: "Requests per model" }).getByRole("cell", { name: "demo", exact: true }).waitFor();
  });

  test("approve a pending gate with a comment; it arrives and leaves live", async () => {
    await go("/approvals");
    await page.getByText("Nothing is waiting.").waitFor();
    const held = await g.api("/api/v1/agents/helper/invoke", json("POST", { input: "CALL cron__list {}" }));
    expect(held.status).toBe(202);
    const run = await held.json();
    await page.getByText("helper wants to call").waitFor();
    await shot("05-approval-pending");
    await page.getByLabel("Comment on /cron:list", { exact: true }).fill("fine by me");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByText("Nothing is waiting.").waitFor();
    await page.getByRole("region", { name: "Decided approvals" }).getByText("fine by me").waitFor();
    await waitFor(async () => (await (await g.api(`/api/v1/agents/runs/${run.id}`)).json()).status === "succeeded", 5000, "the run to finish");
    await shot("05-approval-decided");
  });

  test("install a plugin from a path, reload it, and toggle its flag", async () => {
    await go("/plugins");
    await page.getByLabel("Folder on the server", { exact: true }).fill(copyFixture("hello"));
    await page.getByRole("button", { name: "Install", exact: true }).click();
    await page.getByRole("button", { name: "Reload hello" }).waitFor();
    const before = (await (await g.api("/api/v1/plugins/hello")).json()).loaded_at;
    await page.getByRole("button", { name: "Reload hello" }).click();
    await page.getByText("hello: reloaded").waitFor();
    await waitFor(async () => (await (await g.api("/api/v1/plugins/hello")).json()).loaded_at !== before, 5000, "a new loaded_at");
    await shot("06-plugins");

    await go("/flags");
    const shout = page.getByRole("switch", { name: "hello.shout" });
    expect(await shout.isChecked()).toBe(false);
    // click, not check(): check() reads the box back at once, while the app sets it from the server's answer.
    await shout.click();
    await page.getByText("hello.shout = true").waitFor();
    await waitFor(() => shout.isChecked(), 5000, "the switch to show the new value");
    expect((await (await g.api("/api/v1/features/hello.shout")).json()).value).toBe(true);
    expect((await (await g.api("/api/v1/hello/greeting")).json()).text).toBe("HELLO, WORLD");
    await shot("07-flags");
  });

  test("a Claude Code marketplace is listed, one of its plugins installs from the list, and its unsupported parts are shown", async () => {
    await go("/plugins");
    await page.getByLabel("Folder on the server", { exact: true }).fill(join(FIXTURES, "claude-plugins", "marketplace"));
    await page.getByRole("button", { name: "Install", exact: true }).click();
    const market = page.getByRole("table", { name: "Plugins of marketplace example-market" });
    await market.waitFor();
    // A plugin that lives in another repository is listed with the reason it cannot be installed here.
    expect(await market.getByRole("button").count()).toBe(2);
    await page.getByRole("button", { name: "Install inline-only from the marketplace" }).click();
    await page.getByText("Installed inline-only").waitFor();
    await page.getByRole("link", { name: "inline-only" }).click();
    const unsupported = page.getByRole("table", { name: "Unsupported parts" });
    await unsupported.getByText("lspServers").waitFor();
    await shot("06b-marketplace-unsupported");
  });

  test("every page an admin can open renders its data without an error; a slash command runs with arguments", async () => {
    const errors: string[] = [];
    const onError = (error: Error) => errors.push(error.message);
    page.on("pageerror", onError);
    const paths = ["/", "/instances", "/playground", "/approvals", "/agents", "/plugins", "/plugins/hello", "/commands", "/cron", "/batch", "/mcp", "/flags", "/cache", "/users", "/audit", "/config"];
    for (const path of paths) {
      await go(path);
      await page.locator("h1").waitFor();
      await page.waitForFunction(() => !document.body.textContent?.includes("Loading…"), null, { timeout: 10_000 });
      expect({ path, alerts: await page.locator("p[role=alert]").allTextContents() }).toEqual({ path, alerts: [] });
    }
    page.off("pageerror", onError);
    expect(errors).toEqual([]);
    await go("/commands");
    await page.getByRole("row", { name: /\/hello:greet/ }).getByRole("button", { name: "Run…" }).click();
    await page.getByLabel("Arguments for /hello:greet", { exact: true }).fill("Ada");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.getByLabel("Output of /hello:greet", { exact: true }).getByText("hello, Ada").waitFor();
    await go("/instances");
    await page.getByText("Or paste TOML").click();
    const toml = page.getByLabel("Instance as TOML", { exact: true });
    await toml.fill('name = "broken"\nbackend = ');
    await page.getByRole("button", { name: "Create from TOML" }).click();
    await page.locator(".notice.error").first().waitFor(); // the TOML error is shown; nothing was sent
    await toml.fill(`name = "from-toml"\nbackend = "llama_cpp"\nmodel_path = "/models/x.gguf"\nport = ${await freePort()}\n\n[options]\nctx-size = 4096`);
    await page.getByRole("button", { name: "Create from TOML" }).click();
    await page.locator('[data-instance-status="from-toml"]').waitFor();
    expect((await (await g.api("/api/v1/instances/from-toml")).json()).options).toEqual({ "ctx-size": 4096 });
    await go("/audit");
    await page.getByLabel("Action", { exact: true }).fill("POST /api/v1/plugins/:name/reload");
    await page.getByRole("button", { name: "Filter" }).click();
    // The filtered answer replaces the full list: the header row and the one reload.
    const rows = page.getByRole("region", { name: "Audit entries" }).getByRole("row");
    await waitFor(async () => (await rows.count()) === 2, 5000, "the filtered audit list");
    expect(await rows.nth(1).textContent()).toContain("user:ada (admin)");
    await shot("08-audit-filtered");
  });

  test("dark theme at phone width: the menu opens, tables fit, and axe passes", async () => {
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark", bypassCSP: true })).newPage();
    phone.setDefaultTimeout(20_000);
    await signIn(phone, "ada");
    expect(await phone.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    await phone.getByRole("button", { name: "Menu" }).click();
    await phone.getByRole("link", { name: "Instances" }).click();
    await phone.getByRole("heading", { name: "Instances", level: 1 }).waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot("08-phone-dark", phone);
    expect(await axeViolations(phone)).toEqual([]);
    await phone.context().close();
  });

  test("single sign-on: the button shows once OIDC is configured, and the provider's redirect to /ui/oidc-callback signs in", async () => {
    const port = oidcPort;
    const issuer = `http://127.0.0.1:${port}`;
    const provider = Bun.spawn([process.execPath, join(FIXTURES, "oidc-provider", "server.ts"), "--port", String(port), "--client-id", "gantry-ui", "--client-secret", "ui-secret"], { stdout: "ignore", stderr: "inherit" });
    try {
      await waitFor(async () => (await fetch(`${issuer}/jwks`).catch(() => null))?.ok === true, 10_000, "the stand-in provider");
      const configured = await g.api("/api/v1/auth/oidc/config", json("PUT", {
        enabled: true, issuer, client_id: "gantry-ui", client_secret: "ui-secret", redirect_uri: `${g.url}/ui/oidc-callback`,
        scopes: ["openid", "email", "profile"], default_role: "viewer", role_claim: "groups", role_map: { "ops-admins": "admin" },
      }));
      expect(configured.status).toBe(200);
      const sso = await (await browser.newContext({ bypassCSP: true })).newPage();
      sso.setDefaultTimeout(20_000);
      await sso.goto(`${g.url}/ui`);
      await sso.getByRole("link", { name: "Sign in with single sign-on" }).waitFor();
      // The button's target, with the stand-in provider's way of choosing who signs in.
      await sso.goto(`${g.url}/api/v1/auth/oidc/login?login_hint=alice`);
      await sso.getByRole("heading", { name: "Overview" }).waitFor();
      expect(sso.url()).toBe(`${g.url}/ui`);
      expect(await sso.locator(".who").textContent()).toContain("admin");
      await shot("10-oidc-signed-in", sso);
      await sso.goto(`${g.url}/ui/oidc-callback?code=forged&state=forged`);
      await sso.getByRole("heading", { name: "Overview" }).waitFor(); // still signed in: a failed callback does not end the session
      await sso.context().close();
    } finally {
      provider.kill();
    }
  });

  test("a viewer sees no admin or operator actions, and the API refuses them anyway; an expiring token is rotated quietly", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, "vic");
    // Make the stored access token look about to expire: the next load refreshes it before calling the API.
    const before = await page.evaluate(() => {
      const stored = JSON.parse(localStorage.getItem("gantry.session")!);
      localStorage.setItem("gantry.session", JSON.stringify({ ...stored, expiresAt: Date.now() }));
      return stored.refresh as string;
    });
    await page.reload();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    const after = await page.evaluate(() => JSON.parse(localStorage.getItem("gantry.session")!).refresh as string);
    expect(after).not.toBe(before);
    expect(await page.getByRole("link", { name: "Users & keys" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Config" }).count()).toBe(0);
    await go("/instances");
    await page.locator('[data-instance-status="demo"]').waitFor();
    expect(await page.getByRole("button", { name: "Stop demo" }).count()).toBe(0);
    expect(await page.getByRole("form", { name: "Create an instance" }).count()).toBe(0);
    await go("/plugins");
    await page.getByRole("link", { name: "hello" }).waitFor();
    expect(await page.getByRole("button", { name: /^Reload / }).count()).toBe(0);
    await go("/flags");
    await page.locator('[data-flag="hello.shout"]').waitFor();
    expect(await page.getByRole("switch").count()).toBe(0);
    await shot("09-viewer");
    const refused = await page.evaluate(async () => {
      const token = JSON.parse(localStorage.getItem("gantry.session")!).access;
      return (await fetch("/api/v1/plugins/hello/reload", { method: "POST", headers: { authorization: `Bearer ${token}` } })).status;
    });
    expect(refused).toBe(403);
    // The refresh token the page rotated away is refused (and its reuse ends the session, as a stolen token's would).
    expect((await fetch(`${g.url}/api/v1/auth/refresh`, json("POST", { refresh_token: before }))).status).toBe(401);
  });
});
