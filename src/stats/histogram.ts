/**
 * A mergeable log-linear latency histogram, in nanoseconds, held in ONE Float64Array so a worker
 * can post it to the coordinator (structured clone, or a view on shared memory) and the
 * coordinator can merge it into a total.
 *
 * Layout of `data` (HISTOGRAM_LENGTH words):
 *
 *     [COUNT, SUM, MIN, MAX, bucket 0, bucket 1, ... bucket BUCKET_COUNT-1]
 *
 * Buckets: values 0..15 ns each have an exact bucket; every power of two 2^e (e = 4..40) above
 * that is split into 16 linear sub-buckets of width 2^(e-4), so a bucket is at most 1/16 of its
 * lower bound wide. Values are truncated to whole nanoseconds for bucketing (the sum keeps the
 * fraction) and clamped to 0..HISTOGRAM_MAX_NS; NaN and negative values count as 0, so no
 * statistic can become NaN.
 *
 * `record` is on the fault path: no allocation, no Math.log, a clz32 and a handful of typed-array
 * updates. MIN is only meaningful when COUNT > 0 (an all-zero array is a valid empty histogram, so
 * a fresh `new Float64Array(HISTOGRAM_LENGTH)` from anywhere can be wrapped).
 */

// The hot path reads these module-private copies: V8 folds a private `const` but loads an
// exported binding through its module cell on every call (measured: record 7.4 ns vs 11 ns).
const HEADER = 4;
const SUB = 16;
const SUB_BITS = 4; // log2(SUB)
const MAX_EXP = 40;
const MAX_NS = 2 ** MAX_EXP;

/** Word indices of the header. */
export const HIST = { count: 0, sum: 1, min: 2, max: 3 } as const;
/** Words before the first bucket. */
export const HISTOGRAM_HEADER_WORDS = HEADER;
/** Linear sub-buckets per power of two (relative precision 1/16). */
export const SUB_BUCKETS = SUB;
/** Largest power-of-two exponent with its own buckets; values are clamped to 2^40 ns (~18 min). */
export const MAX_EXPONENT = MAX_EXP;
/** Largest recordable value in ns; larger values are recorded as this. */
export const HISTOGRAM_MAX_NS = MAX_NS;
/** 16 exact buckets for 0..15, then 16 per exponent 4..MAX_EXPONENT. */
export const BUCKET_COUNT = SUB + (MAX_EXP - SUB_BITS + 1) * SUB;
/** Length in words (float64) of a histogram's backing array. */
export const HISTOGRAM_LENGTH = HEADER + BUCKET_COUNT;

const TWO_POW_32 = 4294967296;

/** SCALE[e] = 2^-(e-4): multiplying a value in [2^e, 2^(e+1)) by it gives 16..31 (exact). */
const SCALE = new Float64Array(MAX_EXP + 1);
for (let e = SUB_BITS; e <= MAX_EXP; e++) SCALE[e] = 2 ** -(e - SUB_BITS);

/** Latency statistics of one kind, in whole nanoseconds; all zero when nothing was recorded. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Bucket index of a value already clamped to 0..MAX_NS.
 * Index = (e - 3) * 16 + sub for e >= 4, i.e. 16 + (e - 4) * 16 + sub.
 */
export function bucketIndex(ns: number): number {
  if (ns < TWO_POW_32) {
    const lo = ns >>> 0;
    if (lo < SUB) return lo;
    const e = 31 - Math.clz32(lo);
    return ((e - 3) << SUB_BITS) + ((lo >>> (e - SUB_BITS)) & 15);
  }
  // Values >= 2^32: the exponent comes from the high word; scaling by a power of two is exact.
  const e = 63 - Math.clz32((ns / TWO_POW_32) >>> 0);
  return ((e - 3) << SUB_BITS) + ((ns * SCALE[e]) & 15);
}

/** Smallest value (ns) that falls in bucket `index`. */
export function bucketLowerNs(index: number): number {
  if (index < SUB) return index;
  const e = (index >> SUB_BITS) + 3;
  return (SUB + (index & 15)) * 2 ** (e - SUB_BITS);
}

/** Width (ns) of bucket `index`: every value in [lower, lower + width) lands there. */
export function bucketWidthNs(index: number): number {
  if (index < SUB) return 1;
  return 2 ** ((index >> SUB_BITS) + 3 - SUB_BITS);
}

export class Histogram {
  readonly data: Float64Array;

  /** Wraps `data` without copying (e.g. an array posted by a worker), or allocates a new one. */
  constructor(data?: Float64Array) {
    if (data === undefined) {
      this.data = new Float64Array(HISTOGRAM_LENGTH);
    } else {
      if (data.length !== HISTOGRAM_LENGTH) {
        throw new RangeError(`Histogram: expected ${HISTOGRAM_LENGTH} words, found ${data.length}`);
      }
      this.data = data;
    }
  }

  /** Record one value. Hot path: no allocation. */
  record(ns: number): void {
    const d = this.data;
    // `!(ns > 0)` is also true for NaN: a broken timer reading counts as 0 instead of poisoning.
    const v = !(ns > 0) ? 0 : ns > MAX_NS ? MAX_NS : ns;
    if (d[0] === 0 || v < d[2]) d[2] = v;
    if (v > d[3]) d[3] = v;
    d[0]++;
    d[1] += v;
    d[HEADER + bucketIndex(v)]++;
  }

  /** Record the same value `n` times (n <= 0 or NaN records nothing). */
  recordN(ns: number, n: number): void {
    if (!(n > 0)) return;
    const d = this.data;
    const v = !(ns > 0) ? 0 : ns > MAX_NS ? MAX_NS : ns;
    if (d[0] === 0 || v < d[2]) d[2] = v;
    if (v > d[3]) d[3] = v;
    d[0] += n;
    d[1] += v * n;
    d[HEADER + bucketIndex(v)] += n;
  }

  /** Add another histogram's records to this one; the result equals recording both streams. */
  merge(other: Histogram | Float64Array): void {
    const o = other instanceof Histogram ? other.data : other;
    if (o.length !== HISTOGRAM_LENGTH) {
      throw new RangeError(`Histogram.merge: expected ${HISTOGRAM_LENGTH} words, found ${o.length}`);
    }
    if (o[0] === 0) return;
    const d = this.data;
    if (d[0] === 0 || o[2] < d[2]) d[2] = o[2];
    if (o[3] > d[3]) d[3] = o[3];
    d[0] += o[0];
    d[1] += o[1];
    for (let i = HEADER; i < HISTOGRAM_LENGTH; i++) d[i] += o[i];
  }

  reset(): void {
    this.data.fill(0);
  }

  get count(): number {
    return this.data[0];
  }

  /** Exact mean of the recorded (clamped) values; 0 when empty. */
  mean(): number {
    const d = this.data;
    return d[0] === 0 ? 0 : d[1] / d[0];
  }

  /** Exact smallest recorded value; 0 when empty. */
  min(): number {
    return this.data[0] === 0 ? 0 : this.data[2];
  }

  /** Exact largest recorded value; 0 when empty. */
  max(): number {
    return this.data[0] === 0 ? 0 : this.data[3];
  }

  /**
   * The value below which `p` percent (0..100) of the records fall (nearest rank), estimated as
   * the middle of the bucket holding that rank (error <= 1/32 of the value), clamped to the
   * exact min and max.
   * p <= 0 gives the min, p >= 100 the max, an empty histogram 0.
   */
  percentile(p: number): number {
    const d = this.data;
    const count = d[0];
    if (count === 0) return 0;
    if (!(p > 0)) return d[2];
    if (p >= 100) return d[3];
    const rank = Math.max(1, Math.ceil((p / 100) * count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += d[HEADER + i];
      if (seen >= rank) {
        // Middle of the whole nanoseconds the bucket holds: exact for the 1-ns buckets below 16.
        const mid = bucketLowerNs(i) + (bucketWidthNs(i) - 1) / 2;
        return Math.min(d[3], Math.max(d[2], mid));
      }
    }
    return d[3]; // unreachable while the buckets add up to COUNT
  }

  /** count, mean and percentiles rounded to whole ns; all zero when empty. */
  summary(): LatencySummary {
    return {
      count: this.data[0],
      mean: Math.round(this.mean()),
      p50: Math.round(this.percentile(50)),
      p90: Math.round(this.percentile(90)),
      p99: Math.round(this.percentile(99)),
      p999: Math.round(this.percentile(99.9)),
      max: Math.round(this.max()),
    };
  }
}

/** The summary of a histogram that recorded nothing. */
export function emptySummary(): LatencySummary {
  return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
}
