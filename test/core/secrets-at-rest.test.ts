import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SecretBox } from "../../core/auth/secret-box.ts";
import { BUILTIN_PLUGINS, json, startGantry, STAND_IN_MODEL_SERVER, tempDir, waitFor, type TestGantry } from "../helpers.ts";

const MARKER = "hf_AT_REST_MARKER_0123456789";
const dataDir = tempDir();
const seen = join(tempDir("gantry-env-"), "seen");
let g: TestGantry;
const boot = () => startGantry({ builtins: BUILTIN_PLUGINS, dataDir, config: { database: { url: "" }, plugins: { disabled: ["cache", "agent", "batch", "cron", "mcp"] } } });

/** Every byte gantry wrote to its data dir (the database, its WAL), as text. */
const dataDirText = () => readdirSync(dataDir).filter((f) => statSync(join(dataDir, f)).isFile() && f !== "secret.key").map((f) => readFileSync(join(dataDir, f)).toString("latin1")).join("\n");

beforeAll(async () => {
  g = await boot();
});
afterAll(() => g.stop());

describe("secrets at rest", () => {
  test("instance env values are sealed in the database and reach the model server in plain text", async () => {
    const created = await g.api("/api/v1/instances", json("POST", {
      name: "sealed", backend: "command", model_path: "sealed", env: { HF_TOKEN: MARKER },
      command: ["sh", "-c", `printf %s "$HF_TOKEN" > ${seen}; exec ${process.execPath} ${STAND_IN_MODEL_SERVER} --port {port}`],
    }));
    expect(created.status).toBe(201);
    expect((await g.api("/api/v1/instances/sealed/start", json("POST"))).status).toBe(200);
    await waitFor(async () => (await Bun.file(seen).exists()) && (await Bun.file(seen).text()) === MARKER, 5000, "the server to see its env");
    await g.api("/api/v1/instances/sealed/stop", json("POST"));
    const stored = g.gantry.core.database.sqlite!.query("SELECT env FROM instances_definitions WHERE name = 'sealed'").get() as { env: string };
    expect(JSON.parse(stored.env).HF_TOKEN).toStartWith("enc:v1:");
    g.gantry.core.database.sqlite!.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    expect(dataDirText()).not.toContain(MARKER);
  });

  test("a value stored in plain text by an older gantry is sealed at the next start", async () => {
    g.gantry.core.database.sqlite!.query("UPDATE instances_definitions SET env = ? WHERE name = 'sealed'").run(JSON.stringify({ HF_TOKEN: MARKER }));
    await g.stop();
    g = await boot();
    const stored = g.gantry.core.database.sqlite!.query("SELECT env FROM instances_definitions WHERE name = 'sealed'").get() as { env: string };
    expect(JSON.parse(stored.env).HF_TOKEN).toStartWith("enc:v1:");
    expect(g.gantry.security.secrets.open(JSON.parse(stored.env).HF_TOKEN)).toBe(MARKER);
  });

  test("rotation: a previous key still opens values and marks them for sealing again; an unknown key is an error", () => {
    const sealedWithOld = new SecretBox("old key").seal("s3cret");
    const rotated = new SecretBox("new key", ["old key"]);
    expect(rotated.open(sealedWithOld)).toBe("s3cret");
    expect(rotated.needsReseal(sealedWithOld)).toBe(true);
    expect(rotated.needsReseal(rotated.seal("x"))).toBe(false);
    expect(() => new SecretBox("new key").open(sealedWithOld)).toThrow(/neither auth.secret_key nor in auth.previous_secret_keys/);
    expect(new SecretBox("k").open("legacy plain value")).toBe("legacy plain value");
  });
});
