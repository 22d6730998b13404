import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort, json, sqlRows, startGantry, waitFor, type TestGantry } from "../helpers.ts";

const PROVIDER = resolve(import.meta.dir, "../fixtures/oidc-provider/server.ts");
let g: TestGantry;
let provider: Subprocess;
let issuer: string;

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  provider = Bun.spawn([process.execPath, PROVIDER, "--port", String(port), "--client-id", "gantry-test", "--client-secret", "provider-secret"], { stdout: "ignore", stderr: "inherit" });
  await waitFor(async () => (await fetch(`${issuer}/jwks`).catch(() => null))?.ok === true, 10_000, "the stand-in provider");
  // The stand-in provider is on loopback: allowed by port, as an operator with a local provider would.
  g = await startGantry({ config: { rate_limit: { enabled: false }, outbound: { allow: [`127.0.0.1:${port}`] } } });
});
afterAll(async () => {
  await g.stop();
  provider.kill();
});

const config = () => ({
  enabled: true, issuer, client_id: "gantry-test", client_secret: "provider-secret", redirect_uri: `${g.url}/api/v1/auth/oidc/callback`,
  scopes: ["openid", "email", "profile"], default_role: "viewer", role_claim: "groups", role_map: { "ops-admins": "admin", viewers: "viewer" },
});

/** Browser steps: gantry's login → the provider → gantry's callback; returns the callback's response and its URL. */
async function signIn(user: string) {
  const start = await fetch(`${g.url}/api/v1/auth/oidc/login?login_hint=${user}`, { redirect: "manual" });
  expect(start.status).toBe(302);
  const atProvider = await fetch(start.headers.get("location")!, { redirect: "manual" });
  expect(atProvider.status).toBe(302);
  const callback = atProvider.headers.get("location")!;
  return { res: await fetch(callback), callback };
}

describe("OIDC sign-in", () => {
  test("not configured: login is 404; configuring is admin-only, checks the provider, never shows the secret", async () => {
    expect([(await fetch(`${g.url}/api/v1/auth/oidc/login`, { redirect: "manual" })).status, (await g.api("/api/v1/auth/oidc/config")).status]).toEqual([404, 404]);
    const viewer = (await g.gantry.security.keys.create("oidc-viewer", "viewer")).key;
    expect((await g.api("/api/v1/auth/oidc/config", { ...json("PUT", config()), auth: viewer })).status).toBe(403);
    // Another loopback port is not in outbound.allow: refused before any connection.
    const internal = await g.api("/api/v1/auth/oidc/config", json("PUT", { ...config(), issuer: "http://127.0.0.1:9/nowhere" }));
    expect([internal.status, (await internal.json()).code]).toEqual([422, "OUTBOUND_ADDRESS_REFUSED"]);
    const unreachable = await g.api("/api/v1/auth/oidc/config", json("PUT", { ...config(), issuer: `${issuer}/nowhere` }));
    expect([unreachable.status, (await unreachable.json()).code]).toEqual([400, "OIDC_CONFIG_INVALID"]);
    const badRole = await g.api("/api/v1/auth/oidc/config", json("PUT", { ...config(), role_map: { x: "root" } }));
    expect(badRole.status).toBe(400);
    const saved = await g.api("/api/v1/auth/oidc/config", json("PUT", config()));
    expect(saved.status).toBe(200);
    const shown = await (await g.api("/api/v1/auth/oidc/config")).text();
    expect(JSON.parse(shown)).toMatchObject({ enabled: true, issuer, client_id: "gantry-test", client_secret: "[set]" });
    expect(shown).not.toContain("provider-secret");
  });

  test("the code flow with PKCE gives a gantry session; the role follows the provider's groups; a second sign-in finds the same user", async () => {
    const { res } = await signIn("alice");
    expect(res.status).toBe(200);
    const session = await res.json();
    expect(session.user).toMatchObject({ username: "alice", role: "admin" });
    const whoami = await (await fetch(`${g.url}/api/v1/auth/whoami`, { headers: { authorization: `Bearer ${session.access_token}` } })).json();
    expect(whoami).toMatchObject({ subject: "user:alice", role: "admin", via: "jwt" });
    const again = await (await signIn("alice")).res.json();
    expect(again.user.id).toBe(session.user.id);
    expect((await (await signIn("bob")).res.json()).user).toMatchObject({ username: "bob", role: "viewer" });
    expect((await (await signIn("carol")).res.json()).user).toMatchObject({ username: "carol", role: "viewer" }); // no group: default_role
    const audit = (await g.gantry.security.audit.query({ action: "auth.login", status: 200 })).entries;
    expect(audit.some((e) => e.actor === "user:alice" && e.detail === JSON.stringify({ via: "oidc" }))).toBe(true);
  });

  test("a provider user calling herself 'admin' gets a user of her own, not the local admin", async () => {
    const mallory = await (await signIn("mallory")).res.json();
    expect(mallory.user).toMatchObject({ username: "admin-2", role: "viewer" });
    expect((await g.gantry.security.users.list()).find((u) => u.username === "admin")!.id).not.toBe(mallory.user.id);
  });

  test("replayed or forged state, a refusal at the provider and a token for another client are refused", async () => {
    const { callback } = await signIn("bob");
    const replay = await fetch(callback);
    expect([replay.status, (await replay.json()).code]).toEqual([400, "OIDC_STATE_INVALID"]);
    const forged = await fetch(`${g.url}/api/v1/auth/oidc/callback?code=abc&state=made-up`);
    expect(forged.status).toBe(400);
    const denied = (await signIn("deny")).res;
    // The provider's own text reaches the server log, never the anonymous caller nor the audit log.
    expect([denied.status, await denied.json()]).toEqual([401, { error: "OIDC sign-in failed: see the server log", code: "OIDC_LOGIN_REJECTED", details: null }]);
    expect(g.logs.text).toContain("the provider answered access_denied: the user said no");
    const wrongAudience = (await signIn("wrong-aud")).res;
    expect(wrongAudience.status).toBe(401);
    expect(JSON.stringify(await wrongAudience.json())).not.toContain("did not verify");
    expect(g.logs.text).toContain("the ID token did not verify");
    expect(JSON.stringify(await (await g.api("/api/v1/audit?limit=200")).json())).not.toContain("the user said no");
    expect((await g.gantry.security.users.list()).some((u) => u.username === "wrong")).toBe(false);
  });

  test("turning OIDC off stops sign-in; the stored secret is kept when a change omits it", async () => {
    const { client_secret: _, ...withoutSecret } = config();
    expect((await g.api("/api/v1/auth/oidc/config", json("PUT", { ...withoutSecret, enabled: false }))).status).toBe(200);
    expect((await fetch(`${g.url}/api/v1/auth/oidc/login`, { redirect: "manual" })).status).toBe(404);
    expect((await g.api("/api/v1/auth/oidc/config", json("PUT", withoutSecret))).status).toBe(200);
    expect((await (await signIn("bob")).res.json()).user.username).toBe("bob"); // the token exchange still authenticates
    // The client secret is sealed at rest (core/auth/secret-box.ts), not in the database as typed.
    const [stored] = (await sqlRows(g, "SELECT value FROM core_settings WHERE value LIKE '%client_id%'")) as { value: string }[];
    expect(stored!.value).not.toContain("provider-secret");
    expect(JSON.parse(stored!.value).client_secret).toStartWith("enc:v1:");
  });
});
