/**
 * Indirection through addresses: URLs that an operator or a model's tool call hands gantry (WebFetch,
 * model pulls, MCP over HTTP, OIDC discovery, cache renders) never reach an internal address in any
 * spelling, directly or through a redirect, unless outbound.allow lists it; nothing internal answers,
 * nothing is a 5xx where the caller gave the URL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { BUILTIN_PLUGINS, createStandInModel, freePort, json, startGantry, waitFor, type TestGantry } from "../helpers.ts";

const SECRET = "INTERNAL-ANSWER-7f3a";
let g: TestGantry;
/** The internal service: on loopback, never listed in outbound.allow. Every hit is a failure. */
let internal: ReturnType<typeof Bun.serve>;
let internalHits = 0;
/** A stand-in for a public site (listed in outbound.allow by its port): it redirects inward and serves pages that reach inward. */
let site: ReturnType<typeof Bun.serve>;

/** Every spelling of the internal service's address an attacker may try (the port is the internal one). */
const internalUrls = (port: number) => [
  `http://[::ffff:127.0.0.1]:${port}/`, `http://[::ffff:7f00:1]:${port}/`, `http://[0:0:0:0:0:ffff:7f00:1]:${port}/`,
  `http://127.0.0.1:${port}/`, `http://localhost:${port}/`, `http://localhost.:${port}/`, `http://0x7f000001:${port}/`, `http://127.1:${port}/`,
  `http://2130706433:${port}/`, `http://0177.0.0.1:${port}/`, `http://0.0.0.0:${port}/`, `http://[::1]:${port}/`, `http://[::]:${port}/`,
  `http://[::127.0.0.1]:${port}/`, `http://[64:ff9b::127.0.0.1]:${port}/`, `http://[2002:7f00:1::]:${port}/`,
  "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fd00::1]/", "http://10.0.0.1/", "http://100.64.0.1/", "http://192.168.1.1/", "http://[::ffff:a9fe:a9fe]/",
];

beforeAll(async () => {
  internal = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (internalHits++, new Response(SECRET)) });
  site = Bun.serve({
    port: 0, hostname: "127.0.0.1",
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/plain") return new Response("a public page");
      if (path === "/to-mapped") return Response.redirect(`http://[::ffff:127.0.0.1]:${internal.port}/`, 302);
      if (path === "/to-port") return Response.redirect(`http://0x7f.1:${internal.port}/`, 307);
      if (path === "/model.gguf") return Response.redirect(`http://[::ffff:7f00:1]:${internal.port}/model.gguf`, 302);
      if (path === "/reaching-in") {
        // A page whose script, frame and fetch aim at the internal service.
        return new Response(`<!doctype html><html><body><p id="out">none</p>
          <script src="http://[::ffff:127.0.0.1]:${internal.port}/x.js"></script>
          <iframe src="http://127.0.0.1:${internal.port}/frame"></iframe>
          <script>fetch("http://[::ffff:7f00:1]:${internal.port}/api").then((r) => r.text()).then((t) => { document.getElementById("out").textContent = t; }).catch(() => { document.getElementById("out").textContent = "fetch refused"; }).finally(() => { window.prerenderReady = true; });
          window.prerenderReady = false;</script></body></html>`, { headers: { "content-type": "text/html" } });
      }
      return new Response("not here", { status: 404 });
    },
  });
  const brainPort = await freePort();
  const keep = ["agent", "instances", "mcp", "cache"];
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      rate_limit: { enabled: false },
      auth: { internal_key: "indirection-internal-key" },
      // Only the stand-in site's port: the internal service shares its address, not its port.
      outbound: { allow: [`127.0.0.1:${site.port}`] },
      plugins: { disabled: readdirSync(BUILTIN_PLUGINS).filter((name) => !keep.includes(name)) },
      plugin: {
        instances: { port_range: [brainPort, brainPort] },
        agent: { default_model: "brain", permissions: { allow: ["WebFetch"] }, agents: { fetcher: { prompt: "You look things up.", tools: ["WebFetch"] } } },
        mcp: { servers: { mapped: { type: "http", url: `http://[::ffff:127.0.0.1]:${internal.port}/mcp` }, plain: { type: "http", url: `http://127.0.0.1:${internal.port}/mcp` } } },
        cache: { tabs: 2, reserve_online_percent: 50, render_timeout_ms: 5000, hosts: [{ id: 1, name: "site", origins: [`http://127.0.0.1:${site.port}`], block_resource_types: [], dimensions: [{ id: 1, name: "desktop", width: 800, height: 600, user_agent: "Bot/1.0" }] }] },
      },
    },
  });
  await createStandInModel(g, "brain");
});
afterAll(async () => {
  await g.stop();
  internal.stop(true);
  site.stop(true);
});

type Step = { type: string; tool?: string; outcome?: string; result?: string };
const webFetch = async (url: string): Promise<Step> => {
  const run = await (await g.api("/api/v1/agents/fetcher/invoke", json("POST", { input: `CALL WebFetch ${JSON.stringify({ url })}` }))).json();
  return (run.steps as Step[]).find((s) => s.type === "tool")!;
};

describe("WebFetch (a model's tool call)", () => {
  test("every spelling of an internal address is refused, and the internal service is never reached", async () => {
    for (const url of internalUrls(internal.port!)) {
      const step = await webFetch(url);
      expect([url, step.outcome, step.result]).toEqual([url, "error", expect.stringContaining("Refused to connect")]);
      expect(step.result).not.toContain(SECRET);
    }
    expect(internalHits).toBe(0);
  });

  test("an allowed site is fetched; its redirects inward (another port, a mapped spelling) are refused", async () => {
    expect(await webFetch(`http://127.0.0.1:${site.port}/plain`)).toMatchObject({ outcome: "ran", result: expect.stringContaining("a public page") });
    for (const path of ["/to-mapped", "/to-port"]) {
      const step = await webFetch(`http://127.0.0.1:${site.port}${path}`);
      expect([path, step.outcome, step.result]).toEqual([path, "error", expect.stringContaining(`:${internal.port}: `)]);
      expect(step.result).toMatch(/127\.0\.0\.1\)? is loopback \(127\.0\.0\.0\/8\)/);
    }
    expect(internalHits).toBe(0);
  });
});

describe("model pulls (an admin's URL)", () => {
  test("a pull from an internal address is a 422 in the API's shape, before anything is downloaded", async () => {
    for (const source of [`http://[::ffff:127.0.0.1]:${internal.port}/model.gguf`, `http://[::ffff:7f00:1]:${internal.port}/model.gguf`, `http://127.0.0.1:${internal.port}/model.gguf`, `http://localhost:${internal.port}/model.gguf`]) {
      const res = await g.api("/api/v1/models/pull", json("POST", { source }));
      const body = await res.json();
      expect([source, res.status, body.code]).toEqual([source, 422, "OUTBOUND_ADDRESS_REFUSED"]);
      expect(body.error).toContain("outbound.allow");
    }
    expect(internalHits).toBe(0);
  });

  test("a pull from an allowed site that redirects inward fails at the redirect", async () => {
    const res = await g.api("/api/v1/models/pull", json("POST", { source: `http://127.0.0.1:${site.port}/model.gguf` }));
    expect(res.status).toBe(202); // the source passed the check: the download starts
    const { id } = await res.json();
    let view: { status: string; error: string | null } = { status: "", error: null };
    await waitFor(async () => ((view = await (await g.api(`/api/v1/models/pulls/${id}`)).json()).status === "failed"), 10_000, "the pull to fail");
    expect(view.error).toContain("Refused to connect");
    expect(internalHits).toBe(0);
  });
});

describe("MCP over HTTP (configured servers)", () => {
  test("servers on internal addresses fail to connect with the refusal, without a request reaching them", async () => {
    for (const name of ["mapped", "plain"]) {
      let server: { status: string; last_error: string | null } = { status: "", last_error: null };
      await waitFor(async () => ((server = await (await g.api(`/api/v1/mcp/servers/${name}`)).json()).status === "failed"), 10_000, `MCP server ${name} to fail`);
      expect([name, server.last_error]).toEqual([name, expect.stringContaining("Refused to connect")]);
    }
    expect(internalHits).toBe(0);
  });
});

describe("OIDC discovery (an admin's issuer)", () => {
  test("an issuer on an internal address is refused (422), in any spelling", async () => {
    for (const issuer of [`http://[::ffff:127.0.0.1]:${internal.port}`, `http://[::ffff:7f00:1]:${internal.port}`, `http://localhost:${internal.port}`]) {
      const res = await g.api("/api/v1/auth/oidc/config", json("PUT", { enabled: true, issuer, client_id: "x", client_secret: "y", redirect_uri: `${g.url}/api/v1/auth/oidc/callback`, scopes: ["openid"], default_role: "viewer", role_claim: null, role_map: {} }));
      expect([issuer, res.status, (await res.json()).code]).toEqual([issuer, 422, "OUTBOUND_ADDRESS_REFUSED"]);
    }
    expect(internalHits).toBe(0);
  });
});

describe("cache renders (Chromium)", () => {
  const page = (url: string) => fetch(`${g.url}/internal/cache/page?host_id=1&dimension_id=1&url=${encodeURIComponent(url)}`, { headers: { "x-internal-auth": "indirection-internal-key" } });

  test("a page's script, frame and fetch aimed at an internal address are refused; the page still renders", async () => {
    const res = await page(`http://127.0.0.1:${site.port}/reaching-in`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("fetch refused");
    expect(html).not.toContain(SECRET);
    expect(internalHits).toBe(0);
  });

  test("a page of the host's origin that redirects inward is not rendered (502, the refusal named)", async () => {
    const res = await page(`http://127.0.0.1:${site.port}/to-mapped`);
    const body = await res.json();
    expect([res.status, body.message]).toEqual([502, expect.stringContaining("Refused to connect")]);
    expect(internalHits).toBe(0);
  });

  test("a host without origins is refused when the cache plugin loads, with the reason", async () => {
    const bare = await startGantry({
      builtins: BUILTIN_PLUGINS,
      config: {
        plugins: { disabled: readdirSync(BUILTIN_PLUGINS).filter((name) => name !== "cache") },
        plugin: { cache: { hosts: [{ id: 1, name: "anything", dimensions: [{ id: 1, name: "desktop", width: 800, height: 600, user_agent: "Bot/1.0" }] }] } },
      },
    });
    try {
      const cache = await (await bare.api("/api/v1/plugins/cache")).json();
      expect(cache.status).toBe("failed");
      expect(cache.error.message).toContain("plugin.cache.hosts[0].origins must list the origins its pages are on");
    } finally {
      await bare.stop();
    }
  });
});
