/**
 * The Slurm path for real: deploy/slurm/single-node.sh brings up a one-node Slurm (Debian's
 * slurm-wlm and munge) on this machine, and the shipped deploy/slurm/campaign.sbatch is submitted
 * as users would: a job array of shards, then a merge job that depends on it with `afterany`.
 *
 * - A deterministic campaign (count-bounded rounds, controlled schedules, no fail-fast) merged
 *   from its Slurm shards equals the same campaign run whole on this machine: rounds, counts,
 *   outcome tables, modeled figures, detection (wall-clock figures aside).
 * - A campaign with one array task cancelled before it ran still merges: the merge job runs
 *   (afterany) and its result names the missing shard.
 *
 * Without slurmctld, or neither root nor password-less sudo, `npm test` skips this file and says why; under CI=true that fails
 * instead (.ci/run installs slurm-wlm and munge), so CI cannot pass by skipping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/cli.js';
import { schemaProblems } from '../helpers/schema.js';

const inCi = process.env.CI === 'true' || process.env.CI === '1';
const hasSlurm = ['slurmctld', 'slurmd', 'sbatch', 'munged'].every((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
const isRoot = process.getuid?.() === 0;
// The daemons run as root: as root, or through sudo without a password.
const sudo = !isRoot && spawnSync('sudo', ['-n', 'true']).status === 0;
const why = !hasSlurm ? 'no slurmctld, slurmd, sbatch or munged on the PATH (apt-get install slurm-wlm munge)' : !isRoot && !sudo ? 'neither root nor password-less sudo (the one-node cluster runs its daemons as root)' : '';

const SCRIPT = join(ROOT, 'deploy', 'slurm', 'single-node.sh');
const SBATCH = join(ROOT, 'deploy', 'slurm', 'campaign.sbatch');
const tmp = mkdtempSync(join(tmpdir(), 'nestsim-slurm-test-'));
const slurmDir = join(tmp, 'cluster');
const env = { ...process.env, NESTSIM_SLURM_DIR: slurmDir, NESTSIM_SLURMCTLD_PORT: '16817', NESTSIM_SLURMD_PORT: '16818', SLURM_CONF: join(slurmDir, 'slurm.conf'), NESTSIM: `${process.execPath} ${CLI}` };

/** A deterministic campaign: every round under a controlled (random) schedule, a mutation so rounds violate. */
const CAMPAIGN = ['stress', join(ROOT, 'configs', 'stress.yaml'), '--schedule', 'random', '--mutation', 'skip-tlb-flush', '--no-fail-fast', '--iterations', '6', '--seed', '11', '--set', 'accesses=400'];

function sh(cmd: string, args: string[], extra: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...env, ...extra }, cwd: ROOT, timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A sweep campaign: one vCPU per point, so every point is deterministic. */
const SWEEP = ['sweep', join(ROOT, 'configs', 'fault-storm.yaml'), '--vcpus', '1', '--accesses', '3000', '--set', 'seed=1,2,3', '--set', 'cost.exitCycles=4700,9400'];

/** Submit the shipped campaign by running the script, as the README says; returns the array and merge job ids. */
function submit(out: string, shards: number, extra: Record<string, string> = {}, campaign: readonly string[] = CAMPAIGN): { array: string; merge: string } {
  const r = sh(SBATCH, [String(shards), out, ...campaign], extra);
  expect(r.status, r.stderr).toBe(0);
  const m = /array job (\d+) \((\d+) shards\), merge job (\d+)/.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  return { array: m![1], merge: m![3] };
}

/** The one-node cluster script, as root. */
function cluster(verb: 'up' | 'down' | 'logs'): { status: number | null; stdout: string; stderr: string } {
  return sudo ? sh('sudo', ['-n', '--preserve-env=NESTSIM_SLURM_DIR,NESTSIM_SLURMCTLD_PORT,NESTSIM_SLURMD_PORT', SCRIPT, verb]) : sh(SCRIPT, [verb]);
}

/** Wait until Slurm has no job left (bounded); on timeout, say what is still queued and show the logs. */
function drain(limitMs: number): void {
  const until = Date.now() + limitMs;
  for (;;) {
    const q = sh('squeue', ['-h', '-o', '%i %T %r']);
    if (q.status === 0 && q.stdout.trim() === '') return;
    if (Date.now() > until) {
      const logs = cluster('logs');
      throw new Error(`jobs still queued after ${limitMs / 1000} s:\n${q.stdout}${q.stderr}\n${logs.stderr}`);
    }
    spawnSync('sleep', ['1']);
  }
}

/** A round without its wall-clock figures. */
function roundKey(r: Record<string, unknown>): Record<string, unknown> {
  const { startMs: _s, durationMs: _d, ...rest } = r;
  return rest;
}

describe.runIf(why !== '' && inCi)('Slurm', () => {
  it('is installed under CI (CI=true)', () => {
    expect.fail(`CI=true but ${why}: .ci/run installs slurm-wlm and munge; a CI run must not pass by skipping the Slurm test`);
  });
});

describe.skipIf(why !== '')(`a campaign on a real one-node Slurm${why === '' ? '' : ` (skipped: ${why})`}`, () => {
  const whole = join(tmp, 'whole.json');
  const full = join(tmp, 'full');
  const partial = join(tmp, 'partial');
  const sweep = join(tmp, 'sweep');
  const wholeSweep = join(tmp, 'whole-sweep.json');

  beforeAll(() => {
    const up = cluster('up');
    expect(up.status, `${up.stdout}\n${up.stderr}`).toBe(0);
    // The same campaign run whole on this machine, while Slurm runs the shards.
    submit(full, 3);
    const held = submit(partial, 3, { NESTSIM_SBATCH_OPTIONS: '--hold' });
    // One array task cancelled before it ran, the others and the merge released.
    expect(sh('scancel', [`${held.array}_1`]).status).toBe(0);
    expect(sh('scontrol', ['release', held.array]).status).toBe(0);
    expect(sh('scontrol', ['release', held.merge]).status).toBe(0);
    submit(sweep, 4, {}, SWEEP);
    const w = sh(process.execPath, [CLI, ...CAMPAIGN, '--quiet', '--json', whole]);
    expect(w.status, w.stderr).toBe(1);
    const ws = sh(process.execPath, [CLI, ...SWEEP, '--quiet', '--json', wholeSweep]);
    expect(ws.status, ws.stderr).toBe(0);
    drain(480_000);
  }, 600_000);

  afterAll(() => {
    if (existsSync(slurmDir)) cluster('down');
  });

  it('the shards a job array wrote merge (afterany job) into exactly the campaign run whole', () => {
    expect(readdirSync(join(full, 'shards')).sort()).toEqual(['shard-0.json', 'shard-1.json', 'shard-2.json']);
    const merged = JSON.parse(readFileSync(join(full, 'merged.json'), 'utf8'));
    const w = JSON.parse(readFileSync(whole, 'utf8'));
    expect(schemaProblems(merged)).toEqual([]);
    expect(merged.shard).toEqual({ count: 3, merged: [0, 1, 2], missing: [] });
    expect(merged.rounds.map(roundKey)).toEqual(w.rounds.map(roundKey));
    expect(merged.outcomes).toEqual(w.outcomes);
    const counts = (d: { stress: Record<string, unknown> }) => {
      const { elapsedMs: _e, ...rest } = d.stress;
      return rest;
    };
    expect(counts(merged)).toEqual(counts(w));
    const { wallMsToDetect: _a, ...detM } = merged.detection;
    const { wallMsToDetect: _b, ...detW } = w.detection;
    expect(detM).toEqual(detW);
    expect(merged.detection.detected).toBeGreaterThan(0);
    expect(merged.firstViolation.round).toBe(w.firstViolation.round);
    expect(merged.exitStatus).toBe(1);
    expect(existsSync(join(full, 'merged.html'))).toBe(true);
  });

  it('a sweep grid cut into 4 array tasks merges into the sweep run whole: every point in grid order, counts and modeled figures identical', () => {
    const merged = JSON.parse(readFileSync(join(sweep, 'merged.json'), 'utf8'));
    const w = JSON.parse(readFileSync(wholeSweep, 'utf8'));
    expect(schemaProblems(merged)).toEqual([]);
    expect(merged.shard).toEqual({ count: 4, merged: [0, 1, 2, 3], missing: [] });
    const point = (p: Record<string, unknown>) => ({ values: p.values, counts: p.counts, modeled: p.modeled, checks: p.checks, invalidations: p.invalidations });
    expect(merged.points.map(point)).toEqual(w.points.map(point));
    expect(merged.points.length).toBe(6);
  });

  it('a cancelled shard: the merge job still runs and its result names the missing shard', () => {
    expect(readdirSync(join(partial, 'shards')).sort()).toEqual(['shard-0.json', 'shard-2.json']);
    const merged = JSON.parse(readFileSync(join(partial, 'merged.json'), 'utf8'));
    expect(merged.shard).toEqual({ count: 3, merged: [0, 2], missing: [1] });
    expect(merged.rounds.map((r: { round: number }) => r.round)).toEqual([0, 2, 3, 5]);
    expect(readFileSync(join(partial, 'logs', 'merge.out'), 'utf8')).toContain('merged 2 of 3 shards; MISSING shards 1');
  });
});
