/**
 * Model downloads against the stand-in hub (a real program on loopback): resume after a cut connection,
 * SHA-256 checked (a corrupted file refused and deleted), folders, the disk-space check, cancel and
 * resume, progress as server-sent events, the files on disk; a plugin reload keeps a download, a
 * disable cancels it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { ADMIN_KEY, BUILTIN_PLUGINS, freePort, json, startGantry, tempDir, waitFor, type TestGantry } from "../helpers.ts";

const HUB = resolve(import.meta.dir, "../fixtures/model-hub/server.ts");
const TOKEN = "hf_standintoken0123456789";
const hubs: Subprocess[] = [];
let hub: string;
let slowHub: string;
let g: TestGantry;
const modelsDir = join(tempDir(), "models");
let viewerKey: string;

async function startHub(...flags: string[]): Promise<string> {
  const port = await freePort();
  hubs.push(Bun.spawn([process.execPath, HUB, "--port", String(port), ...flags], { stdout: "ignore", stderr: "inherit" }));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/_requests`).catch(() => null))?.ok === true, 10_000, "the stand-in hub");
  return url;
}

beforeAll(async () => {
  [hub, slowHub] = await Promise.all([startHub("--cut-after-bytes", "1000000", "--token", TOKEN, "--page-size", "2"), startHub("--chunk-delay-ms", "150")]);
  g = await startGantry({
    builtins: BUILTIN_PLUGINS,
    config: {
      plugins: { disabled: readdirSync(BUILTIN_PLUGINS).filter((name) => name !== "instances" && name !== "infra") },
      rate_limit: { enabled: false },
      outbound: { allow: [hub, slowHub].map((url) => new URL(url).host) }, // the stand-in hubs on loopback, by port
      plugin: { instances: { hub_url: hub, hub_token: TOKEN, models_dir: modelsDir } },
    },
  });
  viewerKey = (await g.gantry.security.keys.create("viewer", "viewer")).key;
});
afterAll(async () => {
  await g.stop();
  for (const proc of hubs) proc.kill();
});

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const pull = async (source: string) => g.api("/api/v1/models/pull", json("POST", { source }));

/** Reads a pull's server-sent events until it finishes. */
async function events(id: string): Promise<{ status: string; bytes_done: number; error: string | null }[]> {
  const res = await g.api(`/api/v1/models/pulls/${id}/events`);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  return (await res.text()).split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => JSON.parse(e.slice(6)));
}

describe("model pulls", () => {
  test("a GGUF file: the cut connection is resumed with Range, the SHA-256 checked, progress streamed, the token sent to the hub only", async () => {
    const res = await pull("hf:acme/tiny-GGUF/tiny-q4.gguf");
    expect(res.status).toBe(202);
    const started = await res.json();
    expect(started).toMatchObject({ source: "hf:acme/tiny-GGUF/tiny-q4.gguf", file: "tiny-q4.gguf", status: "downloading", bytes_total: 3 * 1024 * 1024 });
    const seen = await events(started.id);
    expect(seen.at(-1)).toMatchObject({ status: "completed", bytes_done: 3 * 1024 * 1024, error: null });
    expect(seen.length).toBeGreaterThan(2);
    const path = join(modelsDir, "tiny-q4.gguf");
    expect(statSync(path).size).toBe(3 * 1024 * 1024);
    expect(existsSync(`${path}.partial`)).toBe(false);
    const requests = await (await fetch(`${hub}/_requests`)).json();
    const downloads = requests.filter((r: { path: string }) => r.path.endsWith("/tiny-q4.gguf"));
    expect(downloads.length).toBe(2);
    expect(downloads[1].range).toMatch(/^bytes=\d+-$/);
    expect(Number(downloads[1].range.slice(6, -1))).toBeGreaterThan(0);
    expect(downloads.every((r: { authorized: boolean }) => r.authorized)).toBe(true);

    expect((await g.api("/api/v1/instances", json("POST", { name: "tiny", backend: "llama_cpp", model_path: path }))).status).toBe(201);
    const { files, models_dir } = await (await g.api("/api/v1/models/files", { auth: viewerKey })).json();
    expect(models_dir).toBe(modelsDir);
    expect(files).toContainEqual({ name: "tiny-q4.gguf", kind: "file", size: 3 * 1024 * 1024, sha256: sha256(path), source: "hf:acme/tiny-GGUF/tiny-q4.gguf", partial: false, used_by: ["tiny"] });
    const listed = await (await g.api("/api/v1/models/pulls", { auth: viewerKey })).json();
    expect(listed.pulls.map((p: { id: string }) => p.id)).toContain(started.id);
    expect(g.logs.text).not.toContain(TOKEN);
    const config = await g.api("/api/v1/infra/config");
    expect(config.status).toBe(200);
    expect(await config.text()).not.toContain(TOKEN);
  });

  test("a safetensors folder: every file of the repository (listed over pages), sub-folders kept", async () => {
    const started = await (await pull("hf:acme/tiny-safetensors")).json();
    expect((await events(started.id)).at(-1)?.status).toBe("completed");
    const folder = join(modelsDir, "tiny-safetensors");
    expect(readFileSync(join(folder, "config.json"), "utf8")).toContain("Tiny");
    expect(statSync(join(folder, "model.safetensors")).size).toBe(1024 * 1024);
    expect(existsSync(join(folder, "tokenizer", "tokenizer.json"))).toBe(true);
    const { files } = await (await g.api("/api/v1/models/files")).json();
    expect(files.find((f: { name: string }) => f.name === "tiny-safetensors")).toMatchObject({ kind: "folder", source: "hf:acme/tiny-safetensors", partial: false });
  });

  test("a corrupted download is refused and deleted with a clear error", async () => {
    const started = await (await pull("hf:acme/corrupt-GGUF/bad.gguf")).json();
    const last = (await events(started.id)).at(-1)!;
    expect(last.status).toBe("failed");
    expect(last.error).toContain("bad.gguf is corrupted");
    expect(last.error).toContain("deleted");
    expect(existsSync(join(modelsDir, "bad.gguf"))).toBe(false);
    expect(existsSync(join(modelsDir, "bad.gguf.partial"))).toBe(false);
  });

  test("bad requests: disk too small (507), unknown repo or file (404), bad sources (400), roles, unknown pull", async () => {
    const huge = await pull("hf:acme/huge-GGUF/huge.gguf");
    expect(huge.status).toBe(507);
    const body = await huge.json();
    expect(body.code).toBe("NO_DISK_SPACE");
    expect(body.error).toContain("1.0 PiB");
    expect(existsSync(join(modelsDir, "huge.gguf.partial"))).toBe(false);
    expect((await (await pull("hf:acme/nothing-here/x.gguf")).json()).code).toBe("HUB_NOT_FOUND");
    expect((await (await pull("hf:acme/tiny-GGUF/missing.gguf")).json()).code).toBe("HUB_NOT_FOUND");
    for (const source of ["ftp://example.com/x.gguf", "hf:acme", "hf:acme/../etc/passwd", "not a source", "https://example.com/a%zz", "ftp://user:pw-secret-1@example.com/x.gguf"]) {
      const res = await pull(source);
      const text = await res.text();
      expect([source, res.status, JSON.parse(text).code]).toEqual([source, 400, "PULL_SOURCE_INVALID"]);
      expect(text).not.toContain("pw-secret-1"); // a URL's credentials are not echoed
    }
    expect((await g.api("/api/v1/models/pull", { ...json("POST", { source: "hf:acme/tiny-GGUF/README.md" }), auth: viewerKey })).status).toBe(403);
    expect((await g.api("/api/v1/models/pulls/nope")).status).toBe(404);
    expect((await g.api("/api/v1/models/pulls/nope", { method: "DELETE" })).status).toBe(404);
    expect((await g.api("/api/v1/models/pulls/nope/events")).status).toBe(404);
  });

  test("cancel keeps the .partial file; pulling again resumes it", async () => {
    const source = `${slowHub}/files/plain.gguf`;
    const started = await (await pull(source)).json();
    expect(started.file).toBe("plain.gguf");
    await waitFor(async () => (await (await g.api(`/api/v1/models/pulls/${started.id}`)).json()).bytes_done > 0, 10_000, "the first bytes");
    const cancelled = await (await g.api(`/api/v1/models/pulls/${started.id}`, { method: "DELETE" })).json();
    expect(cancelled).toMatchObject({ id: started.id, status: "cancelled", error: expect.stringContaining("resume") });
    const partial = join(modelsDir, "plain.gguf.partial");
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    expect((await (await g.api("/api/v1/models/files")).json()).files).toContainEqual(expect.objectContaining({ name: "plain.gguf", partial: true }));

    const again = await (await pull(source)).json();
    expect((await events(again.id)).at(-1)?.status).toBe("completed");
    expect(statSync(join(modelsDir, "plain.gguf")).size).toBe(700 * 1024);
    const ranges = (await (await fetch(`${slowHub}/_requests`)).json()).map((r: { range: string | null }) => r.range);
    expect(ranges.at(-1)).toBe(`bytes=${kept}-`);
  });

  test("gantry pull and gantry models files, as a real subprocess: plain progress lines off a terminal, exit codes", async () => {
    const cli = async (...args: string[]) => {
      const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../core/main.ts"), ...args], {
        env: { PATH: process.env.PATH ?? "", GANTRY_URL: g.url, GANTRY_API_KEY: ADMIN_KEY, XDG_CONFIG_HOME: tempDir() }, stdout: "pipe", stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, code };
    };
    const pulled = await cli("pull", "hf:acme/tiny-GGUF/README.md");
    expect(pulled).toMatchObject({ code: 0, stdout: "Pulled README.md (7 B)\n" });
    expect(pulled.stderr).toContain("completed README.md 100% 7/7 bytes");
    const corrupt = await cli("pull", "hf:acme/corrupt-GGUF/bad.gguf");
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain("bad.gguf is corrupted");
    const huge = await cli("pull", "--json", "hf:acme/huge-GGUF/huge.gguf");
    expect([huge.code, huge.stderr]).toEqual([1, expect.stringContaining("(NO_DISK_SPACE)")]);
    expect((await cli("pull")).code).toBe(2);
    // Ctrl-C cancels the download on the server too.
    const interrupted = Bun.spawn([process.execPath, resolve(import.meta.dir, "../../core/main.ts"), "pull", `${slowHub}/files/interrupted.gguf`], {
      env: { PATH: process.env.PATH ?? "", GANTRY_URL: g.url, GANTRY_API_KEY: ADMIN_KEY, XDG_CONFIG_HOME: tempDir() }, stdout: "pipe", stderr: "pipe",
    });
    const stderr = interrupted.stderr.getReader();
    let progress = "";
    while (!progress.includes("downloading interrupted.gguf")) progress += new TextDecoder().decode((await stderr.read()).value);
    interrupted.kill("SIGINT");
    expect(await interrupted.exited).toBe(130);
    const { pulls } = await (await g.api("/api/v1/models/pulls")).json();
    expect(pulls.find((p: { file: string }) => p.file === "interrupted.gguf")).toMatchObject({ status: "cancelled" });
    const files = await cli("models", "files");
    expect(files.code).toBe(0);
    expect(files.stdout).toMatch(/NAME\s+SIZE\s+SHA256\s+USED BY/);
    expect(files.stdout).toMatch(/tiny-q4\.gguf\s+3\.0 MiB\s+[0-9a-f]{12}\s+tiny/);
  });

  test("a plugin reload keeps a download going; disabling or uninstalling the plugin cancels it", async () => {
    const hubRequests = async (name: string) => (await (await fetch(`${slowHub}/_requests`)).json()).filter((r: { path: string }) => r.path === `/files/${name}`);
    const first = await (await pull(`${slowHub}/files/reload.gguf`)).json();
    await waitFor(async () => (await (await g.api(`/api/v1/models/pulls/${first.id}`)).json()).bytes_done > 0, 10_000, "the first bytes");
    expect((await g.api("/api/v1/plugins/instances/reload", json("POST"))).status).toBe(200);
    expect((await (await g.api(`/api/v1/models/pulls/${first.id}`)).json()).status).toBe("downloading");
    expect((await events(first.id)).at(-1)?.status).toBe("completed");
    await waitFor(async () => (await hubRequests("reload.gguf"))[0]?.outcome !== null, 5000, "the hub to log the response's end");
    expect(await hubRequests("reload.gguf")).toEqual([expect.objectContaining({ range: null, outcome: "served", bearer: false })]); // one request: never restarted; no token to another host

    const second = await (await pull(`${slowHub}/files/disable.gguf`)).json();
    await waitFor(async () => (await (await g.api(`/api/v1/models/pulls/${second.id}`)).json()).bytes_done > 0, 10_000, "the first bytes");
    expect((await g.api("/api/v1/plugins/instances/disable", json("POST"))).status).toBe(200);
    await waitFor(async () => (await hubRequests("disable.gguf"))[0]?.outcome === "aborted", 10_000, "the hub to see the download aborted");
    expect(statSync(join(modelsDir, "disable.gguf.partial")).size).toBeLessThan(700 * 1024);
    expect(existsSync(join(modelsDir, "disable.gguf"))).toBe(false);
    expect((await g.api("/api/v1/plugins/instances/enable", json("POST"))).status).toBe(200);
    expect((await (await g.api("/api/v1/models/pulls")).json()).pulls).toEqual([]);

    // Uninstalling (a built-in plugin: it is disabled) cancels too.
    const third = await (await pull(`${slowHub}/files/uninstall.gguf`)).json();
    await waitFor(async () => (await (await g.api(`/api/v1/models/pulls/${third.id}`)).json()).bytes_done > 0, 10_000, "the first bytes");
    expect((await g.api("/api/v1/plugins/instances", { method: "DELETE" })).status).toBe(200);
    await waitFor(async () => (await hubRequests("uninstall.gguf"))[0]?.outcome === "aborted", 10_000, "the hub to see the download aborted");
    expect(existsSync(join(modelsDir, "uninstall.gguf"))).toBe(false);
    expect((await g.api("/api/v1/models/pulls")).status).toBe(404);
  });
});
