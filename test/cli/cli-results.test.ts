/**
 * The results documents as the built command line writes them: one header for run, stress and
 * sweep, validated against the shipped schema (here and, through NESTSIM_SELF_CHECK, inside the
 * command itself), a time series, and a stress replay that rebuilds the failing round exactly.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaProblems } from '../helpers/schema.js';
import { SCHEMA_VERSION } from '../../src/stats/document.js';

import { CLI, ROOT } from '../helpers/cli.js';
const STRESS = join(ROOT, 'configs', 'stress.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'nestsim-results-'));

function nestsim(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, cwd: tmp });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function readDoc(file: string): Record<string, any> {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
  expect(schemaProblems(doc)).toEqual([]);
  return doc;
}

const SMALL = join(tmp, 'small.yaml');
writeFileSync(SMALL, 'seed: 3\nvcpus: 2\nguests: {count: 2, memory: 16M}\nl1: {memory: 256M}\nhost: {memory: 512M}\nworkload: {workingSet: 2M}\n');

/** The commit checked out at the repository root, when it is a git checkout. */
function headCommit(): string | undefined {
  if (!existsSync(join(ROOT, '.git'))) return undefined;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

describe('run document', () => {
  it('carries the header, a time series with one point per progress interval, and null for kinds never timed', () => {
    const out = join(tmp, 'run.json');
    const html = join(tmp, 'run.html');
    const args = ['run', SMALL, '--duration', '1s', '--set', 'workload.pattern=zipf', '--json', out, '--html', html, '--quiet'];
    const r = nestsim(...args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = readDoc(out);
    expect(doc.schemaVersion).toBe(SCHEMA_VERSION);
    expect(doc.kind).toBe('run');
    expect(doc.command).toEqual(['nestsim', ...args]);
    expect(Date.parse(doc.startedAt)).not.toBeNaN();
    expect(doc.startedAt).toMatch(/Z$/);
    expect(doc.host.cpus).toBeGreaterThanOrEqual(1);
    expect(doc.host.cpuModel).not.toBe('');
    const sha = headCommit();
    if (sha !== undefined) expect(doc.gitCommit).toBe(sha);
    expect(doc.exitStatus).toBe(0);
    expect(doc.interrupted).toBe(false);
    expect(doc.config.overrides).toEqual(
      expect.arrayContaining([
        { key: 'seed', value: 3, from: `${SMALL}:1` },
        { key: 'duration', value: 1000, from: '--duration' },
        { key: 'workload.pattern', value: 'zipf', from: '--set' },
      ]),
    );
    // A 1 s run sampled every 100 ms: several points, evenly spaced, cumulative, the last one the totals.
    const pts = doc.timeSeries.points as Array<{ tMs: number; accesses: number; faultsTotal: number }>;
    expect(doc.timeSeries.intervalMs).toBe(100);
    expect(pts.length).toBeGreaterThanOrEqual(4);
    expect(pts[0]).toMatchObject({ tMs: 0, accesses: 0 });
    for (let i = 1; i < pts.length; i++) {
      expect(pts[i].tMs).toBeGreaterThan(pts[i - 1].tMs);
      expect(pts[i].accesses).toBeGreaterThanOrEqual(pts[i - 1].accesses);
    }
    expect(pts[pts.length - 1]).toMatchObject({ accesses: doc.counts.accesses, faultsTotal: doc.counts.faultsTotal });
    // No DSI in this workload: its histogram is null, not zeros.
    expect(doc.latencyNs.dsi).toBeNull();
    // Every frequent fault kind was timed. First touches alternate reflected and hostInstantiate:
    // a fixed 1-in-16 stride timed only one of the two (was: reflected never timed).
    expect(doc.config.stats.faultSample).toBe(16);
    for (const [kind, n] of Object.entries(doc.counts.faults as Record<string, number>)) {
      if (n >= 16 * 20) expect(doc.latencyNs[kind]?.buckets.length, `${kind}: ${n} faults, none timed`).toBeGreaterThan(0);
    }
    expect(doc.counts.faults.reflected).toBeGreaterThanOrEqual(16 * 20);
    expect(doc.perVcpu).toHaveLength(2);
    const page = readFileSync(html, 'utf8');
    for (const chart of ['latency-cdf', 'throughput-time', 'faults-time', 'fault-kinds', 'vcpu-accesses']) expect(page).toContain(`data-chart="${chart}"`);
    expect(page).not.toContain('<script');
  });
});

describe('stress document', () => {
  // One vCPU makes a round's counts a function of its config and seed, so the replay can be
  // checked count for count. skip-set-rc-check breaks I3 in every round. Every round runs to its
  // end (--no-fail-fast), as the replay does.
  const args = ['stress', STRESS, '--vcpus', '1', '--mutation', 'skip-set-rc-check', '--fix', 'p1', '--protocol', 'fixed', '--set', 'workload.writeRatio=0.4', '--set', 'accesses=6000', '--iterations', '3', '--seed', '40', '--no-fail-fast'];

  it('one record per round, the outcome per invariant, and a replay with every --vcpus, --set, --fix, --mutation and --protocol (was: --set, --vcpus and --fix dropped)', () => {
    const out = join(tmp, 'stress.json');
    const html = join(tmp, 'stress.html');
    const r = nestsim(...args, '--json', out, '--html', html);
    expect(r.code).toBe(1);
    const doc = readDoc(out);
    expect(doc.kind).toBe('stress');
    expect(doc.exitStatus).toBe(1);
    expect(doc.stress).toMatchObject({ rounds: 3, roundsRequested: 3, timeBudgetMs: null, violatingRounds: 3, mutations: ['skip-set-rc-check'] });
    expect(doc.rounds.map((x: { round: number; seed: number }) => [x.round, x.seed])).toEqual([[0, 40], [1, 41], [2, 42]]);
    expect(doc.rounds.every((x: { accesses: number }) => x.accesses === 6000)).toBe(true);
    expect(doc.outcomes['I3-dirty-chain']).toMatchObject({ violated: 3, clean: 0 });
    const first = doc.firstViolation;
    expect(first.round).toBe(0);
    // Stress rounds run with free modeled clocks (cost.skewCycles 0) unless the config sets the
    // bound; the replay runs the round as it ran.
    expect(first.replay).toEqual(['run', STRESS, '--vcpus', '1', '--protocol', 'fixed', '--mutation', 'skip-set-rc-check', '--fix', 'p1', '--set', 'workload.writeRatio=0.4', '--accesses', '6000', '--set', 'cost.skewCycles=0', '--seed', '40']);
    expect(first.replayLine).toBe(`nestsim ${first.replay.join(' ')}`);
    expect(r.stdout).toContain(`repeat it: ${first.replayLine}`);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('data-chart="stress-rounds"');
    expect(page).toContain(first.replayLine);
  });

  it('the replay rebuilds the failing round: the same accesses, faults and violations', () => {
    const out = join(tmp, 'stress2.json');
    nestsim(...args, '--json', out, '--quiet');
    const doc = readDoc(out);
    const round = doc.rounds[0];
    const replayOut = join(tmp, 'replay.json');
    const r = nestsim(...doc.firstViolation.replay, '--json', replayOut, '--quiet');
    expect(r.code).toBe(1);
    const run = readDoc(replayOut);
    expect(run.run.seed).toBe(round.seed);
    expect([run.counts.accesses, run.counts.faultsTotal, run.checks.violations, run.checks.byInvariant]).toEqual([round.accesses, round.faults, round.violations, round.byInvariant]);
  });
});

describe('sweep document', () => {
  it('records the axes and one run body per point, and its report plots each figure against the swept key', () => {
    const out = join(tmp, 'sweep.json');
    const html = join(tmp, 'sweep.html');
    const r = nestsim('sweep', SMALL, '--set', 'workload.writeRatio=0,0.3', '--accesses', '2000', '--json', out, '--html', html, '--quiet');
    expect(r.code).toBe(0);
    const doc = readDoc(out);
    expect(doc.kind).toBe('sweep');
    expect(doc.points).toHaveLength(2);
    expect(doc.points[0].counts.stores).toBe(0);
    expect(doc.points[1].counts.stores).toBeGreaterThan(0);
    expect(doc.points[1].timeSeries.points.length).toBeGreaterThanOrEqual(2);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('data-chart="sweep-faults"');
    expect(page).toContain('faults/s against workload.writeRatio');
    // The terminal table's latency columns are the same fault kind the report plots.
    const kind = /Latency figures are of (.+?) faults, the kind timed most often/.exec(page)?.[1];
    expect(kind).toBeDefined();
    const header = r.stdout.split('\n')[0];
    expect(header).toContain(kind === 'shadow insert' ? 'insert p50' : `${kind} p50`);
  });
});

describe('stress --fail-fast: the verdict in a blink', () => {
  it('with a mutation it is the default: the round stops at its first failing violation and no other round starts', () => {
    const out = join(tmp, 'ff.json');
    const r = nestsim('stress', STRESS, '--mutation', 'skip-tlb-flush', '--iterations', '5', '--seed', '3', '--json', out, '--quiet');
    expect(r.code).toBe(1);
    const doc = readDoc(out);
    expect(doc.stress).toMatchObject({ failFast: true, rounds: 1, violatingRounds: 1 });
    expect(doc.rounds[0].stoppedAtViolation).toBe(true);
    // Stopped early: fewer accesses than the round's budget (4 vCPUs x 20,000).
    expect(doc.rounds[0].accesses).toBeLessThan(4 * 20_000);
    expect(doc.rounds[0].unexplained).toBeGreaterThan(0);
  });

  it('--no-fail-fast runs every round; --fail-fast and --no-fail-fast together are refused', () => {
    const out = join(tmp, 'noff.json');
    const r = nestsim('stress', STRESS, '--mutation', 'skip-tlb-flush', '--set', 'accesses=3000', '--iterations', '2', '--no-fail-fast', '--json', out, '--quiet');
    expect(r.code).toBe(1);
    const doc = readDoc(out);
    expect(doc.stress).toMatchObject({ failFast: false, rounds: 2 });
    expect(doc.rounds.every((x: { stoppedAtViolation: boolean; accesses: number }) => !x.stoppedAtViolation && x.accesses === 4 * 3000)).toBe(true);
    const both = nestsim('stress', STRESS, '--fail-fast', '--no-fail-fast');
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('nestsim: stress: expected one of --fail-fast and --no-fail-fast, found both');
  });
});
