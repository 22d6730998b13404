/** Test helpers: a real gantry on a loopback port with its own data dir and captured logs. */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { validateConfig } from "../core/kernel/config.ts";
import { createGantry, type Gantry } from "../core/gantry.ts";
import { Errors } from "../core/kernel/errors.ts";
import postgres from "postgres";
import { reservePort, reservePortBlock, type PortBlock } from "./ports.ts";

export { portRangeEnv, reservePort, reservePortBlock, type PortBlock } from "./ports.ts";

export const FIXTURES = resolve(import.meta.dir, "fixtures");
export const FIXTURE_PLUGINS = join(FIXTURES, "plugins");
export const ADMIN_KEY = "gk_testadmin1_abcdefghijklmnopqrstuvwxyz012345";
/** The stand-in programs for systems outside gantry (tests and benches start them as real processes). */
export const STAND_IN_MODEL_SERVER = join(FIXTURES, "model-server", "server.ts");
export const STAND_IN_MCP_SERVER = join(FIXTURES, "mcp-server", "server.ts");

/** Collects pino's JSON lines. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString().split("\n").filter(Boolean));
    done();
  }
  get records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l));
  }
  get text(): string {
    return this.lines.join("\n");
  }
}

export interface TestGantry {
  gantry: Gantry;
  url: string;
  dataDir: string;
  logs: LogCapture;
  /** The model-server ports this gantry hands out (plugin.instances.port_range), reserved for it alone. */
  modelPorts: PortBlock;
  /** fetch relative to the server, with the admin key unless `auth: false` or headers given. */
  api(path: string, init?: RequestInit & { auth?: boolean | string }): Promise<Response>;
  stop(): Promise<void>;
}

/** A JSON request: `method`, and `body` serialized when given. */
export function json(method: string, body?: unknown): RequestInit {
  return { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) };
}

export function tempDir(prefix = "gantry-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Copies a fixture plugin into a fresh folder (for tests that edit its files). */
export function copyFixture(name: string): string {
  const dir = join(tempDir("gantry-plugin-"), name);
  cpSync(join(FIXTURE_PLUGINS, name), dir, { recursive: true });
  return dir;
}

/**
 * The database every test gantry uses: SQLite in its data dir, or, when GANTRY_TEST_PG_URL is set,
 * PostgreSQL with a schema of its own named after the data dir (a restart on the same dir finds
 * its data; test files running at once never share a schema). An unreachable server fails the
 * test at start (DATABASE_UNAVAILABLE): the PostgreSQL leg never passes by running on SQLite.
 */
export const TEST_PG_URL = process.env.GANTRY_TEST_PG_URL ?? "";

export function testDatabase(dataDir: string): { url: string; schema: string } | undefined {
  if (!TEST_PG_URL) return undefined;
  return { url: TEST_PG_URL, schema: `t_${createHash("sha256").update(resolve(dataDir)).digest("hex").slice(0, 20)}` };
}

/** The same as environment variables, for a gantry started as a subprocess. */
export function testDatabaseEnv(dataDir: string): Record<string, string> {
  const database = testDatabase(dataDir);
  return database ? { GANTRY_DATABASE__URL: database.url, GANTRY_DATABASE__SCHEMA: database.schema } : {};
}

let admin: postgres.Sql | undefined;
/** Drops a test gantry's PostgreSQL schema (nothing on SQLite). */
export async function dropTestDatabase(dataDir: string): Promise<void> {
  const database = testDatabase(dataDir);
  if (!database) return;
  admin ??= postgres(database.url, { max: 1, idle_timeout: 1, onnotice: () => {} });
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${database.schema}" CASCADE`);
}

/** Rows of a raw SQL query on a test gantry's database, whichever the dialect. */
export async function sqlRows(g: TestGantry, query: string): Promise<Record<string, unknown>[]> {
  const { sqlite, pg } = g.gantry.core.database;
  if (pg) return [...(await pg.unsafe(query))];
  return sqlite!.query(query).all() as Record<string, unknown>[];
}

/** Starts gantry on 127.0.0.1:0. `builtins` is the folder scanned for built-in plugins (default: none). */
export interface StartOptions {
  builtins?: string;
  dataDir?: string;
  config?: Record<string, unknown>;
  listen?: boolean;
  /** A gantry.toml whose keys apply over the test defaults, at start and on config reload. */
  configFile?: string;
}

/** The real built-in plugins folder. */
export const BUILTIN_PLUGINS = resolve(import.meta.dir, "..", "plugins");

export async function startGantry(options: StartOptions = {}): Promise<TestGantry> {
  const dataDir = options.dataDir ?? tempDir();
  const emptyBuiltins = tempDir("gantry-builtins-");
  const modelPorts = options.dataDir ? await dataDirPorts(options.dataDir) : await reservePortBlock();
  const base = deepMerge({
      data_dir: dataDir,
      server: { host: "127.0.0.1", port: 0, shutdown_timeout_ms: 2000 },
      log: { level: "debug", format: "json" },
      plugins: { dir: options.builtins ?? emptyBuiltins, setup_timeout_ms: 3000, dispose_timeout_ms: 300 },
      auth: { bootstrap_admin_key: ADMIN_KEY },
      // A model server's start is given a minute: a ceiling for a hang, not a speed limit, on a loaded machine.
      plugin: { instances: { port_range: [modelPorts.from, modelPorts.to], start_timeout_s: 60 } },
      ...(testDatabase(dataDir) ? { database: testDatabase(dataDir) } : {}),
    }, options.config ?? {});
  const read = () => {
    let fromFile: Record<string, unknown> = {};
    if (options.configFile) {
      try {
        fromFile = Bun.TOML.parse(readFileSync(options.configFile, "utf8")) as Record<string, unknown>;
      } catch (error) {
        throw Errors.CONFIG_INVALID([options.configFile, [`not valid TOML: ${(error as Error).message}`]]);
      }
    }
    return validateConfig(deepMerge(base, fromFile), options.configFile ?? "test");
  };
  let gantry: Gantry;
  let url: string;
  const logs = new LogCapture();
  try {
    gantry = await createGantry(read(), { logDestination: logs, announce: () => {}, reloadConfig: read });
    url = options.listen === false ? "" : await gantry.listen();
  } catch (error) {
    modelPorts.release();
    throw error;
  }
  return {
    gantry, url, dataDir, logs, modelPorts,
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      const key = init.auth === undefined || init.auth === true ? ADMIN_KEY : init.auth;
      if (key && !headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
      return fetch(url + path, { ...init, headers });
    },
    async stop() {
      await gantry.stop();
      modelPorts.release();
      rmSync(emptyBuiltins, { recursive: true, force: true });
      if (!options.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        await dropTestDatabase(dataDir);
      }
    },
  };
}

/**
 * A gantry restarted on the same data dir finds its instances on the ports they were given: the
 * block is noted beside the data dir and taken again by the next gantry on it (held while it runs).
 */
async function dataDirPorts(dataDir: string): Promise<PortBlock> {
  const note = `${resolve(dataDir)}.model-ports`; // beside the data dir: nothing of gantry's own in it
  const before = existsSync(note) ? Number(readFileSync(note, "utf8")) : undefined;
  const block = await reservePortBlock(undefined, before);
  writeFileSync(note, String(block.from));
  return block;
}

const processPorts = new Map<string, Promise<PortBlock>>();
/** The model-server port block of a gantry subprocess's data dir, held until this test process ends (it outlives the subprocess). */
export function modelPortsOf(dataDir: string): Promise<PortBlock> {
  let block = processPorts.get(resolve(dataDir));
  if (!block) processPorts.set(resolve(dataDir), (block = reservePortBlock()));
  return block;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) && typeof a[k] === "object" ? deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/**
 * A port for a stand-in server or a gantry subprocess on 127.0.0.1: below the ephemeral range, held
 * for this test process (no other test file gets it), and free when handed over.
 */
export function freePort(): Promise<number> {
  return reservePort();
}

/**
 * The least time any wait gives its state before it fails. A wait's ceiling only turns a hang into
 * a failure: on a loaded machine (CI, other checkouts' tests at once) everything takes several times
 * longer, so a ceiling given as a few seconds is raised to this.
 */
export const WAIT_FLOOR_MS = 15_000;

/** Polls `check` until it returns true; fails naming `what` (or the check's source) after max(`ms`, WAIT_FLOOR_MS). */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = WAIT_FLOOR_MS, what?: string): Promise<void> {
  const ceiling = Math.max(ms, WAIT_FLOOR_MS);
  const deadline = Date.now() + ceiling;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(10);
  }
  throw new Error(`Timed out after ${ceiling} ms waiting for ${what ?? `\`${String(check).replace(/\s+/g, " ").slice(0, 200)}\``}`);
}

/** Waits until `g` has sent no database statement for `quietMs` (background writes settled); returns the count then. */
export async function databaseSettled(g: TestGantry, quietMs = 100, ms = 10_000): Promise<number> {
  const database = g.gantry.core.database;
  let seen = -1;
  await waitFor(async () => {
    const now = database.statements();
    const settled = now === seen;
    seen = now;
    if (!settled) await Bun.sleep(quietMs);
    return settled;
  }, ms, "background database writes to settle");
  return seen;
}

/** Creates an on-demand instance `name` of the stand-in model server (command backend). */
export async function createStandInModel(g: TestGantry, name: string): Promise<void> {
  const res = await g.api("/api/v1/instances", json("POST", {
    name, backend: "command", model_path: name, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"],
  }));
  if (res.status !== 201) throw new Error(`creating instance ${name}: ${res.status} ${await res.text()}`);
}

/** Waits until the mcp plugin reports the server `name` connected. */
export function waitForMcpServer(g: TestGantry, name: string): Promise<void> {
  return waitFor(async () => (await (await g.api(`/api/v1/mcp/servers/${encodeURIComponent(name)}`)).json()).status === "connected", 10_000, `MCP server ${name} to connect`);
}

/** Whether `pid` runs (a zombie, exited and waiting to be reaped, does not). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Pids of a process group's members that still run, from the process table (`ps -g`). */
export function liveGroupMembers(pgid: number): number[] {
  return Bun.spawnSync(["ps", "-o", "pid=,stat=", "-g", String(pgid)]).stdout.toString().trim().split("\n")
    .map((line) => line.trim().split(/\s+/)).filter(([pid, stat]) => pid && !stat?.startsWith("Z")).map(([pid]) => Number(pid));
}
