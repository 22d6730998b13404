/**
 * Two gantry nodes over one database, each with its own search index (as a fleet runs): what is
 * ingested or deleted through one is found, or no longer found, through the other at its next
 * search. On PostgreSQL the nodes share the test schema; on SQLite the second node's gantry.db is
 * a link to the first's (one database file, two index files).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS, json, startGantry, tempDir, testDatabase, type TestGantry } from "../helpers.ts";

let a: TestGantry;
let b: TestGantry;
let dataDirB: string;

const indexFile = (g: TestGantry) => join(g.dataDir, "plugins", "knowledge", "search-index.sqlite");
/** Names of B's index tables and the collections its index holds (read through a second connection). */
const indexOfB = () => {
  const db = new Database(indexFile(b), { readonly: true });
  try {
    return {
      tables: (db.query("SELECT name FROM sqlite_master").all() as { name: string }[]).map((r) => r.name),
      collections: (db.query("SELECT collection FROM revisions").all() as { collection: number }[]).map((r) => r.collection),
    };
  } finally {
    db.close();
  }
};

/** Only the knowledge plugin runs: the nodes share its tables and nothing else of interest. */
const config = { rate_limit: { enabled: false }, plugins: { disabled: readdirSync(BUILTIN_PLUGINS, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== "knowledge").map((e) => e.name) } };

const upload = (node: TestGantry, name: string, content: string) => {
  const form = new FormData();
  form.append("file", new File([content], name));
  return node.api("/api/v1/knowledge/collections/shared/documents", { method: "POST", body: form });
};
const sources = async (node: TestGantry, query: string, collection?: string) => {
  const res = await node.api("/api/v1/knowledge/search", json("POST", { query, ...(collection ? { collection } : {}), mode: "lexical" }));
  expect(res.status).toBe(200);
  return ((await res.json()).results as { source: string; text: string }[]);
};

beforeAll(async () => {
  a = await startGantry({ builtins: BUILTIN_PLUGINS, config });
  dataDirB = tempDir("gantry-knowledge-node-b-");
  const shared = testDatabase(a.dataDir);
  if (!shared) symlinkSync(join(a.dataDir, "gantry.db"), join(dataDirB, "gantry.db"));
  b = await startGantry({ builtins: BUILTIN_PLUGINS, dataDir: dataDirB, config: { ...config, ...(shared ? { database: shared } : {}) } });
});
afterAll(async () => {
  await b?.stop();
  rmSync(dataDirB, { recursive: true, force: true });
  await a?.stop();
});

describe("knowledge across nodes", () => {
  test("the nodes keep separate index files over one database", () => {
    expect(indexFile(a)).not.toBe(indexFile(b));
    expect(readdirSync(join(b.dataDir, "plugins", "knowledge"))).toContain("search-index.sqlite");
  });

  test("ingested on A, B finds it; a same-size changed file re-ingested on A, B finds the new text; deleted on A, B stops finding it", async () => {
    expect((await a.api("/api/v1/knowledge/collections", json("POST", { name: "shared", embedding_model: null }))).status).toBe(201);
    expect((await upload(a, "boot.txt", "Reboot the inference node after flashing firmware.")).status).toBe(201);
    expect((await sources(b, "firmware", "shared")).map((r) => r.source)).toEqual(["boot.txt"]);

    // The same number of bytes and chunks: a count of chunks cannot tell this change.
    const changed = "Reboot the inference node after swapping its fans.";
    expect(changed.length).toBe("Reboot the inference node after flashing firmware.".length);
    const replaced = await (await upload(a, "boot.txt", changed)).json();
    expect(replaced.documents[0]).toMatchObject({ status: "replaced", chunks: 1 });
    expect(await sources(b, "firmware", "shared")).toEqual([]);
    expect((await sources(b, "swapping", "shared")).map((r) => r.text)).toEqual([changed]);

    const [doc] = (await (await a.api("/api/v1/knowledge/collections/shared/documents")).json()).documents;
    expect((await a.api(`/api/v1/knowledge/collections/shared/documents/${doc.id}`, { method: "DELETE" })).status).toBe(200);
    expect(await sources(b, "swapping", "shared")).toEqual([]);
    expect(await sources(a, "swapping", "shared")).toEqual([]);
  });

  test("changes through B reach A too; a collection deleted on A is gone from B's searches and index", async () => {
    expect((await upload(b, "disk.md", "Replace a failing disk before the array degrades.")).status).toBe(201);
    expect((await sources(a, "degrades")).map((r) => r.source)).toEqual(["disk.md"]);
    const [old] = indexOfB().collections;
    expect(indexOfB().tables).toContain(`fts_c${old}`);
    expect((await a.api("/api/v1/knowledge/collections/shared", { method: "DELETE" })).status).toBe(200);
    const res = await b.api("/api/v1/knowledge/search", json("POST", { query: "degrades", collection: "shared" }));
    expect([res.status, (await res.json()).code]).toEqual([404, "KNOWLEDGE_COLLECTION_NOT_FOUND"]);
    expect(await sources(b, "degrades")).toEqual([]);
    // Searching every collection lets B's index drop what it held of the deleted one.
    expect(indexOfB().collections).not.toContain(old);
    expect(indexOfB().tables).not.toContain(`fts_c${old}`);
    // Recreated under the same name, the collection is a new one: nothing of the old one comes back.
    expect((await b.api("/api/v1/knowledge/collections", json("POST", { name: "shared", embedding_model: null }))).status).toBe(201);
    expect(await sources(a, "degrades", "shared")).toEqual([]);
  });

  test("a node restarted over a stale index catches up at start", async () => {
    expect((await upload(a, "fans.txt", "Clean the fans of the rack twice a year.")).status).toBe(201);
    expect((await sources(b, "twice", "shared")).map((r) => r.source)).toEqual(["fans.txt"]);
    await b.stop();
    expect((await upload(a, "fans.txt", "Clean the fans of the rack four times yearly")).status).toBe(201);
    b = await startGantry({ builtins: BUILTIN_PLUGINS, dataDir: dataDirB, config: { ...config, ...(testDatabase(a.dataDir) ? { database: testDatabase(a.dataDir) } : {}) } });
    expect(b.logs.text).toContain("knowledge index brought up to date with the stored chunks");
    expect(b.logs.text).not.toContain("knowledge index rebuilt from the stored chunks");
    expect((await sources(b, "yearly", "shared")).map((r) => r.source)).toEqual(["fans.txt"]);
    expect(await sources(b, "twice", "shared")).toEqual([]);
  });
});
