/**
 * Two gantry nodes over one database, each with its own search index (as a fleet runs): what is
 * ingested or deleted through one is found, or no longer found, through the other at its next
 * search. On PostgreSQL the nodes are gantry processes in cluster mode sharing the test schema
 * (startCluster); on SQLite, two gantries in this process whose second gantry.db is a link to the
 * first's (one database file, two index files).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { startCluster, type TestCluster } from "../cluster-nodes.ts";
import { BUILTIN_PLUGINS, json, startGantry, tempDir, TEST_PG_URL, type TestGantry } from "../helpers.ts";

/** What the test needs of a node, whichever way it runs. */
interface Node {
  dataDir: string;
  api(path: string, init?: RequestInit): Promise<Response>;
  logs(): string;
}

interface Nodes {
  a: Node;
  b: Node;
  /** Stops B, runs `meanwhile`, starts B again on its data dir. */
  restartB(meanwhile: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/** Real cluster nodes on PostgreSQL. */
async function clusterNodes(): Promise<Nodes> {
  const cluster: TestCluster = await startCluster(2, ["knowledge"]);
  const wrap = (n: TestCluster["nodes"][number]): Node => ({ dataDir: n.dataDir, api: (path, init) => n.api(path, init), logs: () => n.lines.join("\n") });
  const nodes: Nodes = {
    a: wrap(cluster.nodes[0]!), b: wrap(cluster.nodes[1]!),
    async restartB(meanwhile) {
      const old = cluster.nodes.find((n) => n.name === "node-b")!;
      old.proc.kill("SIGTERM");
      await old.proc.exited;
      await meanwhile();
      nodes.b = wrap(await cluster.add("node-b"));
    },
    stop: () => cluster.stop(),
  };
  return nodes;
}

/** Two gantries in this process over one SQLite file. */
async function sqliteNodes(): Promise<Nodes> {
  const config = { rate_limit: { enabled: false }, plugins: { disabled: readdirSync(BUILTIN_PLUGINS, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== "knowledge").map((e) => e.name) } };
  const wrap = (g: TestGantry): Node => ({ dataDir: g.dataDir, api: (path, init) => g.api(path, init), logs: () => g.logs.text });
  const ga = await startGantry({ builtins: BUILTIN_PLUGINS, config });
  const dataDirB = tempDir("gantry-knowledge-node-b-");
  symlinkSync(join(ga.dataDir, "gantry.db"), join(dataDirB, "gantry.db"));
  const startB = () => startGantry({ builtins: BUILTIN_PLUGINS, dataDir: dataDirB, config });
  let gb = await startB();
  const nodes: Nodes = {
    a: wrap(ga), b: wrap(gb),
    async restartB(meanwhile) {
      await gb.stop();
      await meanwhile();
      gb = await startB();
      nodes.b = wrap(gb);
    },
    async stop() {
      await gb.stop();
      rmSync(dataDirB, { recursive: true, force: true });
      await ga.stop();
    },
  };
  return nodes;
}

let nodes: Nodes;
beforeAll(async () => {
  nodes = TEST_PG_URL ? await clusterNodes() : await sqliteNodes();
}, 60_000);
afterAll(() => nodes?.stop());

const indexFile = (node: Node) => join(node.dataDir, "plugins", "knowledge", "search-index.sqlite");
/** Names of B's index tables and the collections its index holds (read through a second connection). */
const indexOfB = () => {
  const db = new Database(indexFile(nodes.b), { readonly: true });
  try {
    return {
      tables: (db.query("SELECT name FROM sqlite_master").all() as { name: string }[]).map((r) => r.name),
      collections: (db.query("SELECT collection FROM revisions").all() as { collection: number }[]).map((r) => r.collection),
    };
  } finally {
    db.close();
  }
};

const upload = (node: Node, name: string, content: string) => {
  const form = new FormData();
  form.append("file", new File([content], name));
  return node.api("/api/v1/knowledge/collections/shared/documents", { method: "POST", body: form });
};
const sources = async (node: Node, query: string, collection?: string) => {
  const res = await node.api("/api/v1/knowledge/search", json("POST", { query, ...(collection ? { collection } : {}), mode: "lexical" }));
  expect(res.status).toBe(200);
  return ((await res.json()).results as { source: string; text: string }[]);
};

describe("knowledge across nodes", () => {
  test("the nodes keep separate index files over one database", () => {
    expect(indexFile(nodes.a)).not.toBe(indexFile(nodes.b));
    expect(readdirSync(join(nodes.b.dataDir, "plugins", "knowledge"))).toContain("search-index.sqlite");
  });

  test("ingested on A, B finds it; a same-size changed file re-ingested on A, B finds the new text; deleted on A, B stops finding it", async () => {
    expect((await nodes.a.api("/api/v1/knowledge/collections", json("POST", { name: "shared", embedding_model: null }))).status).toBe(201);
    expect((await upload(nodes.a, "boot.txt", "Reboot the inference node after flashing firmware.")).status).toBe(201);
    expect((await sources(nodes.b, "firmware", "shared")).map((r) => r.source)).toEqual(["boot.txt"]);

    // The same number of bytes and chunks: a count of chunks cannot tell this change.
    const changed = "Reboot the inference node after swapping its fans.";
    expect(changed.length).toBe("Reboot the inference node after flashing firmware.".length);
    const replaced = await (await upload(nodes.a, "boot.txt", changed)).json();
    expect(replaced.documents[0]).toMatchObject({ status: "replaced", chunks: 1 });
    expect(await sources(nodes.b, "firmware", "shared")).toEqual([]);
    expect((await sources(nodes.b, "swapping", "shared")).map((r) => r.text)).toEqual([changed]);

    const [doc] = (await (await nodes.a.api("/api/v1/knowledge/collections/shared/documents")).json()).documents;
    expect((await nodes.a.api(`/api/v1/knowledge/collections/shared/documents/${doc.id}`, { method: "DELETE" })).status).toBe(200);
    expect(await sources(nodes.b, "swapping", "shared")).toEqual([]);
    expect(await sources(nodes.a, "swapping", "shared")).toEqual([]);
  });

  test("changes through B reach A too; a collection deleted on A is gone from B's searches and index", async () => {
    expect((await upload(nodes.b, "disk.md", "Replace a failing disk before the array degrades.")).status).toBe(201);
    expect((await sources(nodes.a, "degrades")).map((r) => r.source)).toEqual(["disk.md"]);
    const [old] = indexOfB().collections;
    expect(indexOfB().tables).toContain(`fts_c${old}`);
    expect((await nodes.a.api("/api/v1/knowledge/collections/shared", { method: "DELETE" })).status).toBe(200);
    const res = await nodes.b.api("/api/v1/knowledge/search", json("POST", { query: "degrades", collection: "shared" }));
    expect([res.status, (await res.json()).code]).toEqual([404, "KNOWLEDGE_COLLECTION_NOT_FOUND"]);
    expect(await sources(nodes.b, "degrades")).toEqual([]);
    // Searching every collection lets B's index drop what it held of the deleted one.
    expect(indexOfB().collections).not.toContain(old);
    expect(indexOfB().tables).not.toContain(`fts_c${old}`);
    // Recreated under the same name, the collection is a new one: nothing of the old one comes back.
    expect((await nodes.b.api("/api/v1/knowledge/collections", json("POST", { name: "shared", embedding_model: null }))).status).toBe(201);
    expect(await sources(nodes.a, "degrades", "shared")).toEqual([]);
  });

  test("a node restarted over a stale index catches up at start", async () => {
    expect((await upload(nodes.a, "fans.txt", "Clean the fans of the rack twice a year.")).status).toBe(201);
    expect((await sources(nodes.b, "twice", "shared")).map((r) => r.source)).toEqual(["fans.txt"]);
    await nodes.restartB(async () => {
      expect((await upload(nodes.a, "fans.txt", "Clean the fans of the rack four times yearly")).status).toBe(201);
    });
    expect(nodes.b.logs()).toContain("knowledge index brought up to date with the stored chunks");
    expect(nodes.b.logs()).not.toContain("knowledge index rebuilt from the stored chunks");
    expect((await sources(nodes.b, "yearly", "shared")).map((r) => r.source)).toEqual(["fans.txt"]);
    expect(await sources(nodes.b, "twice", "shared")).toEqual([]);
  });
});
