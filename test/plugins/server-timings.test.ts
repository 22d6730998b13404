import { expect, test } from "bun:test";
import { TimingLines, type ServerTiming } from "../../plugins/instances/server-timings.ts";
import { levelOf } from "../../plugins/instances/log-buffer.ts";

// Lines as llama.cpp's llama-server (build 10573) prints them, two requests interleaved.
const LINES = [
  "0.01.540.607 I slot print_timing: id  3 | task 0 | prompt eval time =       1.05 ms /    20 tokens (    0.05 ms per token, 19011.41 tokens per second)",
  "0.01.540.607 I slot print_timing: id  2 | task 7 | prompt eval time =       4.00 ms /     8 tokens (    0.50 ms per token,  2000.00 tokens per second)",
  "0.01.540.612 I slot print_timing: id  3 | task 0 |        eval time =       2.08 ms /    12 tokens (    0.19 ms per token,  5283.38 tokens per second)",
  "0.01.540.612 I slot print_timing: id  3 | task 0 |       total time =       3.13 ms /    32 tokens",
  "0.01.540.613 I slot print_timing: id  3 | task 0 |    graphs reused =         11",
  "0.01.540.651 I slot      release: id  3 | task 0 | stop processing: n_tokens = 31, truncated = 0",
  "0.01.540.700 I slot print_timing: id  2 | task 7 |       total time =       4.00 ms /     8 tokens",
];

test("llama.cpp print_timing blocks become one timing per task; a block without eval lines is dropped", () => {
  const seen: ServerTiming[] = [];
  const lines = new TimingLines((t) => seen.push(t));
  for (const line of LINES) lines.feed(line);
  expect(seen).toEqual([{ promptMs: 1.05, promptTokens: 20, evalMs: 2.08, evalTokens: 12 }]);
});

test("llama.cpp's level letter sets a line's level", () => {
  expect(levelOf("0.00.060.715 E srv         start: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 18779")).toBe("error");
  expect(levelOf("0.00.060.489 W srv  llama_server: this can be a security risk (cross-origin attacks)")).toBe("warn");
  expect(levelOf("0.00.027.292 I srv  llama_server: listening on http://127.0.0.1:18777")).toBe("info");
  expect(levelOf("plain line with an error in it")).toBe("error");
});
