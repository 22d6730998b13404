/**
 * bench/db: one mixed workload on each store, through the data layer core and plugins use:
 *  - auth lookups: an API key by its digest (what a cold cache would read),
 *  - cron run rows: a run recorded, then finished (insert … returning, update … returning),
 *  - batch lines: a line claimed (one conditional UPDATE) and finished,
 *  - cache queue claims: an entry queued, then claimed (select + delete in a transaction).
 * WORKERS clients run the mix back to back for SECONDS on: SQLite through bun:sqlite's synchronous
 * drizzle driver (how gantry ran before: the baseline), SQLite through the async layer (now), and
 * PostgreSQL (GANTRY_BENCH_PG_URL, default the local test database). ops/s, p50, p99 per operation.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { migrate } from "drizzle-orm/bun-sqlite/migrator";
import { eq } from "drizzle-orm";
import postgres from "postgres";
import { openDatabase, pluginMigrationsTable, type DatabaseHandle, type GantryDb } from "../core/storage/db.ts";
import { coreTables } from "../core/storage/tables.ts";
import { sha256 } from "../core/auth/safe-equal.ts";
import { BatchStore } from "../plugins/batch/batch-store.ts";
import { CacheStore } from "../plugins/cache/cache-store.ts";
import { JobStore } from "../plugins/cron/job-store.ts";
import { percentile, ROOT, round } from "./lib.ts";

const WORKERS = Number(process.env.WORKERS ?? 8);
const SECONDS = Number(process.env.SECONDS ?? 4);
const PG_URL = process.env.GANTRY_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PLUGINS = ["cron", "batch", "cache"];
const KEYS = 200;
const LINES = Number(process.env.LINES ?? 20_000);

type Op = "auth_lookup" | "cron_run" | "batch_line" | "cache_claim";

/** Tables, a job, a batch of many lines and API keys to look up. */
async function seed(db: GantryDb) {
  const { apiKeys } = coreTables(db);
  const digests: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    const id = `bench${String(i).padStart(5, "0")}`;
    const hash = sha256(`gk_${id}_${randomBytes(24).toString("base64url")}`).toString("hex");
    digests.push(hash);
    await db.insert(apiKeys).values({ id, name: id, hash, prefix: `gk_${id}`, role: "viewer", createdAt: new Date() });
  }
  const jobs = new JobStore(db);
  const job = await jobs.create({ name: "bench", schedule: "* * * * *", command: "/x:y", enabled: false, timeout_s: 60 });
  const batches = new BatchStore(db);
  await batches.create("bench", "bench", "operator", Array.from({ length: LINES }, (_, i) => ({ custom_id: String(i), agent: "a", input: "x" })));
  return { digests, jobId: job.id, jobs, batches, cache: new CacheStore(db, join(tmpdir(), "gantry-bench-pages")) };
}

async function workload(db: GantryDb) {
  const { digests, jobId, jobs, batches, cache } = await seed(db);
  const { apiKeys } = coreTables(db);
  let n = 0;
  const ops: Record<Op, () => Promise<unknown>> = {
    auth_lookup: () => db.select().from(apiKeys).where(eq(apiKeys.hash, digests[n++ % KEYS]!)),
    cron_run: async () => {
      const run = (await jobs.startRun(jobId, "schedule", "bench", null))!;
      await jobs.finishRun(run.id, { status: "succeeded", durationMs: 1, result: "{}", error: null });
    },
    batch_line: async () => {
      const line = await batches.claim("bench", "bench", 60_000);
      if (line) await batches.finish("bench", line.line, { status: "succeeded", output: "ok", error: null, agentRunId: null, toolCalls: [] });
    },
    cache_claim: async () => {
      await cache.enqueue(1, [`https://shop.example/p/${n++}`], [1], "normal", new Date(0));
      for (const item of await cache.claimDue(1, "bench", 60_000)) await cache.complete(item, "bench");
    },
  };
  const latencies: Record<Op, number[]> = { auth_lookup: [], cron_run: [], batch_line: [], cache_claim: [] };
  const names = Object.keys(ops) as Op[];
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = w; performance.now() < deadline; i++) {
      const op = names[i % names.length]!;
      const t0 = performance.now();
      await ops[op]();
      latencies[op].push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const all = names.flatMap((op) => latencies[op]);
  return {
    ops_per_s: round(all.length / seconds, 0), p50_ms: round(percentile(all, 50), 3), p99_ms: round(percentile(all, 99), 3),
    by_op: Object.fromEntries(names.map((op) => [op, { ops_per_s: round(latencies[op].length / seconds, 0), p50_ms: round(percentile(latencies[op], 50), 3), p99_ms: round(percentile(latencies[op], 99), 3) }])),
  };
}

async function migrated(handle: DatabaseHandle): Promise<DatabaseHandle> {
  for (const plugin of PLUGINS) await handle.migrate(join(ROOT, "plugins", plugin, "drizzle", handle.dialect), pluginMigrationsTable(plugin));
  return handle;
}

/** The synchronous bun:sqlite driver gantry used before, behind the same store code (statements run as they are awaited; no transactions). */
function syncSqlite(dir: string): { db: GantryDb; close(): void } {
  const sqlite = new Database(join(dir, "gantry.db"), { create: true, strict: true });
  for (const pragma of ["journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 5000"]) sqlite.exec(`PRAGMA ${pragma}`);
  const db = drizzle({ client: sqlite });
  migrate(db, { migrationsFolder: join(ROOT, "drizzle", "sqlite") });
  for (const plugin of PLUGINS) migrate(db, { migrationsFolder: join(ROOT, "plugins", plugin, "drizzle", "sqlite"), migrationsTable: pluginMigrationsTable(plugin) });
  Object.defineProperty(db, "engine", { value: "sqlite" });
  // The old code ran these statements one by one, without a transaction.
  Object.defineProperty(db, "transaction", { value: (body: (tx: unknown) => unknown) => body(db) });
  return { db: db as unknown as GantryDb, close: () => sqlite.close() };
}

const results: Record<string, Awaited<ReturnType<typeof workload>>> = {};
const before = mkdtempSync(join(tmpdir(), "gantry-bench-db-"));
const sync = syncSqlite(before);
results.sqlite_sync_before = await workload(sync.db);
sync.close();
rmSync(before, { recursive: true, force: true });

const dir = mkdtempSync(join(tmpdir(), "gantry-bench-db-"));
const sqlite = await migrated(await openDatabase({ dataDir: dir, url: "", schema: "public", poolSize: 1 }));
results.sqlite = await workload(sqlite.db);
await sqlite.close();
rmSync(dir, { recursive: true, force: true });

const schema = `bench_${Date.now().toString(36)}`;
try {
  const pg = await migrated(await openDatabase({ dataDir: tmpdir(), url: PG_URL, schema, poolSize: 10 }));
  results.postgresql = await workload(pg.db);
  await pg.close();
} finally {
  const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await admin.end();
}

console.log(JSON.stringify({
  bench: "db", workers: WORKERS, seconds: SECONDS, results,
  ratio_sqlite_async_vs_sync_ops: round(results.sqlite!.ops_per_s / results.sqlite_sync_before!.ops_per_s),
  ratio_postgresql_vs_sqlite_ops: results.postgresql ? round(results.postgresql.ops_per_s / results.sqlite!.ops_per_s) : null,
}, null, 2));
