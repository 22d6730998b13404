import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jwt } from "@elysiajs/jwt";
import { Elysia } from "elysia";
import * as safeEqual from "../../core/auth/safe-equal.ts";
import { ADMIN_KEY, databaseSettled, FIXTURE_PLUGINS, startGantry, tempDir, type TestGantry } from "../helpers.ts";

const JWT_SECRET = "test-jwt-secret-0123456789abcdef";
const ADMIN_PASSWORD = "correct horse battery staple";
let g: TestGantry;

beforeAll(async () => {
  process.env.GANTRY_ADMIN_PASSWORD = ADMIN_PASSWORD;
  g = await startGantry({ config: { auth: { jwt_secret: JWT_SECRET, internal_key: "internal-test-key" }, rate_limit: { regular_per_minute: 100_000, login_per_minute: 100_000 } } });
  delete process.env.GANTRY_ADMIN_PASSWORD;
  await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));
});
afterAll(() => g.stop());

const post = (path: string, body: unknown, auth: string | false = false) =>
  g.api(path, { method: "POST", auth, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const login = async (username: string, password: string) => post("/api/v1/auth/login", { username, password });

describe("login", () => {
  test("the first admin user comes from GANTRY_ADMIN_PASSWORD; login returns tokens and the user", async () => {
    const res = await login("admin", ADMIN_PASSWORD);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.token_type).toBe("Bearer");
    expect(body.token).toBe(body.access_token);
    expect(body.refresh_token).toStartWith("grt_");
    expect(new Date(body.expires_at).getTime()).toBeGreaterThan(Date.now());
    expect(body.user).toMatchObject({ username: "admin", role: "admin", disabled: false });
    const who = await (await g.api("/api/v1/auth/whoami", { auth: body.access_token })).json();
    expect(who).toMatchObject({ subject: "user:admin", role: "admin", via: "jwt", user: { username: "admin" } });
    expect(who.claims.sub).toBe(body.user.id);
  });

  // That both take about the same time (no user enumeration by timing) is measured in bench/auth.ts.
  test("wrong password and unknown user get the same 401", async () => {
    const attempt = async (username: string) => {
      const res = await login(username, "not the password");
      return { status: res.status, body: await res.json() };
    };
    const wrong = await attempt("admin");
    const unknown = await attempt("nobody-at-all");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body).toEqual({ error: "Invalid username or password", code: "INVALID_CREDENTIALS", details: null });
  });

  test("a missing field is a 400 naming it", async () => {
    const res = await post("/api/v1/auth/login", { username: "admin" });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain("password");
  });
});

describe("refresh and logout", () => {
  test("refresh rotates; reusing an old refresh token revokes the whole session", async () => {
    const first = await (await login("admin", ADMIN_PASSWORD)).json();
    const second = await (await post("/api/v1/auth/refresh", { refresh_token: first.refresh_token })).json();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await g.api("/api/v1/auth/whoami", { auth: second.access_token })).status).toBe(200);

    const reuse = await post("/api/v1/auth/refresh", { refresh_token: first.refresh_token });
    expect(reuse.status).toBe(401);
    expect((await reuse.json()).code).toBe("REFRESH_TOKEN_REUSED");
    // The whole family is gone: the rotated refresh token and both access tokens.
    expect((await post("/api/v1/auth/refresh", { refresh_token: second.refresh_token })).status).toBe(401);
    expect((await g.api("/api/v1/auth/whoami", { auth: second.access_token })).status).toBe(401);
    expect((await g.api("/api/v1/auth/whoami", { auth: first.access_token })).status).toBe(401);
  });

  test("logout ends the session at once; another session of the same user keeps working", async () => {
    const a = await (await login("admin", ADMIN_PASSWORD)).json();
    const b = await (await login("admin", ADMIN_PASSWORD)).json();
    expect(await (await post("/api/v1/auth/logout", {}, a.access_token)).json()).toEqual({ ok: true });
    expect((await g.api("/api/v1/auth/whoami", { auth: a.access_token })).status).toBe(401);
    expect((await post("/api/v1/auth/refresh", { refresh_token: a.refresh_token })).status).toBe(401);
    expect((await g.api("/api/v1/auth/whoami", { auth: b.access_token })).status).toBe(200);
  });

  test("logout with an API key says how to revoke keys", async () => {
    const res = await post("/api/v1/auth/logout", {}, ADMIN_KEY);
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe("NOT_A_SESSION");
  });

  test("expired and tampered tokens are 401", async () => {
    const admin = await (await login("admin", ADMIN_PASSWORD)).json();
    const signer = new Elysia().use(jwt({ name: "jwt", secret: JWT_SECRET, alg: "HS256" })).decorator.jwt;
    const expired = await signer.sign({ sub: admin.user.id, sid: "00000000-0000-0000-0000-000000000000", username: "admin", exp: Math.floor(Date.now() / 1000) - 60 });
    expect((await g.api("/api/v1/auth/whoami", { auth: expired })).status).toBe(401);
    const [h, p, s] = admin.access_token.split(".");
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url")}.${s}`;
    expect((await g.api("/api/v1/auth/whoami", { auth: forged })).status).toBe(401);
    const otherSecret = new Elysia().use(jwt({ name: "jwt", secret: "another-secret-entirely", alg: "HS256" })).decorator.jwt;
    const wrongKey = await otherSecret.sign({ sub: admin.user.id, sid: claims.sid, username: "admin", exp: Math.floor(Date.now() / 1000) + 600 });
    expect((await g.api("/api/v1/auth/whoami", { auth: wrongKey })).status).toBe(401);
  });
});

describe("users", () => {
  test("create, log in, change role (applies at once), disable, reset password", async () => {
    const created = await post("/api/v1/auth/users", { username: "vera", password: "vera-password-1", role: "viewer" }, ADMIN_KEY);
    expect(created.status).toBe(201);
    const vera = await created.json();
    expect(vera).toMatchObject({ username: "vera", role: "viewer", disabled: false });
    expect(JSON.stringify(vera)).not.toContain("password");
    expect((await post("/api/v1/auth/users", { username: "vera", password: "another-pass", role: "viewer" }, ADMIN_KEY)).status).toBe(409);
    expect((await post("/api/v1/auth/users", { username: "x", password: "short", role: "viewer" }, ADMIN_KEY)).status).toBe(400);

    const session = await (await login("vera", "vera-password-1")).json();
    expect((await g.api("/api/v1/hello/heard", { auth: session.access_token })).status).toBe(200);
    expect((await g.api("/api/v1/hello/kv/a", { method: "PUT", auth: session.access_token, headers: { "content-type": "application/json" }, body: "1" })).status).toBe(403);

    const patch = (body: unknown) => g.api(`/api/v1/auth/users/${vera.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await (await patch({ role: "operator" })).json()).role).toBe("operator");
    expect((await g.api("/api/v1/hello/kv/a", { method: "PUT", auth: session.access_token, headers: { "content-type": "application/json" }, body: "1" })).status).toBe(200);

    expect((await (await patch({ disabled: true })).json()).disabled).toBe(true);
    expect((await g.api("/api/v1/hello/heard", { auth: session.access_token })).status).toBe(401);
    expect((await login("vera", "vera-password-1")).status).toBe(401);
    await patch({ disabled: false });

    const again = await (await login("vera", "vera-password-1")).json();
    expect((await post(`/api/v1/auth/users/${vera.id}/password`, { password: "vera-password-2" }, ADMIN_KEY)).status).toBe(200);
    expect((await g.api("/api/v1/hello/heard", { auth: again.access_token })).status).toBe(401);
    expect((await login("vera", "vera-password-1")).status).toBe(401);
    expect((await login("vera", "vera-password-2")).status).toBe(200);

    const list = await (await g.api("/api/v1/auth/users")).json();
    expect(list.users.map((u: { username: string }) => u.username)).toEqual(["admin", "vera"]);
    expect((await patch({})).status).toBe(400);
    expect((await g.api("/api/v1/auth/users/nope", { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ role: "admin" }) })).status).toBe(404);
  });
});

describe("API keys", () => {
  test("created with a role, shown once, listed without secrets, revoked", async () => {
    const res = await post("/api/v1/auth/keys", { name: "ci-bot", role: "operator" }, ADMIN_KEY);
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created.key).toMatch(/^gk_[a-z0-9]{10}_/);
    expect(created).toMatchObject({ name: "ci-bot", role: "operator", revoked_at: null });
    const listed = await (await g.api("/api/v1/auth/keys")).json();
    const text = JSON.stringify(listed);
    expect(text).not.toContain(created.key);
    expect(text).not.toContain("hash");
    expect(listed.keys.find((k: { id: string }) => k.id === created.id).prefix).toBe(created.key.split("_").slice(0, 2).join("_"));
    expect((await g.api("/api/v1/hello/kv/b", { method: "PUT", auth: created.key, headers: { "content-type": "application/json" }, body: "2" })).status).toBe(200);
    // Verified once, the key is remembered: a forged secret with the same id is still refused, and revoking it works at once.
    expect((await g.api("/api/v1/hello/heard", { auth: created.key })).status).toBe(200);
    expect((await g.api("/api/v1/hello/heard", { auth: `${created.key.slice(0, -4)}AAAA` })).status).toBe(401);
    expect((await g.api(`/api/v1/auth/keys/${created.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await g.api("/api/v1/hello/heard", { auth: created.key })).status).toBe(401);
    expect((await g.api("/api/v1/auth/keys/nope", { method: "DELETE" })).status).toBe(404);
    expect((await post("/api/v1/auth/keys", { name: "x", role: "superuser" }, ADMIN_KEY)).status).toBe(400);
  });

  test("keys, refresh tokens and the internal key are compared in constant time", async () => {
    const fresh = await g.gantry.security.keys.create("first-use", "viewer"); // not yet verified, so not remembered
    const spy = spyOn(safeEqual, "safeEqualDigest");
    await g.api("/api/v1/hello/heard", { auth: fresh.key });
    await post("/api/v1/auth/refresh", { refresh_token: `grt_${crypto.randomUUID()}_${"A".repeat(43)}` });
    await g.api("/api/v1/hello/internal", { auth: false, headers: { "x-internal-auth": "internal-test-key" } });
    expect(spy).toHaveBeenCalledTimes(2); // the unknown refresh token id never reaches a comparison
    spy.mockRestore();
  });

  test("the internal key opens internal routes only", async () => {
    expect((await g.api("/api/v1/hello/internal", { auth: false, headers: { "x-internal-auth": "internal-test-key" } })).status).toBe(200);
    expect((await g.api("/api/v1/hello/internal", { auth: false, headers: { "x-internal-auth": "wrong" } })).status).toBe(401);
    expect((await g.api("/api/v1/hello/internal")).status).toBe(200); // admin
    expect((await g.api("/api/v1/hello/heard", { auth: false, headers: { "x-internal-auth": "internal-test-key" } })).status).toBe(401);
  });
});

describe("audit", () => {
  test("admin and operator actions and logins are recorded and filterable; admin-only", async () => {
    await post("/api/v1/auth/keys", { name: "audited", role: "viewer" }, ADMIN_KEY);
    await login("admin", "wrong password for audit");
    await login("Typed-Password-In-Username-1", "whatever");
    await databaseSettled(g); // audit entries are written after the answer
    const all = await (await g.api("/api/v1/audit")).json();
    // An unknown username may be a password typed into the wrong field: recorded as "unknown".
    expect(JSON.stringify(all)).not.toContain("Typed-Password-In-Username-1");
    expect(all.entries.filter((e: { action: string }) => e.action === "auth.login").map((e: { actor: string }) => e.actor)).toEqual(expect.arrayContaining(["unknown", "user:admin"]));
    const keyCreate = all.entries.find((e: { action: string }) => e.action === "POST /api/v1/auth/keys");
    expect(keyCreate).toMatchObject({ actor: "key:bootstrap-admin", role: "admin", status: 201, route: "/api/v1/auth/keys" });
    expect(keyCreate.request_id).toBeTruthy();
    const failed = await (await g.api("/api/v1/audit?action=auth.login&status=401")).json();
    expect(failed.entries.length).toBeGreaterThan(0);
    expect(failed.entries.every((e: { status: number; action: string }) => e.status === 401 && e.action === "auth.login")).toBe(true);
    const page = await (await g.api("/api/v1/audit?limit=2")).json();
    expect(page.entries.length).toBe(2);
    const next = await (await g.api(`/api/v1/audit?limit=2&before_id=${page.next_before_id}`)).json();
    expect(next.entries[0].id).toBeLessThan(page.entries[1].id + 1);
    const viewer = (await g.gantry.security.keys.create("audit-viewer", "viewer")).key;
    expect((await g.api("/api/v1/audit", { auth: viewer })).status).toBe(403);
    expect((await g.api("/api/v1/audit?status=abc")).status).toBe(400);
  });

  test("passwords never reach the log", async () => {
    await login("admin", "Pa55word-that-must-not-leak");
    await post("/api/v1/auth/users", { username: "leaky", password: "another-secret-pass", role: "viewer" }, ADMIN_KEY);
    expect(g.logs.text).not.toContain("Pa55word-that-must-not-leak");
    expect(g.logs.text).not.toContain("another-secret-pass");
    expect(g.logs.text).not.toContain(ADMIN_PASSWORD);
  });
});

describe("rate limits", () => {
  test("off: no check and no headers; turned on by a config reload, limits apply at once; off again, gone", async () => {
    const configFile = join(tempDir(), "gantry.toml");
    writeFileSync(configFile, "[rate_limit]\nenabled = false\nregular_per_minute = 2\n");
    const toggled = await startGantry({ configFile });
    try {
      const statuses = async () => {
        const seen = [];
        for (let i = 0; i < 3; i++) {
          const res = await toggled.api("/api/v1/auth/whoami");
          seen.push([res.status, res.headers.get("x-ratelimit-limit")]);
        }
        return seen;
      };
      expect(await statuses()).toEqual([[200, null], [200, null], [200, null]]);
      writeFileSync(configFile, "[rate_limit]\nenabled = true\nregular_per_minute = 2\n");
      toggled.gantry.configManager.reload();
      expect(await statuses()).toEqual([[200, "2"], [200, "2"], [429, "2"]]);
      writeFileSync(configFile, "[rate_limit]\nenabled = false\nregular_per_minute = 2\n");
      toggled.gantry.configManager.reload();
      expect(await statuses()).toEqual([[200, null], [200, null], [200, null]]);
    } finally {
      await toggled.stop();
    }
  });

  test("headers on every limited response; 429 with Retry-After past the limit; per credential", async () => {
    const limited = await startGantry({ config: { rate_limit: { regular_per_minute: 3, expensive_per_minute: 1, login_per_minute: 2 } } });
    try {
      await limited.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 4; i++) {
        last = await limited.api("/api/v1/hello/heard");
        statuses.push(last.status);
        if (i === 0) {
          expect(last.headers.get("x-ratelimit-limit")).toBe("3");
          expect(last.headers.get("x-ratelimit-remaining")).toBe("2");
          expect(Number(last.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(last!.headers.get("x-ratelimit-remaining")).toBe("0");
      expect((await last!.json()).code).toBe("RATE_LIMITED");
      // Another credential has its own window; probes are exempt.
      const other = (await limited.gantry.security.keys.create("other", "viewer")).key;
      expect((await limited.api("/api/v1/hello/heard", { auth: other })).status).toBe(200);
      const probe = await limited.api("/healthz");
      expect(probe.headers.get("x-ratelimit-limit")).toBeNull();
      // Expensive routes have their own, lower limit.
      expect((await limited.api("/api/v1/hello/expensive", { auth: other })).headers.get("x-ratelimit-limit")).toBe("1");
      expect((await limited.api("/api/v1/hello/expensive", { auth: other })).status).toBe(429);
      // Login: per address, stricter, even for the right password.
      const tries = [];
      for (let i = 0; i < 3; i++) tries.push((await limited.api("/api/v1/auth/login", { method: "POST", auth: false, headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: "guess" }) })).status);
      expect(tries).toEqual([401, 401, 429]);
    } finally {
      await limited.stop();
    }
  });
});
