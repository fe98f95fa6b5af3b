/**
 * Several L1 guests (`l1.count`) on real worker threads: each L1 has its own mmu_lock, memslots,
 * L0 table, invalidation sequence, nested guests and actors; vCPU v runs in L1 v mod l1.count;
 * the host (frames, swap, the host lock) is shared. Asserted on counts and invariants only:
 * every lock of an L1 is held exactly as often as that L1's own vCPUs took it (so no vCPU ever
 * took another L1's), each L1's share adds up to the totals, the audits check every L1 and each
 * violation names the L1 it was found in.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../src/workload/config.js';
import { runSimulation } from '../../src/engine/run.js';
import type { RunDocument } from '../../src/stats/document.js';
import { EVERY_ACTOR } from '../helpers/busy.js';

/** Two L1s of two vCPUs each, two nested guests per L1, every actor on, protocol fixed. */
const TWO_L1S = {
  ...EVERY_ACTOR,
  seed: 21,
  accesses: 15000,
  l1: { ...EVERY_ACTOR.l1, count: 2 },
  audit: { perMillion: 50 },
};

function config(over: Record<string, unknown>): ReturnType<typeof parseConfig> {
  return parseConfig(stringify(over), '<several-l1>');
}

function sum(doc: RunDocument, f: (p: RunDocument['perL1'][number]) => number): number {
  return doc.perL1.reduce((s, p) => s + f(p), 0);
}

describe('several L1 guests (l1.count)', () => {
  it('2 L1s x 2 vCPUs, every actor on: each L1 mmu_lock held only by its own vCPUs, shares add up to the totals, clean', async () => {
    const { doc, exitCode } = await runSimulation(config(TWO_L1S));
    expect(doc.violations).toEqual([]);
    expect(doc.checks.violations).toBe(0);
    expect(doc.checks.lostWrites).toBe(0);
    expect(exitCode).toBe(0);

    expect(doc.perL1.map((p) => p.vcpus)).toEqual([
      [0, 2],
      [1, 3],
    ]);
    // L0 gives each L1 its own lpid (its own TLB entries never match the other's).
    expect(new Set(doc.perL1.map((p) => p.lpid)).size).toBe(2);
    for (const p of doc.perL1) {
      expect(p.accesses).toBe(2 * 15000);
      expect(p.faults).toBeGreaterThan(0);
      expect(p.mmuLockAcquisitions).toBeGreaterThan(0);
      // Counts per lock: this L1's mmu_lock was held exactly as often as its two vCPUs took an
      // mmu_lock. Had a vCPU of the other L1 taken it, its holds would exceed its own vCPUs' count.
      expect(p.mmuLockHolds, `L1 ${p.l1}`).toBe(p.mmuLockAcquisitions);
      expect(p.tlbLockHolds).toBeGreaterThan(0);
      expect(p.violations).toBe(0);
    }
    expect(sum(doc, (p) => p.accesses)).toBe(doc.counts.accesses);
    expect(sum(doc, (p) => p.faults)).toBe(doc.counts.faultsTotal);
    expect(sum(doc, (p) => p.mmuLockAcquisitions)).toBe(doc.locks.mmuLock.acquisitions);
    expect(sum(doc, (p) => p.tlbLockHolds)).toBe(doc.locks.tlbLock.acquisitions);
    // Both L1s' actors ran, and the audits (every L1) ran during the run and at its end.
    expect(doc.actors.migrations).toBeGreaterThan(0);
    expect(doc.actors.l1Unmaps).toBeGreaterThan(0);
    expect(doc.actors.harvests).toBeGreaterThan(0);
    expect(doc.checks.audits).toBeGreaterThan(1);
  });

  it('a mutation is caught in both L1s, and each violation names the L1 of the vCPU that saw it', async () => {
    const { doc } = await runSimulation(config({ ...TWO_L1S, seed: 22, mutations: ['skip-rmap'], stress: { pause: 0.01 } }));
    expect(doc.checks.violations).toBeGreaterThan(0);
    expect(doc.violations.length).toBeGreaterThan(0);
    for (const v of doc.violations) {
      expect(v.l1 === 0 || v.l1 === 1).toBe(true);
      if (v.vcpu >= 0) expect(v.l1).toBe(v.vcpu % 2);
    }
    // Every violation is counted in exactly one L1.
    expect(sum(doc, (p) => p.violations)).toBe(doc.checks.violations);
  });

  it('under a controlled schedule, a run with 2 L1s is the same run every time', async () => {
    const cfg = config({ ...TWO_L1S, seed: 23, accesses: 400, schedule: { strategy: 'random' }, audit: { perMillion: 500 } });
    const a = (await runSimulation(cfg)).doc;
    const b = (await runSimulation(cfg)).doc;
    expect(a.schedule!.points).toBeGreaterThan(0);
    expect(b.schedule!.points).toBe(a.schedule!.points);
    expect(b.perL1).toEqual(a.perL1);
    expect(b.counts).toEqual(a.counts);
    expect(a.checks.violations).toBe(0);
  });

  it('l1.count above vcpus is a config error naming both keys', () => {
    expect(() => config({ vcpus: 2, l1: { count: 3 } })).toThrow(ConfigError);
    expect(() => config({ vcpus: 2, l1: { count: 3 } })).toThrow(/l1\.count.*at most vcpus \(2\)/s);
  });
});
