/**
 * Thresholds (stats/thresholds.ts, report/thresholds.ts): the grammar, units, the schema check
 * of paths before a run, evaluation on run, stress and sweep documents, and the command line's
 * exit statuses (1 on a failed threshold, 2 on one that names no number field).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, parseThreshold, type Threshold } from '../../src/stats/thresholds.js';
import { checkThresholds, evaluateThresholds, pathProblem, renderThresholds } from '../../src/report/thresholds.js';
import type { AnyDocument } from '../../src/stats/document.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { schemaProblems } from '../helpers/schema.js';

const t = (expr: string): Threshold => {
  const r = parseThreshold(expr);
  if (typeof r === 'string') throw new Error(r);
  return r;
};

describe('threshold grammar', () => {
  it('PATH OP VALUE, with a time unit converted to the field unit and k/M/G scales', () => {
    expect(t('latencyNs.shadowInsert.p99 < 10us')).toEqual({ expr: 'latencyNs.shadowInsert.p99 < 10us', path: ['latencyNs', 'shadowInsert', 'p99'], op: '<', value: 10_000 });
    expect(t('run.durationMs<=2s').value).toBe(2000);
    expect(t('modeled.durationNs >= 1.5ms').value).toBe(1_500_000);
    expect(t('modeled.faultsPerSec > 2e6').value).toBe(2e6);
    expect(t('throughput.accessesPerSec != 3M').value).toBe(3e6);
    expect(t('checks.byInvariant.I5-no-lost-write == 0').path).toEqual(['checks', 'byInvariant', 'I5-no-lost-write']);
    expect(t('latencyNs.access.p50 < 500µs').value).toBe(500_000);
  });

  it('says what is wrong with an expression that does not parse', () => {
    expect(parseThreshold('counts.accesses 3')).toMatch(/no comparison/);
    expect(parseThreshold('counts accesses > 3')).toMatch(/the path before the comparison/);
    expect(parseThreshold('counts.accesses > lots')).toMatch(/the value after the comparison/);
    expect(parseThreshold('counts.accesses < 10us')).toMatch(/"us" is a time unit, but counts.accesses is not a time field/);
    expect(parseThreshold('counts.accesses < 10x')).toMatch(/unknown unit "x"/);
    expect(parseThreshold('counts..accesses < 1')).toMatch(/single dots/);
  });

  it('compares as written', () => {
    expect([compare(1, '<', 2), compare(2, '<=', 2), compare(3, '>', 2), compare(2, '>=', 3), compare(2, '==', 2), compare(2, '!=', 2)]).toEqual([true, true, true, false, true, false]);
  });
});

describe('paths are checked against the results schema before a run', () => {
  it('a number field passes; a typo, an object or an unknown invariant names why', () => {
    expect(pathProblem(t('latencyNs.shadowInsert.p99 < 1'), 'run')).toBeUndefined();
    expect(pathProblem(t('latencyNs.inval.p50 < 1'), 'run')).toBeUndefined();
    expect(pathProblem(t('modeled.lockWait.tlbLock.share < 0.5'), 'run')).toBeUndefined();
    expect(pathProblem(t('perVcpu.0.faults > 0'), 'run')).toBeUndefined();
    expect(pathProblem(t('exitStatus == 0'), 'run')).toBeUndefined();
    expect(pathProblem(t('latencyNs.shadowInsrt.p99 < 1'), 'run')).toMatch(/latencyNs has no field "shadowInsrt" \(it has access, shadowInsert/);
    expect(pathProblem(t('latencyNs.shadowInsert < 1'), 'run')).toBe('latencyNs.shadowInsert is an object, not a number');
    expect(pathProblem(t('checks.byInvariant.I9-nothing == 0'), 'run')).toMatch(/checks.byInvariant has no field "I9-nothing"/);
    expect(pathProblem(t('perVcpu.first.faults > 0'), 'run')).toMatch(/perVcpu has no field "first"/);
    // Each kind has its own fields; a sweep's paths are a point's.
    expect(pathProblem(t('stress.violatingRounds == 0'), 'stress')).toBeUndefined();
    expect(pathProblem(t('stress.violatingRounds == 0'), 'run')).toMatch(/has no field "stress"/);
    expect(pathProblem(t('throughput.faultsPerSec > 1'), 'sweep')).toBeUndefined();
  });

  it('checkThresholds names the first bad expression', () => {
    const r = checkThresholds(['counts.accesses > 0', 'counts.acesses > 0'], 'run');
    expect(r.problem?.expr).toBe('counts.acesses > 0');
    expect(r.thresholds.length).toBe(1);
  });
});

describe('evaluation', () => {
  const run = { kind: 'run', counts: { accesses: 100 }, latencyNs: { shadowInsert: { p99: 900 }, rcFixed: null }, checks: { byInvariant: {} } } as unknown as AnyDocument;

  it('pass, fail, a null field (nothing recorded) fails, an invariant with no violation counts 0', () => {
    const r = evaluateThresholds(run, [t('latencyNs.shadowInsert.p99 < 1us'), t('counts.accesses > 1k'), t('latencyNs.rcFixed.p99 < 1us'), t('checks.byInvariant.I5-no-lost-write == 0')]);
    expect(r.map((x) => [x.pass, x.actual])).toEqual([[true, 900], [false, 100], [false, null], [true, 0]]);
    const text = renderThresholds(r, false);
    expect(text).toContain('Thresholds  2 passed, 2 failed');
    expect(text).toContain('pass  latencyNs.shadowInsert.p99 < 1us  (found 900 ns)');
    expect(text).toContain('FAIL  latencyNs.rcFixed.p99 < 1us  (no value: nothing recorded)');
  });

  it('a sweep fails a threshold at its first failing point, and names it', () => {
    const sweep = {
      kind: 'sweep',
      points: [
        { values: { vcpus: '1' }, throughput: { faultsPerSec: 500 } },
        { values: { vcpus: '2' }, throughput: { faultsPerSec: 50 } },
        { values: { vcpus: '4' }, throughput: { faultsPerSec: 5 } },
      ],
    } as unknown as AnyDocument;
    expect(evaluateThresholds(sweep, [t('throughput.faultsPerSec > 100')])).toEqual([{ expr: 'throughput.faultsPerSec > 100', pass: false, actual: 50, at: 'vcpus=2' }]);
    expect(evaluateThresholds(sweep, [t('throughput.faultsPerSec > 1')])[0]).toMatchObject({ pass: true, actual: 5, at: 'vcpus=4' });
  });
});

describe('thresholds on the command line', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nestsim-thresholds-'));
  const nestsim = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  const storm = join(ROOT, 'configs', 'fault-storm.yaml');

  it('run: each threshold printed pass or fail and recorded in the document; a failure exits 1 and names it', () => {
    const out = join(tmp, 'run.json');
    const r = nestsim('run', storm, '--vcpus', '1', '--accesses', '5000', '--json', out, '--threshold', 'checks.violations == 0', '--threshold', 'modeled.faultsPerSec > 1G');
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain('pass  checks.violations == 0  (found 0)');
    expect(r.stdout).toMatch(/FAIL {2}modeled\.faultsPerSec > 1G {2}\(found \d+\)/);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(schemaProblems(doc)).toEqual([]);
    expect(doc.exitStatus).toBe(1);
    expect(doc.thresholds.map((x: { expr: string; pass: boolean }) => [x.expr, x.pass])).toEqual([['checks.violations == 0', true], ['modeled.faultsPerSec > 1G', false]]);
    expect(doc.config.overrides.find((o: { key: string }) => o.key === 'thresholds').from).toBe('--threshold');
  });

  it('all passing: exit 0; a config file\'s thresholds: apply too', () => {
    const cfg = join(tmp, 'th.yaml');
    writeFileSync(cfg, `vcpus: 1\naccesses: 3000\nthresholds:\n  - counts.faultsTotal > 0\n  - modeled.durationNs > 0\n`);
    const r = nestsim('run', cfg, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('a path that names no number field is a config error (exit 2) with where it was written, before anything runs', () => {
    const cfg = join(tmp, 'bad.yaml');
    writeFileSync(cfg, `vcpus: 1\naccesses: 3000\nthresholds:\n  - counts.faultsTotal > 0\n  - latencyNs.shadowInsrt.p99 < 1ms\n`);
    const r = nestsim('run', cfg, '--quiet');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${cfg}:3:1: thresholds: expected a threshold on a number field of the run document`);
    expect(r.stderr).toContain('latencyNs has no field "shadowInsrt"');
    const v = nestsim('validate', cfg);
    expect(v.status).toBe(2);
    const g = nestsim('run', storm, '--threshold', 'counts.accesses < 5ms');
    expect(g.status).toBe(2);
    expect(g.stderr).toContain('"ms" is a time unit, but counts.accesses is not a time field');
    expect(g.stderr).not.toMatch(/\n\s+at /);
  });

  it('stress judges its own document', () => {
    const r = nestsim('stress', join(ROOT, 'configs', 'stress.yaml'), '--iterations', '1', '--set', 'accesses=2000', '--quiet', '--threshold', 'stress.violatingRounds == 0', '--threshold', 'stress.rounds >= 2');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('FAIL  stress.rounds >= 2  (found 1)');
    // --quiet shows the failures only, but the tally counts every threshold (was: "0 passed, 1 failed").
    expect(r.stderr).toContain('Thresholds  1 passed, 1 failed');
    expect(r.stderr).not.toContain('pass  stress.violatingRounds');
  });
});
