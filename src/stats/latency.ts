/**
 * A latency histogram as the results documents carry it: the summary figures and the non-empty
 * buckets, on the fixed log-linear boundaries of `histogram.ts` (the same for every document of
 * one major schema version), so two documents merge by adding counts bucket by bucket and every
 * histogram plots as a CDF. A histogram that recorded nothing is `null`.
 */
import { BUCKET_COUNT, HISTOGRAM_HEADER_WORDS, HIST, Histogram, bucketIndex, bucketLowerNs, bucketWidthNs } from './histogram.js';

/** One histogram in a results document; all figures in whole nanoseconds. */
export interface LatencyHistogram {
  count: number;
  /** Sum of every recorded value (ns, rounded to an integer). */
  sumNs: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** `[lowerNs, count]` of every non-empty bucket, by increasing `lowerNs`. */
  buckets: Array<[number, number]>;
}

/** The document form of `h`; null when it recorded nothing. */
export function histogramToJson(h: Histogram): LatencyHistogram | null {
  if (h.count === 0) return null;
  const d = h.data;
  const buckets: Array<[number, number]> = [];
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const n = d[HISTOGRAM_HEADER_WORDS + i];
    if (n > 0) buckets.push([bucketLowerNs(i), n]);
  }
  const s = h.summary();
  return { count: s.count, sumNs: Math.round(d[HIST.sum]), mean: s.mean, min: Math.round(h.min()), p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max, buckets };
}

/**
 * The histogram a document's form was made from (exactly, but for min, max and sum, which the
 * document rounds to whole ns). A bucket bound that is not one of the fixed boundaries is an error.
 */
export function histogramFromJson(j: LatencyHistogram | null): Histogram {
  const h = new Histogram();
  if (j === null) return h;
  const d = h.data;
  for (const [lower, n] of j.buckets) {
    const i = bucketIndex(lower);
    if (bucketLowerNs(i) !== lower) throw new RangeError(`histogram bucket ${lower} ns: expected a bucket lower bound (the nearest is ${bucketLowerNs(i)} ns)`);
    d[HISTOGRAM_HEADER_WORDS + i] += n;
  }
  d[HIST.count] = j.count;
  d[HIST.sum] = j.sumNs;
  d[HIST.min] = j.min;
  d[HIST.max] = j.max;
  return h;
}

/** The union of several documents' histograms of one kind: counts add bucket by bucket. */
export function mergeHistogramJson(parts: ReadonlyArray<LatencyHistogram | null>): LatencyHistogram | null {
  const total = new Histogram();
  for (const p of parts) total.merge(histogramFromJson(p));
  return histogramToJson(total);
}

/** Points `[upper bound ns, cumulative fraction]` of the histogram's CDF, one per non-empty bucket. */
export function cdfPoints(j: LatencyHistogram): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let seen = 0;
  for (const [lower, n] of j.buckets) {
    seen += n;
    out.push([lower + bucketWidthNs(bucketIndex(lower)), seen / j.count]);
  }
  return out;
}
