import { describe, expect, it } from 'vitest';

import {
  BUCKET_COUNT,
  HISTOGRAM_LENGTH,
  HISTOGRAM_MAX_NS,
  Histogram,
  bucketIndex,
  bucketLowerNs,
  bucketWidthNs,
} from '../../src/stats/histogram.js';

/** Bucket precision: the midpoint estimate is within half a bucket, i.e. 1/32 of the value. */
const REL = 1 / 32;

function expectNear(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.max(1, expected * REL));
}

/** The exact percentile (nearest-rank) of sorted values. */
function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A small deterministic PRNG (mulberry32) so the tests need no seed plumbing. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('histogram buckets', () => {
  it('every value lands in the bucket whose range contains it, across 0..2^40', () => {
    const values = [0, 1, 15, 16, 17, 31, 32, 1000, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 35 + 12345, 2 ** 39 * 1.7, HISTOGRAM_MAX_NS];
    for (let e = 4; e < 40; e++) values.push(2 ** e - 1, 2 ** e, 2 ** e + 2 ** (e - 1) + 3);
    for (const v of values) {
      const i = bucketIndex(v);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(BUCKET_COUNT);
      expect(bucketLowerNs(i)).toBeLessThanOrEqual(v);
      expect(v).toBeLessThan(bucketLowerNs(i) + bucketWidthNs(i));
      expect(bucketWidthNs(i)).toBeLessThanOrEqual(Math.max(1, bucketLowerNs(i) / 16));
    }
  });

  it('bucket indices are monotonic in the value', () => {
    let last = -1;
    let backwards = 0;
    for (let v = 0; v < 1 << 20; v += 7) {
      const i = bucketIndex(v);
      if (i < last) backwards++;
      last = i;
    }
    expect(backwards).toBe(0);
  });
});

describe('histogram statistics', () => {
  it('uniform 1..100000 -> percentiles within bucket precision, exact mean, min and max', () => {
    const h = new Histogram();
    const values: number[] = [];
    for (let v = 1; v <= 100_000; v++) {
      h.record(v);
      values.push(v);
    }
    expect(h.count).toBe(100_000);
    expect(h.mean()).toBeCloseTo(50_000.5, 6);
    expect(h.max()).toBe(100_000);
    expect(h.min()).toBe(1);
    for (const p of [1, 10, 50, 90, 99, 99.9]) expectNear(h.percentile(p), exactPercentile(values, p));
    expect(h.percentile(100)).toBe(100_000);
    expect(h.percentile(0)).toBe(1);
  });

  it('log-normal-like latencies (100 ns .. 10 ms) -> percentiles within bucket precision', () => {
    const rnd = prng(42);
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const v = Math.round(100 * 10 ** (5 * rnd() * rnd()));
      h.record(v);
      values.push(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [50, 90, 99, 99.9]) expectNear(h.percentile(p), exactPercentile(values, p));
    const s = h.summary();
    expectNear(s.p50, exactPercentile(values, 50));
    expect(s.max).toBe(values[values.length - 1]);
  });

  it('a constant value is reported exactly (estimates are clamped to min and max)', () => {
    const h = new Histogram();
    h.recordN(1234, 10);
    expect(h.summary()).toEqual({ count: 10, mean: 1234, p50: 1234, p90: 1234, p99: 1234, p999: 1234, max: 1234 });
  });

  it('merge == recording both streams into one histogram', () => {
    const rnd = prng(7);
    const a = new Histogram();
    const b = new Histogram();
    const both = new Histogram();
    for (let i = 0; i < 10_000; i++) {
      const v = Math.floor(rnd() * 1e6);
      (i % 3 === 0 ? a : b).record(v);
      both.record(v);
    }
    b.record(2 ** 36); // a big value only in b
    both.record(2 ** 36);
    const merged = new Histogram();
    merged.merge(a);
    merged.merge(b.data); // a posted Float64Array merges too
    expect(Array.from(merged.data)).toEqual(Array.from(both.data));
    expect(merged.summary()).toEqual(both.summary());
  });

  it('merging an empty histogram changes nothing; merging into an empty one copies min', () => {
    const h = new Histogram();
    h.record(500);
    h.record(700);
    const before = Array.from(h.data);
    h.merge(new Histogram());
    expect(Array.from(h.data)).toEqual(before);
    const fresh = new Histogram(new Float64Array(HISTOGRAM_LENGTH));
    fresh.merge(h);
    expect(fresh.percentile(0)).toBe(500);
  });

  it('empty -> summary all zeros', () => {
    const h = new Histogram();
    expect(h.summary()).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    h.record(99);
    h.reset();
    expect(h.summary()).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });

  it('big values (>= 2^32) keep their precision; beyond 2^40 they are clamped', () => {
    const h = new Histogram();
    const big = 3 * 2 ** 33 + 123_456_789; // ~25.8 s
    h.record(big);
    expectNear(h.percentile(50), big);
    expect(h.max()).toBe(big);
    h.record(2 ** 50);
    expect(h.max()).toBe(HISTOGRAM_MAX_NS);
    expect(h.percentile(99)).toBe(HISTOGRAM_MAX_NS);
  });

  it('NaN, negative and infinite inputs never produce NaN', () => {
    const h = new Histogram();
    h.record(Number.NaN);
    h.record(-5);
    h.record(Number.POSITIVE_INFINITY);
    h.recordN(10, Number.NaN);
    h.record(0.4);
    const s = h.summary();
    for (const v of Object.values(s)) expect(Number.isFinite(v)).toBe(true);
    expect(s.count).toBe(4);
    expect(h.percentile(10)).toBe(0);
  });

  it('wrapping an array of the wrong length throws', () => {
    expect(() => new Histogram(new Float64Array(3))).toThrow(RangeError);
  });
});
