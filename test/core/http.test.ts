import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ADMIN_KEY, FIXTURE_PLUGINS, startGantry, waitFor, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({ config: { server: { body_limit_bytes: 4096 } } });
  await g.gantry.host.install(join(FIXTURE_PLUGINS, "hello"));
});
afterAll(() => g.stop());

const json = (body: unknown, method = "POST"): RequestInit => ({ method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("core routes", () => {
  test("/healthz is 200 and public", async () => {
    const res = await g.api("/healthz", { auth: false });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("ok");
    expect(body.version).toBe("0.1.0");
  });

  test("/livez reports database and disk checks", async () => {
    const res = await g.api("/livez", { auth: false });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.checks.database.ok).toBe(true);
    expect(body.checks.disk.ok).toBe(true);
    expect(body.checks.disk.free_bytes).toBeGreaterThan(0);
  });

  test("/livez answers 503 with details when a check fails", async () => {
    const strict = await startGantry({ config: { health: { min_free_disk_bytes: Number.MAX_SAFE_INTEGER } } });
    try {
      const res = await strict.api("/livez", { auth: false });
      expect(res.status).toBe(503);
      const body = await res.json();
      expect(body.code).toBe("LIVENESS_FAILED");
      expect(body.error).toContain("disk");
      expect(body.details.checks.disk.ok).toBe(false);
      expect(body.details.checks.database.ok).toBe(true);
    } finally {
      await strict.stop();
    }
  });

  test("/livez fails the database check when the database is closed", async () => {
    const broken = await startGantry();
    try {
      await broken.gantry.core.database.close();
      const res = await broken.api("/livez", { auth: false });
      expect(res.status).toBe(503);
      expect((await res.json()).details.checks.database.ok).toBe(false);
    } finally {
      await broken.gantry.routing.stop(100);
    }
  });

  test("/metrics counts requests by route pattern and status, with process metrics", async () => {
    await g.api("/api/v1/hello/kv/some-key");
    await g.api("/api/v1/does-not-exist");
    const text = await (await g.api("/metrics", { auth: false })).text();
    expect(text).toMatch(/gantry_http_requests_total\{method="GET",route="\/api\/v1\/hello\/kv\/:key",status="200"\} \d+/);
    expect(text).toMatch(/gantry_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
    expect(text).toContain("gantry_http_request_duration_seconds_bucket");
    expect(text).toContain("gantry_process_resident_memory_bytes");
  });

  test("/openapi.json documents plugin routes with their schemas and roles", async () => {
    const spec = await (await g.api("/openapi.json")).json();
    expect(spec.openapi).toMatch(/^3\./);
    const echo = spec.paths["/api/v1/hello/echo"].post;
    expect(echo["x-gantry-role"]).toBe("public");
    expect(echo.tags).toContain("hello");
    expect(JSON.stringify(echo.requestBody)).toContain("count");
    expect(spec.paths["/api/v1/hello/admin-only"].get["x-gantry-role"]).toBe("admin");
    expect(spec.paths["/healthz"].get["x-gantry-role"]).toBe("public");
  });

  test("/docs works offline: its UI assets are served by gantry", async () => {
    const html = await (await g.api("/docs")).text();
    expect(html).toContain("/docs/assets/swagger-ui-bundle.js");
    expect(html).not.toContain("unpkg.com");
    const asset = await g.api("/docs/assets/swagger-ui-bundle.js", { auth: false });
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(100_000);
    expect((await g.api("/docs/assets/..%2Fpackage.json", { auth: false })).status).toBe(404);
  });
});

describe("request ids", () => {
  test("every response carries one; a sane incoming one is kept", async () => {
    const generated = await g.api("/healthz");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await g.api("/healthz", { headers: { "x-request-id": "abc-123" } });
    expect(kept.headers.get("x-request-id")).toBe("abc-123");
    const replaced = await g.api("/healthz", { headers: { "x-request-id": "bad id\twith spaces" } });
    expect(replaced.headers.get("x-request-id")).not.toContain(" ");
  });

  test("log lines carry the request id", async () => {
    const res = await g.api("/api/v1/hello/greeting", { headers: { "x-request-id": "trace-me-42" } });
    expect(res.status).toBe(200);
    // The request line is written after the response is sent.
    await waitFor(() => g.logs.records.some((r) => r.reqId === "trace-me-42"), 2000, "the request log line");
    const line = g.logs.records.find((r) => r.reqId === "trace-me-42");
    expect(line).toMatchObject({ method: "GET", path: "/api/v1/hello/greeting", status: 200 });
  });

  test("a secret in a request line's path or request id is redacted, the other fields kept", async () => {
    const pathSecret = "sk-proj-PaThSeCrEt0123456789abcdefXYZ";
    const idSecret = "gk_idsecret12_IdSeCrEtIdSeCrEtIdSeCrEtIdSeCrEt0123";
    const res = await g.api(`/api/v1/hello/${pathSecret}`, { headers: { "x-request-id": idSecret } });
    expect(res.status).toBe(404);
    await waitFor(() => g.logs.records.some((r) => r.msg === "request" && String(r.path).startsWith("/api/v1/hello/[redacted]")), 2000, "the request log line");
    const line = g.logs.records.find((r) => r.msg === "request" && String(r.path).startsWith("/api/v1/hello/[redacted]"));
    expect(line).toMatchObject({ reqId: "[redacted]", method: "GET", status: 404 });
    expect(typeof line!.ms).toBe("number");
    expect(g.logs.text).not.toContain("PaThSeCrEt");
    expect(g.logs.text).not.toContain("IdSeCrEt");
  });

  test("error responses carry it too", async () => {
    const res = await g.api("/nope", { headers: { "x-request-id": "err-1" } });
    expect(res.headers.get("x-request-id")).toBe("err-1");
  });
});

describe("error shapes", () => {
  test("unknown route is 404 JSON", async () => {
    const res = await g.api("/api/v1/nothing/here");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "No route for GET /api/v1/nothing/here", code: "NOT_FOUND", details: null });
  });

  test("a validation error is 400 and names the field", async () => {
    const res = await g.api("/api/v1/hello/echo", json({ name: "ok", count: "three" }));
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(body.error).toContain("count");
    expect(body.details).toContainEqual(expect.objectContaining({ in: "body", field: "count" }));
  });

  test("a missing required field is named", async () => {
    const res = await g.api("/api/v1/hello/echo", json({ count: 1 }));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain("name");
  });

  test("malformed JSON is 400, not 500", async () => {
    const res = await g.api("/api/v1/hello/echo", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe("BAD_REQUEST");
  });

  test("a body over the limit is 413", async () => {
    const res = await g.api("/api/v1/hello/echo", json({ name: "x".repeat(10_000), count: 1 }));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "Request body exceeds the limit of 4096 bytes", code: "PAYLOAD_TOO_LARGE", details: null });
  });

  test("a chunked body (no Content-Length) is counted: over the limit 413, under it served, the client address kept", async () => {
    const chunked = (text: string) => new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < text.length; i += 1000) controller.enqueue(new TextEncoder().encode(text.slice(i, i + 1000)));
        controller.close();
      },
    });
    const send = (path: string, text: string, requestId: string) => fetch(`${g.url}${path}`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}`, "x-request-id": requestId },
      body: chunked(text), duplex: "half",
    } as RequestInit);
    const big = await send("/api/v1/plugins", JSON.stringify({ path: "x".repeat(10_000) }), "chunked-big");
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: "Request body exceeds the limit of 4096 bytes", code: "PAYLOAD_TOO_LARGE", details: null });
    const small = await send("/api/v1/hello/echo", JSON.stringify({ name: "chunked", count: 2 }), "chunked-small");
    expect(small.status).toBe(200);
    expect(await small.json()).toEqual({ name: "chunked", count: 2 });
    // The audit trail still sees where the refused request came from, though its body was wrapped.
    await waitFor(async () => (await g.gantry.security.audit.query({ status: 413 })).entries.some((e) => e.request_id === "chunked-big" && e.ip !== null), 2000, "the audit row with the address");
  });

  test("a handler crash is a 500 with the request id and no stack or message leak", async () => {
    const res = await g.api("/api/v1/hello/boom", { headers: { "x-request-id": "boom-1" } });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: "Internal error; see the server log for request boom-1", code: "INTERNAL", details: null });
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain(".ts");
    await waitFor(() => g.logs.records.some((r) => r.reqId === "boom-1" && r.msg === "unhandled error"), 2000, "the error log line");
    const logged = g.logs.records.find((r) => r.reqId === "boom-1" && r.msg === "unhandled error");
    expect(JSON.stringify(logged)).toContain("hunter2");
  });

  test("a valid request passes", async () => {
    const res = await g.api("/api/v1/hello/echo", json({ name: "ok", count: 3 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: "ok", count: 3 });
  });
});

describe("roles", () => {
  test("no credential on a protected route is 401; a bad one is 401 saying so", async () => {
    const none = await g.api("/api/v1/hello/admin-only", { auth: false });
    expect(none.status).toBe(401);
    expect((await none.json()).code).toBe("UNAUTHORIZED");
    const wrong = await g.api("/api/v1/hello/admin-only", { auth: "gk_abcdefghij_wrongwrongwrongwrongwrongwrongwrong" });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).code).toBe("INVALID_CREDENTIAL");
  });

  test("too little role is 403; enough is 200; key accepted three ways", async () => {
    const viewer = (await g.gantry.security.keys.create("test-viewer", "viewer")).key;
    const forbidden = await g.api("/api/v1/hello/admin-only", { auth: viewer });
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error).toContain("requires role 'admin'");
    expect((await g.api("/api/v1/hello/heard", { auth: viewer })).status).toBe(200);
    expect((await g.api("/api/v1/hello/heard", { auth: false, headers: { "x-api-key": viewer } })).status).toBe(200);
    expect((await g.api(`/api/v1/hello/heard?api_key=${viewer}`, { auth: false })).status).toBe(200);
  });

  test("an inference key cannot reach management routes; a revoked key is 401", async () => {
    const inference = await g.gantry.security.keys.create("test-inference", "inference");
    expect((await g.api("/api/v1/hello/heard", { auth: inference.key })).status).toBe(403);
    const operator = await g.gantry.security.keys.create("test-operator", "operator");
    expect((await g.api("/api/v1/hello/kv/a", json({ v: 1 }, "PUT"))).status).toBe(200);
    await g.gantry.security.keys.revoke(operator.id);
    expect((await g.api("/api/v1/hello/kv/a", { ...json({ v: 1 }, "PUT"), auth: operator.key })).status).toBe(401);
  });

  test("API keys never appear in the request log", async () => {
    await g.api(`/api/v1/hello/heard?api_key=${encodeURIComponent("gk_secretsecr_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")}`, { auth: false });
    expect(g.logs.text).not.toContain("ZZZZZZZZZZZZZZZZ");
  });
});

describe("listening", () => {
  test("a second gantry on a port in use fails to start with a clear error instead of sharing the port", async () => {
    const port = Number(new URL(g.url).port);
    const second = await startGantry({ listen: false, config: { server: { port } } });
    try {
      const error = await second.gantry.listen().catch((e) => e);
      expect(error.code).toBe("LISTEN_FAILED");
      expect(error.message).toContain(`Cannot listen on 127.0.0.1:${port}`);
      expect((await g.api("/healthz")).status).toBe(200); // the first one still serves, alone
    } finally {
      await second.stop();
    }
  });
});
