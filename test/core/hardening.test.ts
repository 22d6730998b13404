import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { canonicalUrl } from "../../core/http/server.ts";
import { json, startGantry, type TestGantry } from "../helpers.ts";

let g: TestGantry;
beforeAll(async () => {
  g = await startGantry({ config: { server: { header_limit_bytes: 8192 } } });
});
afterAll(() => g.stop());

/** One raw HTTP/1.1 exchange, for requests fetch will not send (odd Host headers, huge headers). */
function rawRequest(text: string): Promise<{ status: number; body: string }> {
  const port = Number(new URL(g.url).port);
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let out = "";
    socket.on("data", (d) => (out += d));
    socket.on("end", () => resolve({ status: Number(out.split(" ")[1]), body: out.split("\r\n\r\n").slice(1).join("\r\n\r\n") }));
    socket.on("error", reject);
  });
}
const get = (path: string, host: string, extra = "") => rawRequest(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);

describe("request parsing", () => {
  test("a JSON body nested 5,000 levels is 400 JSON_TOO_DEEP before validation, on public and admin routes", async () => {
    const deep = "[".repeat(5000) + "]".repeat(5000);
    const login = await g.api("/api/v1/auth/login", { ...json("POST"), body: `{"username":${deep},"password":"x"}`, auth: false });
    expect(login.status).toBe(400);
    expect((await login.json()).code).toBe("JSON_TOO_DEEP");
    const key = await g.api("/api/v1/auth/keys", { ...json("POST"), body: `{"name":"k","role":"viewer","x":${"{\"a\":".repeat(3000)}1${"}".repeat(3000)}}` });
    expect([key.status, (await key.json()).code]).toEqual([400, "JSON_TOO_DEEP"]);
    // At the limit it is ordinary validation.
    const shallow = await g.api("/api/v1/auth/login", { ...json("POST"), body: `{"username":${"[".repeat(60) + "]".repeat(60)},"password":"x"}`, auth: false });
    expect([shallow.status, (await shallow.json()).code]).toEqual([400, "VALIDATION_FAILED"]);
  });

  test("the path is the path for every Host: short, empty, IPv6, with a port, very long", async () => {
    for (const host of ["x", "ab", "a:1", "", "[::1]", "[::1]:8080", "127.0.0.1:65535", "h".repeat(4000)]) {
      const shifted = await get("/zz/healthz", host);
      expect([host.slice(0, 12), shifted.status]).toEqual([host.slice(0, 12), 404]);
      const direct = await get("/healthz?x=1", host);
      expect([host.slice(0, 12), direct.status]).toEqual([host.slice(0, 12), 200]);
    }
    expect(canonicalUrl("http://x/zz/env")).toBe("http://localhost/zz/env");
    expect(canonicalUrl("/zz/env")).toBe("http://localhost/zz/env");
    expect(canonicalUrl("http://example.com/zz/env")).toBeUndefined();
  });

  test("oversized headers get 431 in the JSON error shape", async () => {
    const res = await get("/healthz", "localhost", `X-Big: ${"a".repeat(10_000)}\r\n`);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ code: "HEADERS_TOO_LARGE", details: null });
  });

  test("error bodies echo at most a bounded part of oversized input", async () => {
    const long = "k".repeat(500_000);
    const res = await g.api(`/api/v1/${long.slice(0, 6000)}`);
    expect(res.status).toBe(404);
    const body = await res.text();
    expect(body.length).toBeLessThan(2000);
    expect(JSON.parse(body).error).toContain("more characters");
    const login = await g.api("/api/v1/auth/login", { ...json("POST", { username: long, password: long }), auth: false });
    expect(login.status).toBeLessThan(500);
    expect((await login.text()).length).toBeLessThan(4000);
  });
});
