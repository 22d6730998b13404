/** One data dir, either runtime: what gantry on Bun wrote (argon2id password hashes included) gantry on Deno reads, and back. */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { bunRuntime } from "../../core/runtime/bun.ts";
import { hashArgon2id, verifyArgon2 } from "../../core/runtime/argon2-wasm.ts";
import { dropTestDatabase, json, tempDir } from "../helpers.ts";
import { ADMIN_PASSWORD, startGantryProcess } from "./gantry-process.ts";

const ROOT = resolve(import.meta.dir, "../..");
const onBun = (dataDir: string) => startGantryProcess([process.execPath, join(ROOT, "core/main.ts"), "serve"], { dataDir });
const onDeno = (dataDir: string) => startGantryProcess(["sh", join(ROOT, "scripts/deno-serve.sh")], { dataDir });

describe("password hashes", () => {
  test("Bun.password's argon2id verifies with the WebAssembly argon2 Deno uses, and back", async () => {
    const fromBun = await bunRuntime.hashPassword("correct horse");
    expect(fromBun).toStartWith("$argon2id$v=19$m=65536,t=2,p=1$");
    expect(await verifyArgon2("correct horse", fromBun)).toBe(true);
    expect(await verifyArgon2("wrong horse", fromBun)).toBe(false);
    const fromWasm = await hashArgon2id("correct horse");
    expect(fromWasm).toStartWith("$argon2id$v=19$m=65536,t=2,p=1$");
    expect(await bunRuntime.verifyPassword("correct horse", fromWasm)).toBe(true);
    expect(await bunRuntime.verifyPassword("wrong horse", fromWasm)).toBe(false);
  });

  test("a string that is no argon2 hash verifies as false on both", async () => {
    expect(await verifyArgon2("x", "not-a-hash")).toBe(false);
    expect(await bunRuntime.verifyPassword("x", "not-a-hash")).toBe(false);
  });
});

describe("one data dir", () => {
  const dataDir = tempDir("gantry-shared-");
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await dropTestDatabase(dataDir);
  });

  test("users made on Bun log in on Deno; a user made on Deno logs in on Bun", async () => {
    const first = await onBun(dataDir);
    const created = await first.api("/api/v1/auth/users", json("POST", { username: "ops", password: "made-on-bun-1", role: "operator" }));
    expect(created.status).toBe(201);
    await first.stop();

    const second = await onDeno(dataDir);
    for (const [username, password] of [["admin", ADMIN_PASSWORD], ["ops", "made-on-bun-1"]]) {
      const login = await second.api("/api/v1/auth/login", { ...json("POST", { username, password }), auth: false });
      expect(login.status).toBe(200);
    }
    expect((await second.api("/api/v1/auth/users", json("POST", { username: "dev", password: "made-on-deno-1", role: "viewer" }))).status).toBe(201);
    await second.stop();

    const third = await onBun(dataDir);
    const login = await third.api("/api/v1/auth/login", { ...json("POST", { username: "dev", password: "made-on-deno-1" }), auth: false });
    expect(login.status).toBe(200);
    await third.stop();
  }, 60_000);
});
