import { describe, expect, test } from "bun:test";
import { RateLimiter, WINDOW_MS } from "../../core/http/rate-limit.ts";

describe("rate limiter", () => {
  const limiter = () => new RateLimiter(() => ({ regular: 3, expensive: 1, login: 1 }));

  test("a caller over its limit is refused until its window ends, with Retry-After", () => {
    const l = limiter();
    const decisions = [1, 2, 3, 4].map(() => l.hit("key:a", "regular", 1_000));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions[3]).toMatchObject({ limit: 3, remaining: 0, retryAfterS: 60 });
    expect(l.hit("key:b", "regular", 1_000).allowed).toBe(true);
    expect(l.hit("key:a", "regular", 1_000 + WINDOW_MS).allowed).toBe(true);
  });

  test("windows of callers no longer heard are dropped: memory stays bounded without a timer", () => {
    const l = limiter();
    for (let i = 0; i < 1000; i++) l.hit(`ip:10.0.${i >> 8}.${i & 255}`, "login", 0);
    expect(l.size).toBe(1000);
    l.hit("ip:10.9.9.9", "login", 2 * WINDOW_MS);
    expect(l.size).toBe(1);
  });
});
