/**
 * The real llama-server's lifecycle under gantry: kill -9 and the restart policy, a busy port and a
 * bad model file (a clear error quoting the server's last lines), SIGTERM in the middle of a stream
 * (the client gets an error event), and a plugin reload under live streams (same pid, streams end well).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dlopen, ptr } from "bun:ffi";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { ADMIN_KEY, json, tempDir, waitFor, type TestGantry } from "../helpers.ts";
import { createLlama, startInstance, startLlamaGantry, waitForStatus } from "./llama.ts";

let g: TestGantry;
const openai = () => new OpenAI({ apiKey: ADMIN_KEY, baseURL: `${g.url}/v1`, maxRetries: 0 });
const detail = async (name: string) => (await g.api(`/api/v1/instances/${name}`)).json();
/** A long generation: context 4096 (past the model's 512; llama-server allows it) so a stream lasts a while. */
const LONG = { options: { context_size: 4096 } };
const longStream = (model: string) => openai().chat.completions.create({ model, messages: [{ role: "user", content: "hello" }], max_tokens: 3500, temperature: 0, stream: true });

beforeAll(async () => {
  g = await startLlamaGantry();
});
afterAll(() => g.stop());

/**
 * A TCP port bound on 127.0.0.1 but not listening (libc socket + bind): connecting is refused, so
 * gantry's own port check passes, and the server's bind fails as it would on a port taken in a race.
 */
function boundPort(): { port: number; close(): void } {
  const libc = dlopen("libc.so.6", {
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
    getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
    close: { args: ["i32"], returns: "i32" },
  });
  const fd = libc.symbols.socket(2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
  const address = new Uint8Array(16);
  new DataView(address.buffer).setUint16(0, 2, true); // sin_family, host order; sin_port 0: the OS picks
  address.set([127, 0, 0, 1], 4);
  if (fd < 0 || libc.symbols.bind(fd, ptr(address), 16) !== 0) throw new Error("could not bind a socket");
  const length = new Uint32Array([16]);
  libc.symbols.getsockname(fd, ptr(address), ptr(length));
  const port = new DataView(address.buffer).getUint16(2, false);
  return { port, close: () => (libc.symbols.close(fd), libc.close()) };
}

describe("llama-server lifecycle", () => {
  test("kill -9 of the server: the restart policy starts it again and it serves", async () => {
    await createLlama(g, "crashy");
    const first = await startInstance(g, "crashy");
    process.kill(first.pid, "SIGKILL");
    await waitFor(async () => {
      const d = await detail("crashy");
      return d.status === "running" && d.pid !== null && d.pid !== first.pid;
    }, 30_000, "a new llama-server");
    const d = await detail("crashy");
    expect(d.restarts).toBe(1);
    const logs = ((await (await g.api("/api/v1/instances/crashy/logs?lines=500")).json()).logs as { message: string }[]).map((l) => l.message);
    expect(logs).toContain("[gantry] crashy exited with SIGKILL");
    const answer = await openai().chat.completions.create({ model: "crashy", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    await g.api("/api/v1/instances/crashy/stop", json("POST", {}));
  });

  test("a busy port: the start fails naming the port another program holds, and the instance is failed", async () => {
    const held = boundPort();
    try {
      await createLlama(g, "squatter", { port: held.port, restart: "never" });
      const res = await g.api("/api/v1/instances/squatter/start", json("POST"));
      expect(res.status).toBe(422);
      const body = await res.json();
      expect(body.code).toBe("START_FAILED");
      // llama.cpp logs from a thread: a server that exits at once can lose its last lines ("couldn't bind
      // HTTP server socket"), so gantry's own finding is what a user can count on.
      expect(body.error).toContain(`exited with code 1 while starting; port ${held.port} is held by another program`);
      expect(await detail("squatter")).toMatchObject({ status: "failed", pid: null });
      expect((await detail("squatter")).last_error).toContain(`port ${held.port} is held by another program`);
    } finally {
      held.close();
    }
  });

  test("a bad model file: the start fails quoting the server's load error", async () => {
    const bad = join(tempDir("gantry-bad-model-"), "broken.gguf");
    writeFileSync(bad, "GGUF this is not a model");
    await createLlama(g, "broken", { model_path: bad, restart: "never" });
    const res = await g.api("/api/v1/instances/broken/start", json("POST"));
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body).toMatchObject({ code: "START_FAILED" });
    expect(body.error).toContain(`exited with code 1 while starting; the model file ${bad} is not a GGUF file llama.cpp reads (version`);
    // The server's own error lines (llama.cpp's "failed to load model"; the last of them can be lost at exit).
    expect(body.error).toContain("; its last lines: ");
    expect(body.error).toContain("failed to load model");
    expect(body.error).not.toContain("\n");
    const errors = (await (await g.api("/api/v1/instances/broken/logs?level=error")).json()).logs as { message: string }[];
    expect(errors.some((l) => l.message.includes("gguf_init_from_reader"))).toBe(true);
  });

  test("SIGTERM of the server in the middle of a stream: the client gets an error, not a quiet end", async () => {
    await createLlama(g, "terminated", { ...LONG, restart: "never" });
    const { pid } = await startInstance(g, "terminated");
    const stream = await longStream("terminated");
    let text = "";
    let failure: unknown;
    try {
      for await (const chunk of stream) {
        if (text === "") process.kill(pid, "SIGTERM");
        text += chunk.choices[0]?.delta?.content ?? "";
      }
    } catch (error) {
      failure = error;
    }
    expect(text.length).toBeGreaterThan(0);
    // The family's error event: the openai client raises it as an APIError (a cut connection is a TypeError).
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    await waitForStatus(g, "terminated", "stopped").catch(() => waitForStatus(g, "terminated", "failed"));
  });

  test("instances reload under live streams: the same llama-server pid, every stream ends with its finish_reason", async () => {
    await createLlama(g, "steady", { ...LONG, parallel: 4 });
    const { pid } = await startInstance(g, "steady");
    const streams = await Promise.all(Array.from({ length: 4 }, () => longStream("steady")));
    const iterators = streams.map((s) => s[Symbol.asyncIterator]());
    for (const it of iterators) expect((await it.next()).done).toBe(false); // each stream is under way
    const reload = g.api("/api/v1/plugins/instances/reload", json("POST"));
    const endings = await Promise.all(iterators.map(async (it) => {
      let finish: string | null | undefined;
      for (let r = await it.next(); !r.done; r = await it.next()) finish = r.value.choices[0]?.finish_reason ?? finish;
      return finish;
    }));
    expect((await reload).status).toBe(200);
    expect(endings.every((f) => f === "length" || f === "stop")).toBe(true);
    expect(await detail("steady")).toMatchObject({ status: "running", pid });
    const after = await openai().chat.completions.create({ model: "steady", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    expect(after.choices[0]!.finish_reason).toBeDefined();
  });
});
