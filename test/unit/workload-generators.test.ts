import { describe, it, expect } from 'vitest';
import { Prng } from '../../src/workload/prng.js';
import {
  HotsetGenerator, PagePermutation, SequentialGenerator, ZipfGenerator, makeGenerator, zeta,
} from '../../src/workload/generators.js';
import type { PageGenerator } from '../../src/workload/generators.js';
import { parseConfig } from '../../src/workload/config.js';
import type { Pattern, ResolvedConfig } from '../../src/workload/types.js';

const workload = (pattern: Pattern, extra = ''): ResolvedConfig['workload'] =>
  parseConfig(`workload:\n  pattern: ${pattern}\n${extra}`).workload;

const draw = (g: PageGenerator, n: number): number[] => Array.from({ length: n }, () => g.next());

function counts(g: PageGenerator, pages: number, samples: number): Uint32Array {
  const c = new Uint32Array(pages);
  for (let i = 0; i < samples; i++) c[g.next()]++;
  return c;
}

/** Share of all hits that went to the `k` most-hit pages. */
function topShare(c: Uint32Array, k: number): number {
  const sorted = [...c].sort((a, b) => b - a);
  const total = sorted.reduce((a, b) => a + b, 0);
  return sorted.slice(0, k).reduce((a, b) => a + b, 0) / total;
}

describe('Prng', () => {
  it('implements xoshiro128** (reference vector from state 1,2,3,4)', () => {
    const p = new Prng(0);
    (p as unknown as { s: Uint32Array }).s.set([1, 2, 3, 4]);
    expect([p.nextU32(), p.nextU32(), p.nextU32()]).toEqual([11520, 0, 5927040]);
  });

  it('same (seed, stream) -> same sequence; another stream or seed -> another', () => {
    const seq = (seed: number, stream: number): number[] => {
      const p = new Prng(seed, stream);
      return Array.from({ length: 8 }, () => p.nextU32());
    };
    expect(seq(7, 3)).toEqual(seq(7, 3));
    expect(seq(7, 3)).not.toEqual(seq(7, 4));
    expect(seq(7, 3)).not.toEqual(seq(8, 3));
    expect(seq(0, 0)).not.toEqual(seq(2 ** 32, 0)); // high seed bits count
  });

  it('nextFloat in [0, 1), nextBelow in [0, n) and roughly uniform', () => {
    const p = new Prng(42, 1);
    const buckets = new Uint32Array(7);
    for (let i = 0; i < 70_000; i++) {
      const f = p.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      buckets[p.nextBelow(7)]++;
    }
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
    expect(p.nextBelow(1)).toBe(0);
    expect(() => p.nextBelow(0)).toThrow(RangeError);
  });
});

describe('PagePermutation', () => {
  it.each([1, 2, 3, 1000, 4096, 5000])('is a bijection of [0, %d)', (pages) => {
    const perm = new PagePermutation(pages);
    const seen = new Set<number>();
    for (let i = 0; i < pages; i++) seen.add(perm.apply(i));
    expect(seen.size).toBe(pages);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(pages - 1);
  });
});

describe('makeGenerator', () => {
  const patterns: Pattern[] = ['uniform', 'sequential', 'zipf', 'hotset'];

  it.each(patterns)('%s: same seed and stream -> same pages', (pattern) => {
    const a = makeGenerator(workload(pattern), 1000, new Prng(5, 2));
    const b = makeGenerator(workload(pattern), 1000, new Prng(5, 2));
    expect(draw(a, 200)).toEqual(draw(b, 200));
  });

  it.each(patterns)('%s: every page index in [0, pages)', (pattern) => {
    for (const pages of [1, 2, 3, 777]) {
      const g = makeGenerator(workload(pattern), pages, new Prng(1, 0));
      for (const page of draw(g, 5000)) {
        expect(Number.isInteger(page) && page >= 0 && page < pages).toBe(true);
      }
    }
  });

  it('picks one class per pattern', () => {
    expect(makeGenerator(workload('zipf'), 10, new Prng(1))).toBeInstanceOf(ZipfGenerator);
    expect(makeGenerator(workload('hotset'), 10, new Prng(1))).toBeInstanceOf(HotsetGenerator);
    expect(makeGenerator(workload('sequential'), 10, new Prng(1))).toBeInstanceOf(SequentialGenerator);
  });

  it('rejects a page count out of range (programmer error)', () => {
    expect(() => makeGenerator(workload('uniform'), 0, new Prng(1))).toThrow(RangeError);
  });
});

describe('uniform', () => {
  // One test per draw method: mask (power of two), Lemire (up to 2^21 pages), remainder (larger).
  it.each([
    ['mask', 64],
    ['multiply-and-shift', 777],
    ['rejection and remainder', 3_000_001],
  ] as const)('%s draw (%i pages): in range, every bucket near its share (chi-square)', (_method, pages) => {
    const g = makeGenerator(workload('uniform'), pages, new Prng(9, 1));
    const buckets = 16;
    const c = new Float64Array(buckets);
    const n = 160_000;
    for (let i = 0; i < n; i++) {
      const p = g.next();
      expect(p >= 0 && p < pages && Number.isInteger(p)).toBe(true);
      c[Math.floor((p * buckets) / pages)]++;
    }
    const expected = n / buckets; // pages split into 16 nearly equal ranges
    const chi2 = c.reduce((a, x) => a + (x - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(50); // 15 degrees of freedom: p < 1e-5 for a fair draw
  });
});

describe('sequential', () => {
  it('walks pages in order from a start drawn from the stream and wraps', () => {
    const pages = 10;
    const seq = draw(makeGenerator(workload('sequential'), pages, new Prng(3, 1)), 25);
    for (let i = 1; i < seq.length; i++) expect(seq[i]).toBe((seq[i - 1] + 1) % pages);
    expect(seq).toContain(0); // 25 steps over 10 pages must wrap
    const starts = new Set([0, 1, 2, 3, 4, 5].map((s) => makeGenerator(workload('sequential'), 1000, new Prng(3, s)).next()));
    expect(starts.size).toBeGreaterThan(1);
  });
});

describe('zipf', () => {
  it.each([0.5, 0.99, 1.5])('theta %f: the top 1%% of pages get far more than 1%% of hits', (theta) => {
    const pages = 10_000;
    const g = makeGenerator(workload('zipf', `  theta: ${theta}\n`), pages, new Prng(11, 0));
    const share = topShare(counts(g, pages, 100_000), pages / 100);
    expect(share).toBeGreaterThan(theta < 1 ? 0.05 : 0.5);
  });

  it('rank frequencies follow (r+1)^-theta at the head', () => {
    const pages = 1000;
    const theta = 0.99;
    const g = new ZipfGenerator(pages, theta, new Prng(4, 0));
    const c = new Uint32Array(pages);
    for (let i = 0; i < 200_000; i++) c[g.nextRank()]++;
    const z = zeta(pages, theta);
    expect(c[0] / 200_000).toBeCloseTo(1 / z, 2);
    expect(c[1] / 200_000).toBeCloseTo(2 ** -theta / z, 2);
  });

  it('scatters the hottest pages instead of packing them at the start', () => {
    const pages = 10_000;
    const c = counts(makeGenerator(workload('zipf'), pages, new Prng(11, 0)), pages, 50_000);
    const hottest = [...c.keys()].sort((a, b) => c[b] - c[a]).slice(0, 10);
    expect(Math.max(...hottest)).toBeGreaterThan(pages / 10);
  });

  it('zeta matches the direct sum past the exact-term limit', () => {
    let direct = 0;
    for (let i = 1; i <= 3_000_000; i++) direct += i ** -0.99;
    expect(zeta(3_000_000, 0.99)).toBeCloseTo(direct, 9);
  });
});

describe('hotset', () => {
  it('hotFraction of the pages get hotProbability of the hits (100k samples)', () => {
    const pages = 1000;
    const g = makeGenerator(workload('hotset', '  hotFraction: 0.1\n  hotProbability: 0.9\n'), pages, new Prng(21, 0));
    expect(topShare(counts(g, pages, 100_000), 100)).toBeCloseTo(0.9, 2);
  });

  it('hotProbability 0.5 over a 20% hot set', () => {
    const pages = 500;
    const g = makeGenerator(workload('hotset', '  hotFraction: 0.2\n  hotProbability: 0.5\n'), pages, new Prng(22, 3));
    expect(Math.abs(topShare(counts(g, pages, 100_000), 100) - 0.5)).toBeLessThan(0.02);
  });

  it('a hot set covering every page is plain uniform', () => {
    const g = makeGenerator(workload('hotset', '  hotFraction: 1\n'), 50, new Prng(1));
    const c = counts(g, 50, 50_000);
    expect(Math.min(...c)).toBeGreaterThan(800);
  });
});
