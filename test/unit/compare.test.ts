/**
 * `nestsim compare` (report/compare.ts, stats/tests.ts): the tests' figures against known values,
 * Holm's adjustment, and the command on real documents.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holm, incompleteBeta, mannWhitney, tTwoSided, welch, zTwoSided } from '../../src/stats/tests.js';
import { compareDocuments, renderComparison } from '../../src/report/compare.js';
import type { RunDocument, StressDocument } from '../../src/stats/document.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { schemaProblems } from '../helpers/schema.js';

describe('the statistics', () => {
  it('t, normal and incomplete-beta values match their tables', () => {
    // Two-sided critical values at 5%: t(10) 2.228, t(1) 12.706; z 1.960 (5%) and 2.576 (1%).
    expect(tTwoSided(2.228, 10)).toBeCloseTo(0.05, 3);
    expect(tTwoSided(12.706, 1)).toBeCloseTo(0.05, 3);
    expect(zTwoSided(1.96)).toBeCloseTo(0.05, 4);
    expect(zTwoSided(2.576)).toBeCloseTo(0.01, 4);
    expect(incompleteBeta(0.5, 2, 3)).toBeCloseTo(0.6875, 10);
  });

  it("Welch's t: equal samples p = 1; a shift of one sd in 5 values each is not significant; a clear shift is", () => {
    expect(welch([1, 2, 3], [1, 2, 3])!.p).toBeCloseTo(1, 10);
    const r = welch([1, 2, 3, 4, 5], [2, 3, 4, 5, 6])!;
    expect(r.statistic).toBeCloseTo(1, 10);
    expect(r.p).toBeCloseTo(0.3466, 3); // t = 1 with 8 degrees of freedom
    expect(welch([10, 11, 10, 11], [20, 21, 20, 21])!.p).toBeLessThan(1e-4);
    expect(welch([1], [2, 3])).toBeUndefined();
  });

  it('Mann-Whitney U: separated samples are significant, interleaved ones are not', () => {
    const sep = mannWhitney([1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16])!;
    expect(sep.statistic).toBe(0);
    expect(sep.p).toBeLessThan(0.002);
    expect(mannWhitney([1, 3, 5, 7, 9, 11], [2, 4, 6, 8, 10, 12])!.p).toBeGreaterThan(0.5);
    expect(mannWhitney([0, 0, 0], [0, 0, 0])!.p).toBe(1);
  });

  it('Holm adjusts step-down and keeps the input order', () => {
    expect(holm([0.01, 0.04, 0.03, 0.005])).toEqual([0.03, 0.06, 0.06, 0.02]);
    expect(holm([0.5, Number.NaN])).toEqual([0.5, Number.NaN]);
  });
});

const runDoc = (faults: number, p50: number): RunDocument =>
  ({
    kind: 'run',
    modeled: { faultsPerSec: faults, accessesPerSec: faults * 2, latencyNs: { shadowInsert: { p50, p99: p50 * 2 }, hostInstantiate: null, reflected: null } },
    throughput: { faultsPerSec: 1000, accessesPerSec: 2000 },
    latencyNs: { shadowInsert: { p50: 900 }, hostInstantiate: null, reflected: null },
    counts: { accesses: 100, faultsTotal: 50 },
    checks: { violations: 0 },
  }) as unknown as RunDocument;

describe('comparing documents', () => {
  it('run documents: a clear slowdown in modeled faults/s is called worse; a noisy difference is not', () => {
    const base = [runDoc(1000, 2000), runDoc(1010, 2000), runDoc(990, 2001)];
    const next = [runDoc(800, 2600), runDoc(805, 2610), runDoc(795, 2590)];
    const rows = compareDocuments(base, next);
    const f = rows.find((r) => r.name === 'modeled faults/s')!;
    expect(f.change).toBeCloseTo(-0.2, 3);
    expect(f.test).toBe('welch');
    expect(f.verdict).toBe('worse');
    expect(rows.find((r) => r.name === 'modeled shadowInsert p50 (ns)')!.verdict).toBe('worse');
    expect(rows.find((r) => r.name === 'wall faults/s')!.verdict).toBe('no change');
    const text = renderComparison(rows, 0.05, true);
    expect(text).toMatch(/^\| figure \| base \| new \| change \| p \(Holm\) \| verdict \|$/m);
    expect(text).toContain('| modeled faults/s | 1000 ± 10 (n=3) | 800 ± 5 (n=3) | -20.0% |');
    // Large means and their spread in one unit.
    const big = renderComparison(compareDocuments([runDoc(344_712, 2000), runDoc(344_700, 2000), runDoc(344_730, 2000)], [runDoc(213_100, 2000), runDoc(213_090, 2000), runDoc(213_110, 2000)]), 0.05, true);
    expect(big).toContain('| modeled faults/s | 344,714 ± 15.1 (n=3) | 213,100 ± 10 (n=3) |');
  });

  it('one document a side: the change without a test ("n/a")', () => {
    const rows = compareDocuments([runDoc(1000, 2000)], [runDoc(900, 2000)]);
    expect(rows.find((r) => r.name === 'modeled faults/s')).toMatchObject({ verdict: 'n/a', test: null });
  });

  it('stress documents: per-round values, Mann-Whitney; kinds may not be mixed', () => {
    const stress = (violations: number[]): StressDocument =>
      ({ kind: 'stress', rounds: violations.map((v, i) => ({ round: i, violations: v, unexplained: v, accesses: 1000, faults: 10, durationMs: 100 })) }) as unknown as StressDocument;
    const rows = compareDocuments([stress([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])], [stress([3, 5, 2, 4, 6, 3, 2, 5, 4, 3])]);
    const v = rows.find((r) => r.name === 'violations per round')!;
    expect(v.test).toBe('mann-whitney');
    expect(v.verdict).toBe('higher');
    expect(() => compareDocuments([stress([0])], [runDoc(1, 1) as unknown as StressDocument])).toThrow('expected documents of one kind, found stress and run');
  });
});

describe('nestsim compare', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nestsim-compare-'));
  const nestsim = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  it('compares directories of real run documents: a dearer exit is a worse modeled rate, at every seed', () => {
    const base = join(tmp, 'base');
    const next = join(tmp, 'new');
    mkdirSync(base);
    mkdirSync(next);
    for (const seed of ['1', '2', '3']) {
      const common = ['run', join(ROOT, 'configs', 'fault-storm.yaml'), '--vcpus', '1', '--accesses', '4000', '--seed', seed, '--quiet'];
      expect(nestsim(...common, '--json', join(base, `s${seed}.json`)).status).toBe(0);
      expect(nestsim(...common, '--set', 'cost.exitCycles=9400', '--json', join(next, `s${seed}.json`)).status).toBe(0);
    }
    const r = nestsim('compare', base, '--', next);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^modeled faults\/s .* worse$/m);
    expect(r.stdout).toContain("Welch's t on document means");
    // Options after the new documents apply too (was: --markdown read as a document, ENOENT).
    const md = nestsim('compare', base, '--', next, '--markdown', '--alpha=0.01');
    expect(md.status, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^\| modeled faults\/s \|.*\| worse \|$/m);
    expect(md.stdout).toContain('alpha 0.01');
  });

  it('bad input: exit 2 with what was expected, never a stack', () => {
    const notJson = join(tmp, 'x.json');
    writeFileSync(notJson, 'not json');
    const cases: Array<[string[], string]> = [
      [['compare'], 'compare: expected base documents'],
      [['compare', notJson], 'expected -- and the new documents'],
      [['compare', notJson, '--', notJson], `${notJson}: expected a results document (JSON), found text that does not parse`],
      [['compare', join(tmp, 'none.json'), '--', notJson], 'cannot read it (ENOENT)'],
      [['compare', notJson, '--alpha', '2', '--', notJson], '--alpha: expected a significance level 0 < A < 1, found "2"'],
      [['compare', notJson, '--', notJson, '--alpha'], '--alpha: expected a significance level 0 < A < 1, found nothing'],
      [['compare', notJson, '--', notJson, '--html', 'x.html'], 'compare: expected one of its options (--markdown, --alpha A) or a document after --, found --html'],
    ];
    for (const [args, message] of cases) {
      const r = nestsim(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('detection statistics of a stress campaign', () => {
  it('Wilson interval and expected rounds to detect match their textbook values', async () => {
    const { wilson, detectionOf } = await import('../../src/stats/detection.js');
    const [lo, hi] = wilson(7, 10);
    expect(lo).toBeCloseTo(0.3968, 3);
    expect(hi).toBeCloseTo(0.8922, 3);
    expect(wilson(0, 10)[0]).toBe(0);
    const rounds = Array.from({ length: 10 }, (_, i) => ({ detected: i < 5, wallMs: 200, modeledNs: 1e6 }));
    const d = detectionOf(rounds);
    expect(d).toMatchObject({ rounds: 10, detected: 5, share: 0.5 });
    expect(d.roundsToDetect.estimate).toBe(2);
    expect(d.wallMsToDetect.estimate).toBe(400);
    expect(d.modeledNsToDetect!.estimate).toBe(2e6);
    // Bounds: rounds over the share's interval, the upper from its lower bound.
    expect(d.roundsToDetect.ci95[0]!).toBeCloseTo(1 / wilson(5, 10)[1], 3);
    expect(d.roundsToDetect.ci95[1]!).toBeCloseTo(1 / wilson(5, 10)[0], 3);
    // Nothing detected: no estimate, no upper bound.
    const none = detectionOf(rounds.map((r) => ({ ...r, detected: false })));
    expect(none.roundsToDetect).toEqual({ estimate: null, ci95: [expect.any(Number), null] });
    expect(detectionOf(rounds.map((r) => ({ ...r, modeledNs: null }))).modeledNsToDetect).toBeNull();
  });

  it('a stress campaign records it: every round of a caught mutation detects', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nestsim-detect-')), 's.json');
    const r = spawnSync(process.execPath, [CLI, 'stress', join(ROOT, 'configs', 'stress.yaml'), '--mutation', 'skip-tlb-flush', '--iterations', '4', '--no-fail-fast', '--set', 'accesses=4000', '--json', out], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/detection: 4 of 4 rounds \(100%, 95% CI 51%-100%\)/);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(schemaProblems(doc)).toEqual([]);
    expect(doc.detection).toMatchObject({ rounds: 4, detected: 4, share: 1, roundsToDetect: { estimate: 1 } });
    expect(doc.rounds.every((x: { modeledNs: number | null }) => typeof x.modeledNs === 'number' && x.modeledNs > 0)).toBe(true);
  }, 60_000);
});
