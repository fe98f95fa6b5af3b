/**
 * Shards of a stress campaign (`stress --iterations R --shard i/N`, or from a Slurm array or a
 * Kubernetes Indexed Job) and `nestsim merge`: the merged shards are the campaign run whole, a
 * missing shard is named, a duplicate or a different config is refused.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shardOf } from '../../src/cli/documents.js';
import { parseArgs } from '../../src/cli/args.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { schemaProblems } from '../helpers/schema.js';

describe('which shard a stress campaign runs', () => {
  const p = (...args: string[]) => parseArgs(['stress', 'x.yaml', ...args]);
  it('--shard i/N wins; else a Slurm array task; else a Kubernetes Indexed Job with --shards N', () => {
    expect(shardOf(p('--shard', '2/4'), { SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_COUNT: '10' })).toEqual({ index: 2, count: 4 });
    expect(shardOf(p(), { SLURM_ARRAY_TASK_ID: '12', SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_COUNT: '5' })).toEqual({ index: 2, count: 5 });
    expect(shardOf(p('--shards', '8'), { JOB_COMPLETION_INDEX: '7' })).toEqual({ index: 7, count: 8 });
    expect(shardOf(p(), {})).toBeUndefined();
  });
  it('bad shards are usage errors that say what was expected', () => {
    expect(() => shardOf(p('--shard', '4/4'), {})).toThrow('--shard: expected a shard i/N with 0 <= i < N, found 4/4');
    expect(() => shardOf(p('--shard', 'two'), {})).toThrow('--shard: expected i/N (0-based, like 0/4), found "two"');
    expect(() => shardOf(p(), { JOB_COMPLETION_INDEX: '1' })).toThrow('expected --shards N');
    expect(() => shardOf(p('--shards', '3'), {})).toThrow('--shards: expected JOB_COMPLETION_INDEX');
  });
});

describe('nestsim merge', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nestsim-merge-'));
  const nestsim = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const campaign = ['stress', join(ROOT, 'configs', 'stress.yaml'), '--mutation', 'skip-tlb-flush', '--iterations', '5', '--no-fail-fast', '--set', 'accesses=2000', '--quiet'];
  const round = (r: { round: number; seed: number; accesses: number; exitStatus: number }) => [r.round, r.seed, r.accesses, r.exitStatus];

  it('the shards of a campaign (a Slurm array here) merge into the campaign run whole; a missing shard is named; a duplicate is refused', () => {
    const dir = join(tmp, 'shards');
    mkdirSync(dir);
    for (const id of ['3', '4']) {
      const r = nestsim({ SLURM_ARRAY_TASK_ID: id, SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_COUNT: '2' }, ...campaign, '--json', join(dir, `shard${id}.json`));
      expect(r.status, r.stderr).toBe(1);
    }
    const whole = join(tmp, 'whole.json');
    expect(nestsim({}, ...campaign, '--json', whole).status).toBe(1);
    const out = join(tmp, 'merged.json');
    const m = nestsim({}, 'merge', dir, '--json', out);
    expect(m.status, m.stderr).toBe(1);
    expect(m.stdout).toContain('merged 2 of 2 shards');
    const merged = JSON.parse(readFileSync(out, 'utf8'));
    const w = JSON.parse(readFileSync(whole, 'utf8'));
    expect(schemaProblems(merged)).toEqual([]);
    expect(merged.rounds.map(round)).toEqual(w.rounds.map(round));
    expect(merged.stress).toMatchObject({ rounds: 5, violatingRounds: w.stress.violatingRounds, accesses: w.stress.accesses });
    expect(merged.detection).toMatchObject({ rounds: 5, detected: w.detection.detected });
    expect(merged.shard).toEqual({ count: 2, merged: [0, 1], missing: [] });
    expect(merged.firstViolation.round).toBe(0);

    const dup = nestsim({}, 'merge', join(dir, 'shard3.json'), join(dir, 'shard3.json'));
    expect(dup.status).toBe(2);
    expect(dup.stderr).toContain('shard 0/2 appears twice');

    unlinkSync(join(dir, 'shard3.json'));
    const part = nestsim({}, 'merge', dir, '--quiet');
    expect(part.stdout).toContain('merged 1 of 2 shards; MISSING shards 0 (their rounds are absent)');
  }, 120_000);

  it('refuses a whole campaign, another config, and a time-bounded campaign cut into shards', () => {
    const a = join(tmp, 'a.json');
    const b = join(tmp, 'b.json');
    expect(nestsim({}, ...campaign, '--shard', '0/2', '--json', a).status).toBe(1);
    expect(nestsim({}, ...campaign, '--shard', '1/2', '--set', 'workload.writeRatio=0.123', '--json', b).status).toBe(1);
    const mixed = nestsim({}, 'merge', a, b);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain(`${b}: expected the config of ${a}, found another (--allow-mixed merges anyway)`);
    expect(nestsim({}, 'merge', a, b, '--allow-mixed', '--quiet').status).toBe(1);
    const whole = join(tmp, 'w.json');
    nestsim({}, ...campaign, '--json', whole);
    expect(nestsim({}, 'merge', whole).stderr).toContain('expected a shard (written by stress --shard i/N), found a whole campaign');
    const timed = nestsim({}, 'stress', join(ROOT, 'configs', 'stress.yaml'), '--time', '1s', '--shard', '0/2');
    expect(timed.status).toBe(2);
    expect(timed.stderr).toContain('--shard: expected a count-bounded campaign (--iterations R)');
  }, 120_000);
});

describe('nestsim merge of a sweep cut into shards', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nestsim-merge-sweep-'));
  const nestsim = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  // One vCPU per point: every point is deterministic, so the merge must equal the whole sweep.
  const sweep = ['sweep', join(ROOT, 'configs', 'fault-storm.yaml'), '--vcpus', '1', '--accesses', '2000', '--set', 'seed=1,2,3', '--set', 'cost.exitCycles=4700,9400', '--quiet'];
  const point = (p: Record<string, unknown>) => ({ values: p.values, exitStatus: p.exitStatus, replay: p.replay, counts: p.counts, modeled: p.modeled, checks: p.checks, invalidations: p.invalidations });

  it('points p with p % N == i run in shard i; merged, the points are the whole grid in order, identical but for wall-clock figures', () => {
    const dir = join(tmp, 'shards');
    mkdirSync(dir);
    for (const i of [2, 0, 1]) {
      const r = nestsim(...sweep, '--shard', `${i}/3`, '--json', join(dir, `s${i}.json`));
      expect(r.status, r.stderr).toBe(0);
      const d = JSON.parse(readFileSync(join(dir, `s${i}.json`), 'utf8'));
      expect(d.shard).toEqual({ index: i, count: 3 });
      expect(d.points.length).toBe(2);
      expect(schemaProblems(d)).toEqual([]);
    }
    const whole = join(tmp, 'whole.json');
    expect(nestsim(...sweep, '--json', whole).status).toBe(0);
    const out = join(tmp, 'merged.json');
    const m = nestsim('merge', dir, '--json', out);
    expect(m.status, m.stderr).toBe(0);
    expect(m.stdout).toContain('merged 3 of 3 shards');
    expect(m.stdout).toContain('seed cost.exitCycles');
    const merged = JSON.parse(readFileSync(out, 'utf8'));
    const w = JSON.parse(readFileSync(whole, 'utf8'));
    expect(schemaProblems(merged)).toEqual([]);
    expect(w.shard).toBeNull();
    expect(merged.shard).toEqual({ count: 3, merged: [0, 1, 2], missing: [] });
    expect(merged.axes).toEqual(w.axes);
    expect(merged.points.map(point)).toEqual(w.points.map(point));

    unlinkSync(join(dir, 's1.json'));
    const part = nestsim('merge', dir, '--quiet');
    expect(part.stdout).toContain('merged 2 of 3 shards; MISSING shards 1 (their points are absent)');
  }, 120_000);

  it('refuses a shard of another grid, and a stress shard beside a sweep shard', () => {
    const a = join(tmp, 'a.json');
    const b = join(tmp, 'b.json');
    const c = join(tmp, 'c.json');
    expect(nestsim(...sweep, '--shard', '0/2', '--json', a).status).toBe(0);
    const other = sweep.map((x) => (x === 'seed=1,2,3' ? 'seed=1,2,4' : x));
    expect(nestsim(...other, '--shard', '1/2', '--json', b).status).toBe(0);
    const grid = nestsim('merge', a, b);
    expect(grid.status).toBe(2);
    expect(grid.stderr).toContain(`${b}: expected the grid of ${a} (seed=1,2,3 cost.exitCycles=4700,9400), found seed=1,2,4 cost.exitCycles=4700,9400`);
    expect(nestsim('stress', join(ROOT, 'configs', 'stress.yaml'), '--iterations', '2', '--set', 'accesses=300', '--shard', '1/2', '--quiet', '--json', c).status).toBe(0);
    const mixed = nestsim('merge', a, c);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain(`${c}: expected a sweep document like ${a}, found a stress document`);
  }, 120_000);
});

describe('nestsim merge judges the whole campaign by its thresholds', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nestsim-merge-th-'));
  const nestsim = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  it("the shards' thresholds are judged again on the merge, and merge's own --threshold too; a bad path is exit 2", () => {
    const campaign = ['stress', join(ROOT, 'configs', 'stress.yaml'), '--iterations', '6', '--set', 'accesses=300', '--quiet', '--threshold', 'stress.rounds >= 4'];
    for (const i of [0, 1]) {
      // Each shard holds 3 rounds: its own threshold fails.
      const r = nestsim(...campaign, '--shard', `${i}/2`, '--json', join(tmp, `s${i}.json`));
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain('FAIL  stress.rounds >= 4  (found 3)');
    }
    const out = join(tmp, 'merged.json');
    const m = nestsim('merge', join(tmp, 's0.json'), join(tmp, 's1.json'), '--json', out);
    expect(m.status, m.stdout + m.stderr).toBe(0);
    expect(m.stdout).toContain('pass  stress.rounds >= 4  (found 6)');
    expect(JSON.parse(readFileSync(out, 'utf8')).thresholds).toEqual([{ expr: 'stress.rounds >= 4', pass: true, actual: 6, at: null }]);
    const f = nestsim('merge', join(tmp, 's0.json'), join(tmp, 's1.json'), '--threshold', 'stress.faults < 1');
    expect(f.status).toBe(1);
    expect(f.stdout).toContain('Thresholds  1 passed, 1 failed');
    const bad = nestsim('merge', join(tmp, 's0.json'), join(tmp, 's1.json'), '--threshold', 'stress.nothing < 1');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--threshold "stress.nothing < 1": expected a threshold on a number field of the stress document');
  }, 120_000);
});
