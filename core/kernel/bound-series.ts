/**
 * Label-bound series that add in place. prom-client's own `labels(...)` children validate and hash
 * their labels on every call (a tenth of gantry's own CPU on a proxied request, with a counter and
 * two histograms); these find their series once and then add to it directly. They rely on
 * prom-client 15's storage (a `hashMap` of `{labels, ...}` entries) and find their series again
 * after a reset; a series removed with `remove(...)` is not noticed (gantry removes none it binds).
 */
import type { Counter, Histogram, LabelValues } from "prom-client";

interface HistogramSeries {
  labels: object;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}
interface CounterSeries {
  labels: object;
  value: number;
}
type Stored<S> = { hashMap: Record<string, S> };

/** The stored series whose labels equal `labels`, once `record` has recorded a value for them. */
function seriesOf<S extends { labels: object }>(metric: Stored<S>, labels: object, record: () => void): S {
  record();
  const names = Object.keys(labels);
  const same = (other: object) => {
    const values = other as Record<string, unknown>;
    return Object.keys(values).length === names.length && names.every((n) => String(values[n]) === String((labels as Record<string, unknown>)[n]));
  };
  for (const series of Object.values(metric.hashMap)) if (series.labels === labels || same(series.labels)) return series;
  throw new Error("prom-client stores series differently than this version of gantry expects");
}

/** A histogram child bound to `labels` whose `observe` costs a bucket search and three additions. */
export function boundHistogram<L extends string>(histogram: Histogram<L>, labels: LabelValues<L>): { observe(value: number): void } {
  const stored = histogram as unknown as Stored<HistogramSeries> & { upperBounds: number[] };
  const bounds = stored.upperBounds;
  const keys = bounds.map(String); // bucketValues is keyed by the bounds as strings
  let map: Record<string, HistogramSeries> | undefined;
  let series: HistogramSeries | undefined;
  return {
    observe(value) {
      if (stored.hashMap !== map || series === undefined) {
        // First use, or after a reset: prom-client records this one and makes the series.
        series = seriesOf(stored, labels, () => histogram.observe(labels, value));
        map = stored.hashMap;
        return;
      }
      if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
      series.sum += value;
      series.count += 1;
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]!) {
          series.bucketValues[keys[i]!]! += 1;
          break;
        }
      }
    },
  };
}

/** A counter child bound to `labels` whose `inc` is one addition. */
export function boundCounter<L extends string>(counter: Counter<L>, labels: LabelValues<L>): { inc(value?: number): void } {
  const stored = counter as unknown as Stored<CounterSeries>;
  let map: Record<string, CounterSeries> | undefined;
  let series: CounterSeries | undefined;
  return {
    inc(value = 1) {
      if (stored.hashMap !== map || series === undefined) {
        series = seriesOf(stored, labels, () => counter.inc(labels, value));
        map = stored.hashMap;
        return;
      }
      if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`A counter only goes up by a finite amount (got ${value})`);
      series.value += value;
    },
  };
}
