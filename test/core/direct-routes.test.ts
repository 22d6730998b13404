/**
 * Routes core serves directly (the OpenAI proxy's): every step a framework-served route gets —
 * request id, role, rate limit, body limits, CORS, error shapes, metrics, audit — applies to them,
 * and a route that cannot be served that way is refused when its plugin loads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN_KEY, copyFixture, databaseSettled, json, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;
let viewer: string;
beforeAll(async () => {
  g = await startGantry({ config: { rate_limit: { enabled: true, expensive_per_minute: 2 }, server: { body_limit_bytes: 1024, cors: { origins: ["https://app.example"] } } } });
  const installed = await g.api("/api/v1/plugins", json("POST", { path: copyFixture("direct") }));
  expect(installed.status).toBe(201);
  viewer = (await g.gantry.security.keys.create("direct-viewer", "viewer")).key;
});
afterAll(() => g.stop());

const post = (path: string, body: RequestInit["body"], init: RequestInit & { auth?: boolean | string } = {}) =>
  g.api(`/api/v1/direct${path}`, { method: "POST", body, ...init });

describe("direct routes", () => {
  test("answer what the framework-served twin answers: body, request id (given or made), JSON", async () => {
    for (const path of ["/echo", "/echo-framework"]) {
      const res = await post(path, "hello", { headers: { "x-request-id": "req-direct-1" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-request-id")).toBe("req-direct-1");
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(await res.json()).toEqual({ body: "hello", request_id: "req-direct-1" });
      const made = await post(path, "again", { headers: { "x-request-id": "bad id with spaces" } });
      expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  test("roles: no credential 401, a wrong one 401, too low a role 403, in gantry's error shape; the same as the framework's", async () => {
    for (const path of ["/echo", "/echo-framework"]) {
      const none = await post(path, "x", { auth: false });
      expect(none.status).toBe(401);
      expect((await none.json()).code).toBe("UNAUTHORIZED");
      const wrong = await post(path, "x", { auth: "gk_aaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" });
      expect(wrong.status).toBe(401);
      expect((await wrong.json()).code).toBe("INVALID_CREDENTIAL");
      const low = await post(path, "x", { auth: viewer });
      expect(low.status).toBe(403);
      const body = await low.json();
      expect(body).toMatchObject({ code: "FORBIDDEN" });
      expect(low.headers.get("x-request-id")).toBeTruthy();
    }
  });

  test("errors: gantry's shape with the error's status; an unexpected one is a 500 that leaks nothing; the same as the framework's", async () => {
    const bodies: Record<string, unknown>[] = [];
    for (const path of ["/echo", "/echo-framework"]) {
      const failed = await post(path, "fail");
      expect(failed.status).toBe(418);
      const body = await failed.json();
      expect(body).toEqual({ error: "told to fail: the body said so", code: "TOLD_TO_FAIL", details: null });
      const crashed = await post(path, "crash", { headers: { "x-request-id": "crash-1" } });
      expect(crashed.status).toBe(500);
      const text = await crashed.text();
      expect(text).not.toContain("secret detail");
      expect(text).not.toContain("/srv/app.ts");
      bodies.push(JSON.parse(text));
    }
    expect(bodies[0]).toEqual(bodies[1]!);
    expect(bodies[0]!.code).toBe("INTERNAL");
  });

  test("a Response's own request id stays; a route's onError without the own-errors mark yields to core's shape", async () => {
    const own = await post("/own-id", null, { auth: viewer });
    expect(own.headers.get("x-request-id")).toBe("from-upstream");
    const failed = await post("/core-shaped", "fail");
    expect(failed.status).toBe(418);
    expect(await failed.json()).toEqual({ error: "told to fail: the body said so", code: "TOLD_TO_FAIL", details: null });
  });

  test("beforeHandle hooks run after the checks; one that answers is the answer", async () => {
    expect(await (await post("/shaped", "intercept")).json()).toEqual({ intercepted: true });
    expect((await (await post("/shaped", "through")).json()).body).toBe("through");
    expect((await post("/shaped", "intercept", { auth: viewer })).status).toBe(403);
  });

  test("a route's own error shape answers its errors, auth included", async () => {
    const failed = await post("/shaped", "fail");
    expect(failed.status).toBe(418);
    expect(await failed.json()).toEqual({ oops: "told to fail: the body said so" });
    const denied = await post("/shaped", "x", { auth: viewer });
    expect(denied.status).toBe(403);
    expect(Object.keys(await denied.json())).toEqual(["oops"]);
  });

  test("rate limits count and refuse with 429, X-RateLimit-* and Retry-After", async () => {
    const first = await post("/limited", "a", { auth: viewer });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await post("/limited", "b", { auth: viewer })).status).toBe(200);
    const refused = await post("/limited", "c", { auth: viewer });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await refused.json()).code).toBe("RATE_LIMITED");
  });

  test("bodies past the limit are 413, by Content-Length or counted when chunked", async () => {
    const big = "x".repeat(2048);
    const declared = await post("/echo", big);
    expect(declared.status).toBe(413);
    expect((await declared.json()).code).toBe("PAYLOAD_TOO_LARGE");
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(big.slice(0, 512)));
        controller.close();
      },
    });
    const chunked = await post("/echo", chunks, { duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await chunked.json()).code).toBe("PAYLOAD_TOO_LARGE");
  });

  test("a Response passes through with core's headers added (request id, CORS)", async () => {
    const res = await post("/stream", null, { auth: viewer, headers: { origin: "https://app.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.text()).toBe("data: one\n\n");
    const preflight = await g.api("/api/v1/direct/stream", { method: "OPTIONS", auth: false, headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
  });

  test("requests are counted in the metrics by route and status (a returned Response's own) and audited like any operator write", async () => {
    await post("/echo", "counted");
    expect((await post("/gone-framework", null, { auth: viewer })).status).toBe(410);
    await databaseSettled(g);
    const metrics = await (await g.api("/metrics")).text();
    expect(metrics).toMatch(/gantry_http_requests_total\{method="POST",route="\/api\/v1\/direct\/echo",status="200"\} [1-9]/);
    expect(metrics).toMatch(/gantry_http_requests_total\{method="POST",route="\/api\/v1\/direct\/echo",status="403"\} [1-9]/);
    expect(metrics).toMatch(/gantry_http_requests_total\{method="POST",route="\/api\/v1\/direct\/gone-framework",status="410"\} 1/);
    const audit = await (await g.api("/api/v1/audit?limit=200")).json();
    const entry = audit.entries.find((e: { action: string; status: number }) => e.action === "POST /api/v1/direct/echo" && e.status === 200);
    expect(entry).toMatchObject({ actor: "key:bootstrap-admin", role: "admin", route: "/api/v1/direct/echo" });
    expect(entry.request_id).toBeTruthy();
  });

  test("a direct route with a path param is refused when its plugin loads, naming the rule", async () => {
    const res = await g.api("/api/v1/plugins", json("POST", { path: copyFixture("direct-bad") }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(JSON.stringify(await res.json())).toContain("a direct route reads its body as text or not at all");
    // The plugins that were serving still are.
    expect((await post("/echo", "still here", { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(200);
  });
});
