/**
 * The results contract beyond one document: the shipped schema and the field reference are the
 * ones the code makes, histograms merge exactly by bucket, the time series stays bounded and
 * evenly spaced, and the replay of a config rebuilds it.
 */
import { withCostTable } from '../../src/cost/model.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Histogram, bucketIndex, bucketWidthNs } from '../../src/stats/histogram.js';
import { cdfPoints, histogramFromJson, histogramToJson, mergeHistogramJson } from '../../src/stats/latency.js';
import { SeriesRecorder } from '../../src/stats/series.js';
import { COUNTER, newCounters } from '../../src/stats/counters.js';
import { resultsSchemaText } from '../../src/report/schema.js';
import { withFieldReference } from '../../src/report/schema-docs.js';
import { applyOverrides, parseConfig } from '../../src/workload/config.js';
import { COMMAND_LINE, IMPLIED, STRESS_ROUND, overridesOf, replayArgs, shellLine } from '../../src/workload/overrides.js';
import { Prng } from '../../src/workload/prng.js';

const root = new URL('../../', import.meta.url);

describe('shipped files', () => {
  it('schema/results.schema.json is the schema the code makes (run `npm run schema` after changing a field)', () => {
    expect(readFileSync(new URL('schema/results.schema.json', root), 'utf8')).toBe(resultsSchemaText());
  });

  it("docs/results.md's field reference is the one the schema makes", () => {
    const text = readFileSync(new URL('docs/results.md', root), 'utf8');
    expect(text).toBe(withFieldReference(text));
    expect(text).toContain('`timeSeries.points[].faults.hostOom`');
    expect(text).toContain('`firstViolation.replay`');
  });

  it("docs/cost-model.md's cost table is the one the cost model has (every key, default and source)", () => {
    const text = readFileSync(new URL('docs/cost-model.md', root), 'utf8');
    expect(text).toBe(withCostTable(text));
    expect(text).toContain('| `cost.exitCycles` | 4,700 |');
  });
});

/** Exact percentile (nearest rank) of sorted samples. */
function exactPercentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

describe('histogram merge', () => {
  it('merging two histograms bucket by bucket equals the histogram of the union of their samples', () => {
    const rng = new Prng(7);
    const a = new Histogram();
    const b = new Histogram();
    const union = new Histogram();
    const samples: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Two different shapes: a narrow one near 800 ns and a long tail up to ~10 ms.
      const v = i % 2 === 0 ? 700 + Math.floor(rng.nextFloat() * 200) : Math.floor(Math.exp(rng.nextFloat() * 16));
      (i % 2 === 0 ? a : b).record(v);
      union.record(v);
      samples.push(v);
    }
    const merged = mergeHistogramJson([histogramToJson(a), histogramToJson(b)]);
    expect(merged).toEqual(histogramToJson(union));
    // Merging with an empty (null) histogram changes nothing.
    expect(mergeHistogramJson([merged, null])).toEqual(merged);
    samples.sort((x, y) => x - y);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = exactPercentile(samples, p);
      const got = histogramFromJson(merged).percentile(p);
      // Within the width of the bucket that holds the exact value.
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(bucketWidthNs(bucketIndex(exact)));
    }
  });

  it('a document histogram reads back as the histogram it came from', () => {
    const h = new Histogram();
    for (const v of [0, 1, 15, 16, 17, 1000, 1023, 1024, 123_456, 2 ** 33 + 5]) h.record(v);
    const back = histogramFromJson(histogramToJson(h));
    expect(Array.from(back.data)).toEqual(Array.from(h.data));
    expect(histogramToJson(new Histogram())).toBeNull();
    expect(() => histogramFromJson({ ...histogramToJson(h)!, buckets: [[1000, 1]] })).toThrow(/expected a bucket lower bound \(the nearest is 992 ns\)/);
  });

  it('the CDF rises to 1 at the last bucket', () => {
    const h = new Histogram();
    for (let v = 100; v < 5000; v += 7) h.record(v);
    const pts = cdfPoints(histogramToJson(h)!);
    expect(pts[pts.length - 1][1]).toBe(1);
    for (let i = 1; i < pts.length; i++) expect(pts[i][1]).toBeGreaterThan(pts[i - 1][1]);
  });
});

describe('time series', () => {
  it('keeps one point per interval, thins to the cap by doubling the interval, and keeps the final point', () => {
    const rec = new SeriesRecorder(100, 10);
    const c = newCounters();
    for (let t = 0; t <= 3000; t += 50) {
      c[COUNTER.accesses] = t * 10;
      rec.add(t, c, false);
    }
    c[COUNTER.accesses] = 30_555;
    rec.add(3033, c, false, true);
    const s = rec.result();
    expect(s.points.length).toBeLessThanOrEqual(11);
    expect(s.intervalMs).toBe(400);
    const gaps = s.points.slice(1, -1).map((p, i) => p.tMs - s.points[i].tMs);
    expect(new Set(gaps)).toEqual(new Set([400]));
    expect(s.points[s.points.length - 1]).toMatchObject({ tMs: 3033, accesses: 30_555 });
  });
});

describe('where settings came from, and the run that rebuilds them', () => {
  const file = 'configs/x.yaml';
  const base = parseConfig('vcpus: 2\nworkload:\n  pattern: zipf\n  theta: 0.9\n', file);

  it('records file keys with their line and command-line keys with their option', () => {
    let cfg = applyOverrides(base, { vcpus: '4', mutation: ['skip-rmap'], fix: 'p1', protocol: 'mainline' }, COMMAND_LINE);
    cfg = applyOverrides(cfg, { 'guests.memory': '512M', 'workload.writeRatio': '0.5' }, '--set');
    cfg = applyOverrides(cfg, { duration: '24h' }, IMPLIED);
    cfg = applyOverrides(cfg, { seed: '17' }, STRESS_ROUND);
    expect(overridesOf(cfg)).toEqual([
      { key: 'workload.pattern', value: 'zipf', from: `${file}:3` },
      { key: 'workload.theta', value: 0.9, from: `${file}:4` },
      { key: 'vcpus', value: 4, from: '--vcpus' },
      { key: 'mutations', value: ['skip-rmap'], from: '--mutation' },
      { key: 'fixes', value: ['p1'], from: '--fix' },
      { key: 'protocol', value: 'mainline', from: '--protocol' },
      { key: 'guests.memory', value: 512 * 2 ** 20, from: '--set' },
      { key: 'workload.writeRatio', value: 0.5, from: '--set' },
      { key: 'duration', value: 86_400_000, from: IMPLIED },
      { key: 'seed', value: 17, from: STRESS_ROUND },
    ]);
    const replay = replayArgs(cfg);
    expect(replay).toEqual(['run', file, '--vcpus', '4', '--mutation', 'skip-rmap', '--fix', 'p1', '--protocol', 'mainline', '--set', 'guests.memory=512M', '--set', 'workload.writeRatio=0.5', '--seed', '17']);
    expect(shellLine(['nestsim', ...replay])).toBe(`nestsim run ${file} --vcpus 4 --mutation skip-rmap --fix p1 --protocol mainline --set guests.memory=512M --set workload.writeRatio=0.5 --seed 17`);
  });

  it('the replay, applied to the file, rebuilds the same config', () => {
    let cfg = applyOverrides(base, { vcpus: '3', mutation: ['nonatomic-rc', 'skip-rmap'], seed: '99' }, COMMAND_LINE);
    cfg = applyOverrides(cfg, { 'host.backing.2M': '1', 'actors.host.migrate': '0.5', warmup: '2s' }, '--set');
    const args = replayArgs(cfg);
    // Parse the replay's options back into overrides, as the command line does.
    const direct: Record<string, string | string[]> = {};
    const sets: Record<string, string> = {};
    for (let i = 2; i < args.length; i += 2) {
      const name = args[i].slice(2);
      const v = args[i + 1];
      if (name === 'set') sets[v.slice(0, v.indexOf('='))] = v.slice(v.indexOf('=') + 1);
      else if (name === 'mutation' || name === 'fix') direct[name] = [...((direct[name] as string[] | undefined) ?? []), v];
      else direct[name] = v;
    }
    const rebuilt = applyOverrides(applyOverrides(base, direct, COMMAND_LINE), sets, '--set');
    expect(JSON.parse(JSON.stringify(rebuilt))).toEqual(JSON.parse(JSON.stringify(cfg)));
  });

  it('quotes what a shell would split', () => {
    expect(shellLine(['nestsim', 'run', 'my configs/a.yaml', "it's", '--set', 'fixes=[p1, p5]'])).toBe(`nestsim run 'my configs/a.yaml' 'it'\\''s' --set 'fixes=[p1, p5]'`);
  });
});
