/**
 * Indirection through paths: a corpus of links (to /etc/passwd, into the data dir, to `..`, chains,
 * to a folder outside, loops, dangling) and of named paths (`..`, absolute, NUL, the data dir) sent
 * through every reader an operator or a model's tool call reaches — knowledge ingest, dataset roots,
 * deployment packages, agents' file tools and plugin folders. No file content leaves its root, gantry's
 * own state never leaves the data dir, and nothing answers 5xx; links that stay inside keep working.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { BUILTIN_PLUGINS, STAND_IN_MODEL_SERVER, dropTestDatabase, freePort, json, startGantry, tempDir, type TestGantry } from "../helpers.ts";

const CANARY_OUTSIDE = "CANARY-OUTSIDE-7f3a";
const CANARY_DATA = "CANARY-DATA-DIR-91c2";
/** In the folder above the roots (inside the agents' workspace, outside every other root). */
const CANARY_PARENT = "CANARY-PARENT-5d0e";
const PASSWD = "root:x:0:0";

let g: TestGantry;
let viewer: string;
/** One folder holding the data dir and every root (the workspace holds the data dir too). */
let top: string;
let outside: string;
let dataDir: string;
let secretKey: string;

/** Links every root gets: none may be read through the root. */
function plantLinks(dir: string, ext: string): void {
  symlinkSync("/etc/passwd", join(dir, `passwd${ext}`));
  symlinkSync(join(dataDir, "secret.key"), join(dir, `key${ext}`));
  symlinkSync(join(dataDir, "gantry.db"), join(dir, `db${ext}`));
  symlinkSync(join(dataDir, `canary${ext}`), join(dir, `data-canary${ext}`));
  symlinkSync(relative(dir, join(top, `parent-canary${ext}`)), join(dir, `up${ext}`));
  symlinkSync(join(outside, `canary${ext}`), join(dir, `out${ext}`));
  symlinkSync(`chain-b${ext}`, join(dir, `chain-a${ext}`));
  symlinkSync(`chain-c${ext}`, join(dir, `chain-b${ext}`));
  symlinkSync("/etc/passwd", join(dir, `chain-c${ext}`));
  symlinkSync(outside, join(dir, "outdir"));
  symlinkSync(dataDir, join(dir, "datadir"));
  symlinkSync("..", join(dir, "parent"));
  symlinkSync(".", join(dir, "loop"));
  symlinkSync("/nonexistent/file", join(dir, `dangling${ext}`));
}

/** What must never appear in an answer; `parentVisible` for the agents, whose workspace is the folder above the roots. */
function assertNoLeak(text: string, parentVisible = false): void {
  for (const secret of [PASSWD, CANARY_OUTSIDE, CANARY_DATA, secretKey, "SQLite format 3", ...(parentVisible ? [] : [CANARY_PARENT])]) expect(text).not.toContain(secret);
}

/** Names the corpus sends where a caller names a path. */
const NAMED = (): string[] => [
  "/etc", "/etc/passwd", "..", "../", "../..", "sub/../../..", "passwd.txt", "outdir", "datadir", "parent", "loop/../..", dataDir, join(dataDir, "secret.key"),
  join(outside, "canary.txt"), "a\u0000b", "/", "~",
];

beforeAll(async () => {
  top = tempDir("gantry-indirection-");
  outside = tempDir("gantry-indirection-outside-");
  dataDir = join(top, "data");
  mkdirSync(dataDir);
  for (const ext of [".txt", ".md", ".csv", ".bin"]) {
    writeFileSync(join(outside, `canary${ext}`), ext === ".csv" ? `name\n${CANARY_OUTSIDE}\n` : `${CANARY_OUTSIDE}\n`);
    writeFileSync(join(dataDir, `canary${ext}`), ext === ".csv" ? `name\n${CANARY_DATA}\n` : `${CANARY_DATA}\n`);
    writeFileSync(join(top, `parent-canary${ext}`), ext === ".csv" ? `name\n${CANARY_PARENT}\n` : `${CANARY_PARENT}\n`);
  }
  // Knowledge root, dataset root, model folder: each with real files, an inside link, and the corpus.
  for (const [dir, ext, body] of [["knowledge", ".txt", "Inside text about turbines.\n"], ["datasets", ".csv", "a,b\n1,2\n"], ["models/m1", ".bin", "weights"]] as const) {
    mkdirSync(join(top, dir), { recursive: true });
    writeFileSync(join(top, dir, `real${ext}`), body);
    symlinkSync(`real${ext}`, join(top, dir, `inside${ext}`));
    plantLinks(join(top, dir), ext);
  }
  const [brainPort, modelPort] = [await freePort(), await freePort()];
  g = await startGantry({
    builtins: BUILTIN_PLUGINS, dataDir,
    config: {
      rate_limit: { enabled: false },
      plugin: {
        instances: { port_range: [brainPort, brainPort] },
        knowledge: { roots: [join(top, "knowledge")], embedding_model: "" },
        datasets: { roots: [join(top, "datasets")] },
        agent: { default_model: "brain", workspaces: [top], agents: { reader: { prompt: "You read files.", tools: ["Read", "Glob", "Grep", "Write", "Edit", "Skill"], allow: ["Read", "Glob", "Grep", "Write", "Edit", "Skill"] } } },
      },
    },
  });
  secretKey = readFileSync(join(dataDir, "secret.key"), "utf8").trim();
  expect(secretKey.length).toBeGreaterThan(16);
  viewer = (await g.gantry.security.keys.create("indirection-viewer", "viewer")).key;
  const brain = await g.api("/api/v1/instances", json("POST", { name: "brain", backend: "command", model_path: "brain", port: brainPort, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] }));
  expect(brain.status).toBe(201);
  const model = await g.api("/api/v1/instances", json("POST", { name: "m1", backend: "command", model_path: join(top, "models", "m1"), port: modelPort, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] }));
  expect(model.status).toBe(201);
});
afterAll(async () => {
  await g.stop();
  await dropTestDatabase(dataDir);
  rmSync(top, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

/** The answer's text after checking it is not a 5xx and leaks nothing. */
async function checked(res: Response, parentVisible = false): Promise<{ status: number; text: string }> {
  const text = await res.text();
  expect(res.status).toBeLessThan(500);
  assertNoLeak(text, parentVisible);
  return { status: res.status, text };
}

const REFUSED_LINKS = (ext: string) => [`passwd${ext}`, `key${ext}`, `db${ext}`, `data-canary${ext}`, `up${ext}`, `out${ext}`, `chain-a${ext}`, `chain-b${ext}`, `chain-c${ext}`, "outdir", "datadir", "parent", `dangling${ext}`];

describe("path indirection", () => {
  test("knowledge ingest: links out of the root (files, folders, chains, into the data dir) are skipped and listed; inside links work; viewers find nothing outside", async () => {
    expect((await g.api("/api/v1/knowledge/collections", json("POST", { name: "sec", embedding_model: null }))).status).toBe(201);
    const res = await g.api("/api/v1/knowledge/collections/sec/ingest", json("POST", { path: "." }));
    const { status, text } = await checked(res);
    expect(status).toBe(200);
    const body = JSON.parse(text) as { documents: { source: string }[]; skipped: { path: string; reason: string }[] };
    expect(body.documents.map((d) => d.source).sort()).toEqual(["inside.txt", "real.txt"]);
    const skipped = new Map(body.skipped.map((s) => [s.path, s.reason]));
    for (const name of REFUSED_LINKS(".txt")) expect(skipped.has(name)).toBe(true);
    expect(skipped.get("dangling.txt")).toBe("broken_link");
    expect(skipped.get("passwd.txt")).toBe("outside_root");
    expect(g.logs.text).toContain("knowledge ingest skipped entries");
    for (const query of ["root", "CANARY", "x 0 0", "bin bash", "turbines"]) {
      const found = await checked(await g.api("/api/v1/knowledge/search", { ...json("POST", { query, collection: "sec", top_k: 50 }), auth: viewer }));
      expect(found.status).toBe(200);
      if (query === "turbines") expect(JSON.parse(found.text).results.length).toBeGreaterThan(0);
    }
    for (const path of NAMED()) {
      const named = await checked(await g.api("/api/v1/knowledge/collections/sec/ingest", json("POST", { path })));
      expect(named.status).toBeGreaterThanOrEqual(400);
      expect(["PATH_OUTSIDE_ROOT", "PATH_INVALID", "PATH_NOT_FOUND", "KNOWLEDGE_FOLDER_NOT_ALLOWED", "VALIDATION_FAILED"]).toContain(JSON.parse(named.text).code);
    }
    const docs = await checked(await g.api("/api/v1/knowledge/collections/sec/documents", { auth: viewer }));
    expect(JSON.parse(docs.text).documents).toHaveLength(2);
  });

  test("datasets: a root's links out (pw.csv → /etc/passwd, into the data dir, chains, folders) are neither listed nor previewed; an inside link is", async () => {
    // An upload lands in the data dir: a link to the data dir must not list it a second time.
    const form = new FormData();
    form.set("name", "uploaded");
    form.set("file", new File(["x,y\n3,4\n"], "uploaded.csv"));
    expect((await g.api("/api/v1/datasets", { method: "POST", body: form })).status).toBe(201);
    const listed = await checked(await g.api("/api/v1/datasets", { auth: viewer }));
    expect(listed.status).toBe(200);
    const body = JSON.parse(listed.text) as { datasets: { name: string }[]; skipped: { path: string; reason: string }[] };
    expect(body.datasets.map((d) => d.name).sort()).toEqual(["inside", "real", "uploaded"]);
    const skipped = new Map(body.skipped.map((s) => [s.path, s.reason]));
    for (const name of REFUSED_LINKS(".csv")) expect(skipped.has(name)).toBe(true);
    expect(g.logs.text).toContain("dataset root entry refused");
    for (const name of ["passwd", "key", "db", "data-canary", "up", "out", "chain-a", "outdir.canary", "datadir.canary", "datadir.plugins.datasets.uploads.uploaded", "parent.outside-canary"]) {
      for (const suffix of ["", "/preview", "/profile"]) {
        const res = await checked(await g.api(`/api/v1/datasets/${name}${suffix}`));
        expect(res.status).toBe(404);
      }
    }
    const preview = await checked(await g.api("/api/v1/datasets/inside/preview"));
    expect((JSON.parse(preview.text).rows as Record<string, unknown>[]).map((r) => [String(r.a), String(r.b)])).toEqual([["1", "2"]]);
  });

  test("datasets: a root file swapped for a link after it was listed is not read", async () => {
    const file = join(top, "datasets", "swap.csv");
    writeFileSync(file, "c\n5\n");
    expect((await checked(await g.api("/api/v1/datasets/swap/preview"))).status).toBe(200);
    unlinkSync(file);
    symlinkSync("/etc/passwd", file);
    const after = await checked(await g.api("/api/v1/datasets/swap/preview"));
    expect(after.status).toBe(404);
    unlinkSync(file);
  });

  test("deployments: a package of a model folder holding links to the data dir, /etc/passwd and `..` carries only the folder's own files and lists what it skipped", async () => {
    const res = await checked(await g.api("/api/v1/deployments/package", json("POST", { version: "m1" })));
    expect(res.status).toBe(201);
    const artifact = JSON.parse(res.text);
    expect(artifact.detail.model_files).toBe(2);
    const skipped = new Map((artifact.detail.skipped as { path: string; reason: string }[]).map((s) => [s.path, s.reason]));
    for (const name of REFUSED_LINKS(".bin")) expect(skipped.has(name)).toBe(true);
    expect(g.logs.text).toContain("package left out entries");
    const tar = new Uint8Array(await (await g.api(artifact.download, { auth: viewer })).arrayBuffer());
    const text = new TextDecoder("latin1").decode(tar);
    assertNoLeak(text);
    expect(text).toContain("models/inside.bin");
    expect(text).not.toContain("secret.key");
    expect(text).not.toContain("gantry.db");
  });

  test("deployments: a version whose model folder is the data dir is refused with PATH_OUTSIDE_ROOT", async () => {
    const port = await freePort();
    const created = await g.api("/api/v1/instances", json("POST", { name: "m-data", backend: "command", model_path: dataDir, port, on_demand_start: true, command: [process.execPath, STAND_IN_MODEL_SERVER, "--port", "{port}"] }));
    expect(created.status).toBe(201);
    const res = await checked(await g.api("/api/v1/deployments/package", json("POST", { version: "m-data" })));
    expect([res.status, JSON.parse(res.text).code]).toEqual([400, "PATH_OUTSIDE_ROOT"]);
  });

  test("agent file tools: the workspace holds the data dir; Read, Glob, Grep, Write and Edit never reach it or leave the workspace through links", async () => {
    const call = (tool: string, args: Record<string, unknown>) => `CALL ${tool} ${JSON.stringify(args)}`;
    const lines = [
      call("Read", { file_path: "knowledge/real.txt" }),
      call("Read", { file_path: "knowledge/inside.txt" }),
      ...NAMED().map((p) => call("Read", { file_path: p })),
      ...["knowledge/passwd.txt", "knowledge/key.txt", "knowledge/chain-a.txt", "knowledge/out.txt", "knowledge/outdir/canary.txt", "knowledge/datadir/canary.txt", "data/secret.key", "data/gantry.db", "data/canary.txt", "data/../data/canary.txt"].map((p) => call("Read", { file_path: p })),
      call("Glob", { pattern: "**/*" }),
      call("Grep", { pattern: "CANARY|root:x" , output_mode: "content" }),
      call("Grep", { pattern: ".", path: "knowledge/outdir", output_mode: "content" }),
      call("Write", { file_path: "knowledge/dangling.txt", content: "written through a dangling link" }),
      call("Write", { file_path: "data/canary.txt", content: "overwritten" }),
      call("Edit", { file_path: "knowledge/out.txt", old_string: "CANARY", new_string: "X" }),
    ];
    const res = await checked(await g.api("/api/v1/agents/reader/invoke", json("POST", { input: lines.join("\n") })), true);
    const run = JSON.parse(res.text) as { status: string; steps: { type: string; tool?: string; outcome?: string; result?: string }[] };
    expect(run.status).toBe("succeeded");
    const steps = run.steps.filter((s) => s.type === "tool");
    expect(steps).toHaveLength(lines.length);
    expect(steps[0]!.result).toContain("Inside text about turbines");
    expect(steps[1]!.result).toContain("Inside text about turbines");
    // Every named path and every link out was an error of the tool, and so were the writes and the edit.
    const reads = steps.slice(2, 2 + NAMED().length + 10);
    for (const step of [...reads, ...steps.slice(-3)]) expect([step.tool, step.outcome, step.result]).toEqual([step.tool, "error", step.result]);
    const glob = steps.find((s) => s.tool === "Glob")!.result!;
    expect(glob).toContain(join(top, "knowledge", "inside.txt"));
    expect(glob).not.toContain(`${join(top, "data")}/`);
    expect(glob).not.toContain("passwd");
    // Nothing was written outside the workspace or into the data dir.
    expect(readFileSync(join(outside, "canary.txt"), "utf8")).toBe(`${CANARY_OUTSIDE}\n`);
    expect(readFileSync(join(dataDir, "canary.txt"), "utf8")).toBe(`${CANARY_DATA}\n`);
    expect(() => readFileSync("/nonexistent/file")).toThrow();
  });

  test("plugin folders: commands, agents and skill files that link out of the folder are not read and are reported; @file stays inside", async () => {
    const dir = join(tempDir("gantry-indirection-plugin-"), "linky");
    mkdirSync(join(dir, "commands"), { recursive: true });
    mkdirSync(join(dir, "agents"), { recursive: true });
    mkdirSync(join(dir, "skills", "helper"), { recursive: true });
    writeFileSync(join(dir, "commands", "show.md"), "---\ndescription: shows a file\n---\nHere: @notes.txt and @pw.txt and @$ARGUMENTS\n");
    writeFileSync(join(dir, "notes.txt"), "plugin notes inside");
    symlinkSync("/etc/passwd", join(dir, "pw.txt"));
    symlinkSync("/etc/passwd", join(dir, "commands", "leak.md"));
    symlinkSync(join(outside, "canary.md"), join(dir, "agents", "spy.md"));
    symlinkSync(outside, join(dir, "commands", "outdir"));
    writeFileSync(join(dir, "skills", "helper", "SKILL.md"), "---\nname: helper\ndescription: helps\n---\nUse the files.\n");
    writeFileSync(join(dir, "skills", "helper", "ok.txt"), "skill file inside");
    symlinkSync("/etc/passwd", join(dir, "skills", "helper", "pw.txt"));
    symlinkSync(join(dataDir, "secret.key"), join(dir, "skills", "helper", "key.txt"));
    try {
      const installed = await checked(await g.api("/api/v1/plugins", json("POST", { path: dir })));
      expect(installed.status).toBe(201);
      const name = JSON.parse(installed.text).name as string;
      const view = await checked(await g.api(`/api/v1/plugins/${name}`));
      const unsupported = (JSON.parse(view.text).unsupported as { part: string }[]).map((u) => u.part);
      for (const part of ["commands/leak.md", "agents/spy.md", "commands/outdir", "skills/helper/pw.txt", "skills/helper/key.txt"]) expect(unsupported).toContain(part);
      const commands = await checked(await g.api("/api/v1/plugins/commands", { auth: viewer }));
      expect(commands.text).toContain(`${name}:show`);
      expect(commands.text).not.toContain(`${name}:leak`);
      await checked(await g.api("/api/v1/agents", { auth: viewer }));
      for (const args of ["pw.txt", "/etc/passwd", "../../../../etc/passwd", join(dataDir, "secret.key")]) {
        const invoked = await checked(await g.api(`/api/v1/plugins/commands/${name}:show/invoke`, json("POST", { arguments: args })));
        expect(invoked.status).toBeLessThan(500);
        if (invoked.status === 200) expect(JSON.parse(invoked.text).prompt ?? "").toContain("plugin notes inside");
      }
      const call = (args: Record<string, unknown>) => `CALL Skill ${JSON.stringify(args)}`;
      const skillRun = await checked(await g.api("/api/v1/agents/reader/invoke", json("POST", { input: [call({ skill: "helper", file: "ok.txt" }), call({ skill: "helper", file: "pw.txt" }), call({ skill: "helper", file: "key.txt" }), call({ skill: "helper", file: "../../pw.txt" })].join("\n") })));
      const skillSteps = (JSON.parse(skillRun.text).steps as { type: string; outcome?: string; result?: string }[]).filter((s) => s.type === "tool");
      expect(skillSteps[0]!.result).toContain("skill file inside");
      expect(skillSteps.slice(1).map((s) => s.outcome)).toEqual(["error", "error", "error"]);
    } finally {
      rmSync(join(dir, ".."), { recursive: true, force: true });
    }
  });
});
