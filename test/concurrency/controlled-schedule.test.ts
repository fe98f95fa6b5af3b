/**
 * Controlled schedules on the simulator (docs/schedules.md): the vCPU threads run one at a time
 * between named schedule points, so a run is a function of its config and seed: counts, the
 * violations and the schedule itself are the same every time, on real worker threads. A race a
 * controlled stress campaign finds replays from its token to the same first violation, every
 * time. Needs the build (dist/) for the vCPU workers. Assertions are on counts and outcomes only.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { applyOverrides, ConfigError, loadConfig } from '../../src/workload/config.js';
import { runSimulation } from '../../src/engine/run.js';
import { runStress } from '../../src/engine/stress.js';
import { replayToken } from '../../src/cli/replay.js';
import { decodeToken, unpackChoices } from '../../src/stats/schedule.js';
import type { RunDocument } from '../../src/stats/document.js';

const STRESS = join(__dirname, '..', '..', 'configs', 'stress.yaml');

function controlled(strategy: string, extra: Record<string, string | string[]> = {}) {
  return applyOverrides(loadConfig(STRESS), { vcpus: '2', accesses: '1200', 'schedule.strategy': strategy, ...extra });
}

/** What must not change between two runs of one controlled schedule (wall-clock figures aside). */
function fingerprint(d: RunDocument): unknown {
  const s = d.schedule!;
  return {
    counts: d.counts,
    checks: d.checks,
    violations: d.violations.map((v) => [v.invariant, v.vcpu, v.message]),
    schedule: [s.outcome, s.points, s.decisions, s.switches, s.preemptions, s.timeline],
    modeled: d.modeled === null ? null : [d.modeled.durationNs, d.modeled.faultsPerSec, d.modeled.breakdown],
  };
}

describe('controlled schedules', () => {
  for (const strategy of ['random', 'pct', 'modeled']) {
    it(`${strategy}: two runs of one seed are the same run (counts, violations, schedule, modeled time)`, async () => {
      const cfg = controlled(strategy);
      const a = await runSimulation(cfg);
      const b = await runSimulation(cfg);
      expect(a.doc.schedule?.outcome).toBe('completed');
      expect(a.doc.schedule!.points).toBeGreaterThan(1000);
      expect(fingerprint(b.doc)).toEqual(fingerprint(a.doc));
      // The skew bound is off: one thread runs at a time.
      expect(a.doc.config.overrides).toContainEqual(expect.objectContaining({ key: 'cost.skewCycles', value: 0 }));
    });
  }

  it('another seed is another schedule', async () => {
    const a = await runSimulation(controlled('random', { seed: '5' }));
    const b = await runSimulation(controlled('random', { seed: '6' }));
    expect(fingerprint(b.doc)).not.toEqual(fingerprint(a.doc));
  });

  it('a mutation found by controlled stress replays from its token to the same first violation, 20 times of 20', async () => {
    const doc = await runStress(controlled('random', { mutation: ['skip-rmap'] }), { rounds: 50, timeMs: 0, stopAtFirst: true });
    const first = doc.firstViolation;
    expect(first, 'skip-rmap caught within 50 controlled rounds').not.toBeNull();
    const sched = first!.schedule!;
    expect(sched.timelineAt).toBe('first-violation');
    const token = decodeToken(sched.token);
    expect(token.first).toEqual({ invariant: first!.violations[0]!.invariant, vcpu: first!.violations[0]!.vcpu, message: first!.violations[0]!.message });
    for (let k = 0; k < 20; k++) {
      const r = await replayToken(sched.token);
      expect(r.reproduced, `replay ${k}: expected ${JSON.stringify(r.expected)}, found ${JSON.stringify(r.found)}`).toBe(true);
      expect(r.configChanged).toBe(false);
    }
    // With its list of choices: followed to the end, no divergence.
    const withChoices = await replayToken(sched.choicesToken!);
    expect(withChoices.reproduced).toBe(true);
    expect(withChoices.doc.schedule!.diverged).toBeNull();
    expect(unpackChoices(decodeToken(sched.choicesToken!).choices!).length).toBeGreaterThan(0);
  });

  it('a controlled schedule refuses what would make it depend on the wall clock', () => {
    expect(() => applyOverrides(loadConfig(STRESS), { accesses: '0', duration: '1s', 'schedule.strategy': 'random' })).toThrow(ConfigError);
    expect(() => applyOverrides(loadConfig(STRESS), { accesses: '0', duration: '1s', 'schedule.strategy': 'random' })).toThrow(/bounded by (work|accesses)/);
    expect(() => applyOverrides(loadConfig(STRESS), { warmup: '1s', 'schedule.strategy': 'pct' })).toThrow(/warm-up|count of accesses/);
  });

  it('exhaustive: a tiny run of the intact protocol is searched to the end within one preemption, clean, the same way twice', async () => {
    const cfg = applyOverrides(loadConfig(STRESS), { vcpus: '2', accesses: '8', 'guests.count': '1', 'schedule.strategy': 'exhaustive', 'schedule.preemptions': '1' });
    const a = await runStress(cfg, { rounds: 3000, timeMs: 0 });
    const b = await runStress(cfg, { rounds: 3000, timeMs: 0 });
    expect(a.exploration).toEqual({ preemptionBound: 1, schedules: a.stress.rounds, exhausted: true });
    expect(a.stress.rounds).toBeGreaterThan(10);
    expect(a.stress.violatingRounds).toBe(0);
    expect(b.exploration).toEqual(a.exploration);
    expect(b.rounds.map((r) => [r.accesses, r.faults, r.violations])).toEqual(a.rounds.map((r) => [r.accesses, r.faults, r.violations]));
  });
});
