import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { atLeast, levelOf, LinePump, LogRing, READ_PAUSE_MS, RotatingLogFile } from "../../plugins/instances/log-buffer.ts";
import { tempDir, waitFor } from "../helpers.ts";

test("log files rotate past their size and keep a bounded number of old files", () => {
  const file = join(tempDir("gantry-logs-"), "m.log");
  const logFile = new RotatingLogFile(file, 200, 2);
  const ring = new LogRing(3, logFile);
  for (let i = 0; i < 30; i++) ring.push("stdout", `line ${i} ${"x".repeat(20)}`);
  expect(existsSync(`${file}.1`)).toBe(false); // batched: nothing written yet
  logFile.flush();
  expect(existsSync(file)).toBe(true);
  expect(existsSync(`${file}.1`)).toBe(true);
  expect(existsSync(`${file}.2`)).toBe(true);
  expect(existsSync(`${file}.3`)).toBe(false);
  expect(readFileSync(file, "utf8").length).toBeLessThanOrEqual(200);
  expect(readFileSync(file, "utf8")).toContain("line 29");
  expect(ring.tail(10).map((l) => l.message.split(" ")[1])).toEqual(["27", "28", "29"]); // the ring keeps 3
  ring.close();
  ring.push("stdout", "after close");
  expect(ring.tail(1)[0]!.message).toBe("after close"); // still readable, no longer written
});

test("batched lines reach the file within the flush interval, in order, with nothing lost", async () => {
  const file = join(tempDir("gantry-logs-"), "m.log");
  const ring = new LogRing(1000, new RotatingLogFile(file, 1 << 20, 2));
  for (let i = 0; i < 500; i++) ring.push(i % 2 ? "stderr" : "stdout", `line ${i}`);
  expect(readFileSync(file, "utf8")).toBe("");
  await waitFor(() => readFileSync(file, "utf8") !== "", 5000, "the batch to reach the file");
  const lines = readFileSync(file, "utf8").trimEnd().split("\n");
  expect(lines).toHaveLength(500); // one batch: everything, in order
  expect(lines.map((l) => l.split(" ").at(-1))).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
  expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z stderr line 1$/);
  ring.close();
});

test("the ring keeps the newest lines in order once it wraps", () => {
  const ring = new LogRing(4);
  for (let i = 0; i < 11; i++) ring.push("stdout", `n${i}`);
  expect(ring.tail(10).map((l) => l.message)).toEqual(["n7", "n8", "n9", "n10"]);
  expect(ring.tail(2).map((l) => l.message)).toEqual(["n9", "n10"]);
});

test("levels are read from the usual markers and filtered by severity", () => {
  expect(["main: ERROR could not load", "warning: slow", "[DEBUG] x", "model loaded"].map(levelOf)).toEqual(["error", "warn", "debug", "info"]);
  const ring = new LogRing(10);
  for (const line of ["debug one", "info two", "WARN three", "error four"]) ring.push("stderr", line);
  expect(ring.tail(10, atLeast("warn")).map((l) => l.message)).toEqual(["WARN three", "error four"]);
});

test("a busy server's output is read in a few large chunks, every line in order", async () => {
  // A line every millisecond for 300 ms, as a model server under load prints one per request. The
  // pause is long here, so what it gathers does not depend on how fast a loaded machine runs the printer.
  expect(READ_PAUSE_MS).toBeGreaterThan(0); // the default pump pauses too
  const child = Bun.spawn([process.execPath, "-e", "let i = 0; const t = setInterval(() => { console.log(`line ${i++}`); if (i === 300) clearInterval(t); }, 1);"], { stdout: "pipe" });
  const lines: string[] = [];
  let batches = 0;
  let inBatch = false;
  const pump = new LinePump(child.stdout, (line) => {
    lines.push(line);
    // Lines handed over in one go (one read) arrive in the same turn of the event loop.
    if (!inBatch) {
      batches++;
      inBatch = true;
      queueMicrotask(() => (inBatch = false));
    }
  }, 600_000);
  await child.exited;
  pump.hurry(); // the pause after the first read gathered everything else
  await pump.done;
  expect(lines).toEqual(Array.from({ length: 300 }, (_, i) => `line ${i}`));
  // The first read, the one chunk the stream reads ahead, then the rest at once (a pipe holds 64 KiB;
  // 300 lines are 2.7 KiB): not one read per line.
  expect(batches).toBeLessThanOrEqual(3);
});

test("output pouring in is read without pauses: a fast writer is not held up by a full pipe", async () => {
  // 32 MB in chunks as large as a full pipe yields. A pause after any of them would be ten minutes
  // here: the lines arrive only if every full read is followed by the next at once.
  const chunk = new TextEncoder().encode(`${"x".repeat(199)}\n`.repeat(1000));
  let sent = 0;
  const pouring = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 160) controller.enqueue(chunk);
      else controller.close();
    },
  });
  let count = 0;
  const pump = new LinePump(pouring, () => void count++, 600_000);
  await waitFor(() => count === 160_000, 20_000, "every line of the pouring output, read without a pause");
  await pump.done;
  // A short read still pauses (the busy-server case above): the same pump holds a trickle back until woken.
  let trickled = 0;
  const trickle = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("one\n"));
      controller.enqueue(new TextEncoder().encode("two\n"));
      controller.close();
    },
  });
  const slow = new LinePump(trickle, () => void trickled++, 600_000);
  await waitFor(() => trickled === 1, 5000, "the first short read");
  await Bun.sleep(50);
  expect(trickled).toBe(1); // paused after a short read
  slow.hurry();
  await slow.done;
  expect(trickled).toBe(2);
});
