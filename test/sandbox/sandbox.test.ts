import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSandbox, configureSandbox, runScript, SandboxBusyError } from "../../sandbox/index.ts";

// One warm worker, whatever an earlier test file in this process configured.
beforeAll(() => configureSandbox({ poolSize: 1, maxQueue: 64 }));
afterAll(() => closeSandbox());

const run = (code: string, options: Parameters<typeof runScript>[1] = {}) => runScript(code, { timeoutMs: 500, ...options });

describe("results", () => {
  const cases: [string, string, unknown][] = [
    ["a number", "6 * 7", 42],
    ["a string", "'gan' + 'try'", "gantry"],
    ["a boolean", "1 < 2", true],
    ["null", "null", null],
    ["undefined becomes null", "undefined", null],
    ["an array", "[1, 'two', [3]]", [1, "two", [3]]],
    ["an object", "({ a: { b: [true] } })", { a: { b: [true] } }],
    ["a Date as JSON", "new Date(0)", "1970-01-01T00:00:00.000Z"],
    ["a bigint as its digits", "2n ** 70n", "1180591620717411303424"],
    ["the global result wins over the last expression", "globalThis.result = 'set'; 'last'", "set"],
    ["an awaited value", "await Promise.resolve(5)", null],
    ["result set after await", "result = await Promise.resolve(5)", 5],
  ];
  for (const [name, code, expected] of cases) {
    test(name, async () => {
      const r = await run(code);
      expect(r.error).toBeNull();
      expect(r.ok).toBe(true);
      expect(r.result).toEqual(expected);
    });
  }

  test("console output is captured, in order, with levels", async () => {
    const r = await run("console.log('a', 1, {x: [2]}); console.error('bad'); console.info('i'); 0");
    expect(r.logs).toEqual(['a 1 {"x":[2]}', "[error] bad", "i"]);
  });

  test("async host functions and allow-listed modules work", async () => {
    const r = await run("import { twice } from 'math'; const n = await gantry.count(); result = twice(n)", {
      host: { count: async () => 21 },
      modules: { math: "export const twice = (x) => x * 2;" },
    });
    expect(r).toMatchObject({ ok: true, result: 42 });
  });

  test("a host function's failure reaches the script as a rejection", async () => {
    const r = await run("try { await gantry.boom(); } catch (e) { result = 'caught: ' + e.message }", { host: { boom: () => { throw new Error("host says no"); } } });
    expect(r.result).toBe("caught: host says no");
  });
});

describe("escapes fail cleanly and the host is unharmed", () => {
  const escapes: [string, string, RegExp | null][] = [
    ["process", "typeof process", null],
    ["Bun", "typeof Bun", null],
    ["require", "typeof require", null],
    ["fetch", "typeof fetch", null],
    ["WebAssembly", "typeof WebAssembly", null],
    ["setTimeout", "typeof setTimeout", null],
    ["Function constructor", "globalThis.constructor.constructor('return typeof process')()", null],
    ["Function('return this')", "typeof Function('return this')().process", null],
  ];
  for (const [name, code] of escapes) {
    test(`${name} is not reachable`, async () => {
      const r = await run(code);
      expect(r.result).toBe("undefined");
    });
  }

  const failures: [string, string, RegExp][] = [
    ["import of fs", "import fs from 'fs'; result = fs", /Import of 'fs' is not allowed/],
    ["import of node:fs", "import fs from 'node:fs'; result = fs", /Import of 'node:fs' is not allowed/],
    ["dynamic import of a host file", "result = await import('/etc/passwd')", /Import of '\/etc\/passwd' is not allowed/],
    ["import of toString (prototype name)", "import x from 'toString'; result = x", /Import of 'toString' is not allowed/],
    ["infinite recursion", "function f() { return f() + 1 } f()", /stack overflow/],
    ["deep JSON.parse", "JSON.parse('['.repeat(100000) + ']'.repeat(100000))", /stack overflow|out of memory/],
    ["array growth", "const a = []; for (;;) a.push(new Array(1000).fill(1))", /out of memory/],
    ["string growth", "let s = 'x'; for (;;) s += s", /string too long|out of memory/],
    ["one huge allocation", "'x'.repeat(2e8).length", /out of memory|string too long/],
    ["a thrown error", "throw new TypeError('nope')", /nope/],
    ["a syntax error", "let = ;", /unexpected token/],
  ];
  for (const [name, code, message] of failures) {
    test(name, async () => {
      // A deadline far off: on a loaded machine the memory and stack limits are still what ends these.
      const r = await run(code, { timeoutMs: 20_000 });
      expect(r.ok).toBe(false);
      expect(r.error?.message).toMatch(message);
    });
  }

  test("while(true){} stops near the deadline", async () => {
    const r = await run("while (true) {}", { timeoutMs: 200 });
    expect(r.ok).toBe(false);
    // Stopped inside by the interrupt handler (not killed from outside), and not before its deadline.
    expect(r.error).toMatchObject({ name: "InternalError", message: "interrupted: the script ran past its CPU deadline" });
    expect(r.durationMs).toBeGreaterThanOrEqual(195);
  });

  test("a long built-in call past the deadline is killed from outside", async () => {
    const r = await run("for (;;) { try { new Array(1e7).fill(0) } catch (e) {} }", { timeoutMs: 200 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ name: "TimeoutError", message: expect.stringContaining("overran its 200 ms deadline inside a long built-in call") });
    expect((await run("1 + 1")).result).toBe(2); // a new worker serves the next run
  });

  test("a memory bomb that catches and retries ends too", async () => {
    const r = await run("const keep = []; for (;;) { try { keep.push(new Array(100000).fill(1)) } catch (e) {} }", { timeoutMs: 300 });
    expect(r.ok).toBe(false);
    expect(r.error?.message).toMatch(/out of memory|overran its 300 ms deadline/);
    expect((await run("1 + 1")).result).toBe(2);
  });

  test("a promise that never resolves ends at the deadline", async () => {
    const r = await run("await new Promise(() => {})", { timeoutMs: 200 });
    expect(r.ok).toBe(false);
    expect(r.error?.message).toContain("never settled");
  });

  test("a console.log flood is bounded", async () => {
    const r = await run("for (let i = 0; i < 100000; i++) console.log('line ' + i); 'done'", { timeoutMs: 20_000, maxLogChars: 10_000 });
    expect(r.result).toBe("done");
    expect(r.logs.slice(0, -1).reduce((n, line) => n + line.length, 0)).toBeLessThanOrEqual(10_000);
    expect(r.logs.at(-1)).toMatch(/more log lines dropped/);
  });

  test("prototype pollution inside does not touch the host; gantry is frozen", async () => {
    const r = await run("Object.prototype.polluted = 1; gantry.x = 1; [Object.isFrozen(gantry), gantry.x]", { host: { a: () => 1 } });
    expect(r.result).toEqual([true, null]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("each run starts fresh", async () => {
    await run("globalThis.leftover = 'secret'");
    expect((await run("typeof leftover")).result).toBe("undefined");
  });
});

describe("the one result conversion", () => {
  const exact: [string, string, unknown][] = [
    ["NUL inside a string", 'result = "\\u0000x"', "\u0000x"],
    ["a lone surrogate", 'result = "a\\ud800b"', "a\ud800b"],
    ["a bigint of 1,205 digits inside an array", "[2n ** 4000n]", [(2n ** 4000n).toString()]],
    ["undefined and NaN inside", "({ a: undefined, b: [undefined, 1], c: NaN })", { b: [null, 1], c: null }],
    ["a Map or Set made plain by the script", "const m = new Map([['a', 1]]); ({ m: Object.fromEntries(m), s: [...new Set([1, 2])] })", { m: { a: 1 }, s: [1, 2] }],
    ["a Date inside, as its ISO string", "({ at: new Date(0) })", { at: "1970-01-01T00:00:00.000Z" }],
  ];
  for (const [name, code, expected] of exact) {
    test(name, async () => {
      const r = await run(code);
      expect([r.ok, r.result]).toEqual([true, expected]);
    });
  }

  const refused: [string, string, RegExp][] = [
    ["a cycle", "const a = {}; a.self = a; a", /contains a cycle/],
    ["nesting deeper than 64", "let d = {}; const root = d; for (let i = 0; i < 200; i++) { d.x = {}; d = d.x } root", /nested deeper than 64/],
    ["a throwing toJSON", "({ toJSON() { throw new Error('nope') } })", /cannot be returned: nope/],
    ["a looping toJSON", "({ toJSON() { for (;;) {} } })", /cannot be returned: interrupted/],
    ["a throwing getter", "({ get x() { throw new Error('getter') } })", /cannot be returned: getter/],
    ["a throwing Proxy", "new Proxy({}, { ownKeys() { throw new Error('trap') } })", /cannot be returned: trap/],
    // Values JSON would turn into {} or drop: an ok: true with a different value would be a lie.
    ["a Map", "new Map([['a', 1]])", /a Map at result cannot be represented as JSON; return Object\.fromEntries\(map\) instead/],
    ["a Map inside", "({ stats: { byHost: new Map() } })", /a Map at result\.stats\.byHost cannot be represented as JSON/],
    ["a Set inside an array", "[1, new Set([1])]", /a Set at result\[1\] cannot be represented as JSON/],
    ["a WeakMap", "new WeakMap()", /a WeakMap at result cannot be represented/],
    ["a typed array", "({ 'odd key': new Uint8Array(2) })", /a typed array or DataView at result\["odd key"\] cannot be represented/],
    ["a Promise", "({ p: Promise.resolve(1) })", /a Promise at result\.p cannot be represented as JSON; return await it instead/],
    ["an Error", "new Error('boom')", /an Error at result cannot be represented/],
    ["a RegExp", "/x/", /a RegExp at result cannot be represented/],
    ["a function", "(() => 1)", /a function at result cannot be represented/],
    ["a function inside", "({ a: [() => 1] })", /a function at result\.a\[0\] cannot be represented/],
    ["a symbol", "({ s: Symbol('x') })", /a symbol at result\.s cannot be represented/],
  ];
  for (const [name, code, message] of refused) {
    test(`${name} fails the run with a clear error`, async () => {
      const r = await run(code, { timeoutMs: code.includes("for (;;)") ? 300 : 2000 });
      expect(r.ok).toBe(false);
      expect(r.result).toBeNull();
      expect(r.error!.message).toMatch(message);
    });
  }
});

describe("the worker pool", () => {
  test("runs go to pool_size workers at once; past max_queue the next is refused at once", async () => {
    configureSandbox({ poolSize: 2, maxQueue: 2 });
    try {
      await Promise.all([run("1"), run("1")]); // both workers started
      const runs = Array.from({ length: 4 }, () => run("const start = Date.now(); while (Date.now() < start + 400) {} [start, Date.now()]", { timeoutMs: 3000 }));
      const refused = await run("1").then(() => null, (error: unknown) => error);
      expect(refused).toBeInstanceOf(SandboxBusyError);
      expect((refused as SandboxBusyError).retryAfterS).toBeGreaterThanOrEqual(1);
      const results = await Promise.all(runs);
      expect(results.every((r) => r.ok)).toBe(true);
      // Two at a time: at the busiest moment exactly two runs were inside their loops.
      const spans = results.map((r) => r.result as [number, number]);
      const overlapAt = (t: number) => spans.filter(([from, to]) => from <= t && t < to).length;
      expect(Math.max(...spans.map(([from]) => overlapAt(from)))).toBe(2);
    } finally {
      configureSandbox({ poolSize: 1, maxQueue: 64 });
    }
  });
});
