/**
 * Seeded page-access generators: which page of the working set each access touches.
 *
 * One class per pattern, chosen once by `makeGenerator`, so the per-access call is a
 * monomorphic `next()` with no pattern switch, no allocation and only number arithmetic.
 * Skewed patterns (zipf, hotset) draw a *rank* and map it through `PagePermutation`, so hot
 * pages are spread over the working set instead of packed at its start. The permutation is
 * fixed (independent of seed and stream): vCPUs sharing a guest share its hot pages.
 */

import type { Prng } from './prng.js';
import { rejectionLimit } from './prng.js';
import type { ResolvedConfig } from './types.js';

export interface PageGenerator {
  /** The next page index, in [0, pages). */
  next(): number;
}

/** Largest working set a generator takes, in pages (the permutation works on 31-bit words). */
export const MAX_GENERATOR_PAGES = 2 ** 31;

function checkPages(pages: number): void {
  if (!Number.isSafeInteger(pages) || pages < 1 || pages > MAX_GENERATOR_PAGES) {
    throw new RangeError(`generator needs 1..2^31 pages, got ${pages}`);
  }
}

/**
 * A fixed bijection of [0, pages): a mixing bijection on the enclosing power of two
 * (add, multiply by odd constants, xor-shift, all mod 2^bits) with cycle walking until the
 * value falls inside [0, pages). Since pages > 2^(bits-1), that takes < 2 rounds on average.
 */
export class PagePermutation {
  private readonly mask: number;
  private readonly shift: number;

  constructor(readonly pages: number) {
    checkPages(pages);
    const bits = pages <= 1 ? 0 : Math.ceil(Math.log2(pages));
    this.mask = bits === 31 ? 0x7fffffff : (1 << bits) - 1;
    this.shift = Math.max(1, bits >>> 1);
  }

  apply(i: number): number {
    const mask = this.mask;
    const shift = this.shift;
    let x = i;
    do {
      x = (x + 0x6d2b79f5) & mask;
      x = Math.imul(x, 0x9e3779b1) & mask; // odd multiplier: a bijection mod 2^bits
      x ^= x >>> shift; // keeps the high bits, so invertible
      x = Math.imul(x, 0x85ebca77) & mask;
      x ^= x >>> shift;
    } while (x >= this.pages);
    return x;
  }
}

/**
 * Every page equally likely. The draw avoids `%` on a 32-bit unsigned value, which V8 compiles
 * to a floating-point remainder call (~10 ns, more than a TLB hit): a power-of-two working set
 * masks; up to 2^21 pages, Lemire's multiply-and-shift with rejection (exact in doubles, since
 * r * pages < 2^53); larger sets use the rejection-and-remainder draw. All three are unbiased.
 */
export class UniformGenerator implements PageGenerator {
  private readonly limit: number;
  private readonly mask: number;
  /** Lemire's rejection threshold (2^32 mod pages), or -1 when that method is not used. */
  private readonly threshold: number;
  constructor(private readonly pages: number, private readonly prng: Prng) {
    checkPages(pages);
    this.limit = pages <= 2 ** 32 ? rejectionLimit(pages) : 0;
    this.mask = (pages & (pages - 1)) === 0 && pages <= 2 ** 30 ? pages - 1 : -1;
    this.threshold = this.mask < 0 && pages <= 2 ** 21 ? TWO_32 % pages : -1;
  }

  next(): number {
    if (this.mask >= 0) return this.prng.nextU32() & this.mask;
    if (this.threshold >= 0) {
      const n = this.pages;
      for (;;) {
        const m = this.prng.nextU32() * n; // < 2^53: exact
        const hi = Math.floor(m * INV_TWO_32);
        if (m - hi * TWO_32 >= this.threshold) return hi;
      }
    }
    return this.limit > 0 ? this.prng.nextBelowLimit(this.pages, this.limit) : this.prng.nextBelow(this.pages);
  }
}

const TWO_32 = 4294967296;
const INV_TWO_32 = 1 / TWO_32;

/** Pages in order from a start drawn from the stream, wrapping at the end of the working set. */
export class SequentialGenerator implements PageGenerator {
  private page: number;

  constructor(private readonly pages: number, prng: Prng) {
    checkPages(pages);
    this.page = prng.nextBelow(pages);
  }

  next(): number {
    const p = this.page;
    this.page = p + 1 === this.pages ? 0 : p + 1;
    return p;
  }
}

/** Exact terms summed before switching to the Euler–Maclaurin tail in `zeta`. */
const ZETA_EXACT_TERMS = 1 << 20;

/**
 * Generalised harmonic number H(n, theta) = sum_{i=1..n} i^-theta. Exact up to 2^20 terms; the
 * rest by Euler–Maclaurin (integral + end corrections), whose error there is far below 1e-12.
 */
export function zeta(n: number, theta: number): number {
  const cacheKey = `${n}:${theta}`;
  const cached = ZETA_CACHE.get(cacheKey);
  if (cached !== undefined) return cached;
  const value = computeZeta(n, theta);
  ZETA_CACHE.set(cacheKey, value);
  return value;
}

/** zeta() by (n, theta): every vCPU of a run builds the same generator, and 2^20 terms take ~20 ms. */
const ZETA_CACHE = new Map<string, number>();

function computeZeta(n: number, theta: number): number {
  const exact = Math.min(n, ZETA_EXACT_TERMS);
  let sum = 0;
  for (let i = 1; i <= exact; i++) sum += Math.pow(i, -theta);
  if (n <= exact) return sum;
  const a = exact + 1;
  const integral = (Math.pow(n, 1 - theta) - Math.pow(a, 1 - theta)) / (1 - theta);
  const ends = (Math.pow(a, -theta) + Math.pow(n, -theta)) / 2;
  const slope = (theta / 12) * (Math.pow(a, -theta - 1) - Math.pow(n, -theta - 1));
  return sum + integral + ends + slope;
}

/**
 * Zipf over ranks (rank r has weight (r+1)^-theta), by the rejection-free approximation of
 * Gray et al., "Quickly generating billion-record synthetic databases" (SIGMOD '94), as used by
 * YCSB: ranks 0 and 1 exactly, the rest by inverting the continuous CDF. Valid for theta != 1,
 * below and above 1. zeta(n) is computed once here.
 */
export class ZipfGenerator implements PageGenerator {
  private readonly zetaN: number;
  private readonly rank1Cut: number; // 1 + 0.5^theta: uz below it is rank 0 or 1
  private readonly alpha: number;
  private readonly eta: number;
  private readonly perm: PagePermutation;

  constructor(private readonly pages: number, theta: number, private readonly prng: Prng) {
    checkPages(pages);
    if (!(theta > 0) || theta === 1 || !Number.isFinite(theta)) throw new RangeError(`zipf theta must be > 0 and != 1, got ${theta}`);
    this.zetaN = zeta(pages, theta);
    const zeta2 = 1 + Math.pow(0.5, theta);
    this.rank1Cut = zeta2;
    this.alpha = 1 / (1 - theta);
    // With n <= 2 every draw ends at rank 0 or 1 and eta is never used (its formula is 0/0 there).
    this.eta = pages <= 2 ? 0 : (1 - Math.pow(2 / pages, 1 - theta)) / (1 - zeta2 / this.zetaN);
    this.perm = new PagePermutation(pages);
  }

  /** The next rank, 0 = most popular (before the permutation). */
  nextRank(): number {
    const u = this.prng.nextFloat();
    const uz = u * this.zetaN;
    if (uz < 1) return 0;
    if (uz < this.rank1Cut) return 1;
    const r = Math.floor(this.pages * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return r >= this.pages ? this.pages - 1 : r;
  }

  next(): number {
    return this.perm.apply(this.nextRank());
  }
}

/**
 * Hot set: `hotFraction` of the pages (at least one) receive `hotProbability` of the accesses,
 * uniformly within the hot and within the cold part.
 */
export class HotsetGenerator implements PageGenerator {
  private readonly hotPages: number;
  private readonly coldPages: number;
  private readonly hotThresholdU32: number; // nextU32() below this = hot access
  private readonly perm: PagePermutation;

  constructor(pages: number, hotFraction: number, hotProbability: number, private readonly prng: Prng) {
    checkPages(pages);
    this.hotPages = Math.min(pages, Math.max(1, Math.round(hotFraction * pages)));
    this.coldPages = pages - this.hotPages;
    this.hotThresholdU32 = this.coldPages === 0 ? Infinity : hotProbability * 4294967296;
    this.perm = new PagePermutation(pages);
  }

  next(): number {
    const rank = this.prng.nextU32() < this.hotThresholdU32
      ? this.prng.nextBelow(this.hotPages)
      : this.hotPages + this.prng.nextBelow(this.coldPages);
    return this.perm.apply(rank);
  }
}

/**
 * Picks the generator for `cfg.pattern`, once, before the access loop.
 *
 * @param pages working-set size in pages (the caller divides `workingSetBytes` by its page size)
 * @param prng the worker's own stream; the generator draws from it on every `next()`
 */
export function makeGenerator(cfg: ResolvedConfig['workload'], pages: number, prng: Prng): PageGenerator {
  switch (cfg.pattern) {
    case 'uniform':
      return new UniformGenerator(pages, prng);
    case 'sequential':
      return new SequentialGenerator(pages, prng);
    case 'zipf':
      return new ZipfGenerator(pages, cfg.theta, prng);
    case 'hotset':
      return new HotsetGenerator(pages, cfg.hotFraction, cfg.hotProbability, prng);
  }
}
