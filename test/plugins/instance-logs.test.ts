import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { atLeast, levelOf, LogRing, RotatingLogFile } from "../../plugins/instances/log-buffer.ts";
import { tempDir } from "../helpers.ts";

test("log files rotate past their size and keep a bounded number of old files", () => {
  const file = join(tempDir("gantry-logs-"), "m.log");
  const ring = new LogRing(3, new RotatingLogFile(file, 200, 2));
  for (let i = 0; i < 30; i++) ring.push("stdout", `line ${i} ${"x".repeat(20)}`);
  expect(existsSync(file)).toBe(true);
  expect(existsSync(`${file}.1`)).toBe(true);
  expect(existsSync(`${file}.2`)).toBe(true);
  expect(existsSync(`${file}.3`)).toBe(false);
  expect(readFileSync(file, "utf8").length).toBeLessThanOrEqual(200);
  expect(readFileSync(file, "utf8")).toContain("line 29");
  expect(ring.tail(10).map((l) => l.message.split(" ")[1])).toEqual(["27", "28", "29"]); // the ring keeps 3
});

test("levels are read from the usual markers and filtered by severity", () => {
  expect(["main: ERROR could not load", "warning: slow", "[DEBUG] x", "model loaded"].map(levelOf)).toEqual(["error", "warn", "debug", "info"]);
  const ring = new LogRing(10);
  for (const line of ["debug one", "info two", "WARN three", "error four"]) ring.push("stderr", line);
  expect(ring.tail(10, atLeast("warn")).map((l) => l.message)).toEqual(["WARN three", "error four"]);
});
