import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { boundCounter, boundHistogram } from "../../core/kernel/bound-series.ts";

/** A histogram and a counter in a registry of their own, named alike so two registries' texts compare. */
function metrics() {
  const registry = new Registry();
  const histogram = new Histogram({ name: "h_seconds", help: "h", labelNames: ["model", "status"], buckets: [0.01, 0.1, 1], registers: [registry] });
  const counter = new Counter({ name: "c_total", help: "c", labelNames: ["model", "status"], registers: [registry] });
  return { registry, histogram, counter };
}

const observations = fc.array(fc.tuple(fc.constantFrom("a", "b", "c/d"), fc.constantFrom("200", "404"), fc.double({ min: 0, max: 5, noNaN: true }), fc.boolean()), { maxLength: 60 });

describe("bound series", () => {
  test("expose exactly what prom-client's own children expose, across resets", async () => {
    await fc.assert(fc.asyncProperty(observations, async (seen) => {
      const own = metrics();
      const bound = metrics();
      const children = new Map<string, { observe(v: number): void; inc(): void }>();
      for (const [model, status, value, reset] of seen) {
        own.histogram.labels({ model, status }).observe(value);
        own.counter.labels({ model, status }).inc();
        const key = `${model} ${status}`;
        let child = children.get(key);
        if (!child) {
          const labels = { model, status };
          const h = boundHistogram(bound.histogram, labels);
          const c = boundCounter(bound.counter, labels);
          child = { observe: (v) => h.observe(v), inc: () => c.inc() };
          children.set(key, child);
        }
        child.observe(value);
        child.inc();
        if (reset) {
          own.registry.resetMetrics();
          bound.registry.resetMetrics();
        }
      }
      expect(await bound.registry.metrics()).toBe(await own.registry.metrics());
    }), { numRuns: 200 });
  });

  test("refuse what prom-client refuses: a value that is not a number, a counter going down", () => {
    const { histogram, counter } = metrics();
    const h = boundHistogram(histogram, { model: "a", status: "200" });
    const c = boundCounter(counter, { model: "a", status: "200" });
    h.observe(1);
    c.inc();
    expect(() => h.observe(Number.NaN)).toThrow(TypeError);
    expect(() => c.inc(-1)).toThrow(RangeError);
  });
});
