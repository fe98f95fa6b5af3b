/**
 * Every protection of the protocol matters: with `configs/stress.yaml` (short, hot, racy rounds on
 * real worker threads), removing any one of them (a mutation, docs/model.md §6.4) is caught by
 * the invariant the catalogue names, within a bounded number of rounds; the intact protocol and
 * the benign control (M15 skip-pfn-check) stay clean.
 *
 * Detection is a race, so it is probabilistic: each mutation gets a round budget far above the
 * rounds it needs in practice (docs/mutations.md has the measured medians), so a miss is
 * negligible; seeds are fixed, so a failure can be repeated with the printed `repro` command.
 * Assertions are on invariants and counts only, never on timing. Needs the build (dist/) for
 * the vCPU workers, like every test that starts the pool.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../../src/workload/config.js';
import { runStress } from '../../src/engine/stress.js';
import type { StressDocument } from '../../src/stats/document.js';
import type { Mutation } from '../../src/workload/types.js';

const CONFIG = join(__dirname, '..', '..', 'configs', 'stress.yaml');

/** Which invariants may name each mutation (the first is the catalogue's), and a round budget. */
const CAUGHT: ReadonlyArray<{ m: Mutation; id: string; by: readonly string[]; rounds: number }> = [
  { m: 'skip-mmu-seq-check', id: 'M1', by: ['I1-no-stale-shadow', 'I5-no-lost-write', 'I3-dirty-chain', 'I6-dirty-log'], rounds: 30 },
  { m: 'skip-rmap', id: 'M2', by: ['I1-no-stale-shadow', 'I5-no-lost-write', 'I6-dirty-log', 'I3-dirty-chain'], rounds: 30 },
  // M3 reopens the P5 window too (the harvest's seq++ is the invalidation that most often falls
  // between the lookup and the late read), so I6/I3 usually come first; I1/I5 when a host unmap does.
  { m: 'late-seq-read', id: 'M3', by: ['I6-dirty-log', 'I3-dirty-chain', 'I1-no-stale-shadow', 'I5-no-lost-write'], rounds: 30 },
  { m: 'skip-tlb-lock', id: 'M4', by: ['I2-permissions', 'I3-dirty-chain', 'I1-no-stale-shadow', 'I5-no-lost-write'], rounds: 30 },
  // M5/M6 lose the C bit the hardware sets in L0's table for L1 (hardware.l1Rc: auto, L1's own
  // stores) between their read and write: the page is missing from the next harvest (I6), or,
  // for M5's aging, L1's TLB entry keeps a C its leaf lost (I4 at the next audit).
  { m: 'nonatomic-rc', id: 'M5', by: ['I6-dirty-log', 'I4-tlb'], rounds: 30 },
  { m: 'nonatomic-unmap', id: 'M6', by: ['I6-dirty-log'], rounds: 30 },
  { m: 'skip-tlb-flush', id: 'M7', by: ['I4-tlb', 'I5-no-lost-write', 'I2-permissions', 'I3-dirty-chain', 'I6-dirty-log'], rounds: 30 },
  { m: 'skip-tlb-flush-on-clean', id: 'M8', by: ['I6-dirty-log', 'I4-tlb'], rounds: 30 },
  { m: 'ignore-l1-rc', id: 'M9', by: ['I3-dirty-chain'], rounds: 30 },
  { m: 'skip-set-rc-check', id: 'M10', by: ['I3-dirty-chain'], rounds: 30 },
  { m: 'split-rc-lock', id: 'M11', by: ['I3-dirty-chain', 'I6-dirty-log'], rounds: 30 },
  { m: 'ignore-l1-perm', id: 'M12', by: ['I2-permissions'], rounds: 30 },
  { m: 'skip-refcount', id: 'M13', by: ['I7-lifetime'], rounds: 30 },
  { m: 'skip-memslot-seq', id: 'M14', by: ['I1-no-stale-shadow', 'I5-no-lost-write', 'I6-dirty-log'], rounds: 30 },
];

/**
 * Clean: the intact protocol and the benign control; and the mutation that has nothing to break
 * in this model (docs/mutations.md, "Not detectable"): M16 drops INVAL, but L0 merges the
 * permission L1 grants into the stale leaf on the next fault, so nothing loops. If it starts
 * failing, the model gained a stuck path: move it to CAUGHT.
 */
const CLEAN: ReadonlyArray<{ name: string; mutations: Mutation[]; rounds: number }> = [
  { name: 'intact protocol (fixed)', mutations: [], rounds: 6 },
  { name: 'M15 skip-pfn-check (benign control: only spurious unmaps)', mutations: ['skip-pfn-check'], rounds: 6 },
  { name: 'M16 skip-inval (the stale leaf is merged, not looped on)', mutations: ['skip-inval'], rounds: 3 },
];

function stressConfig(mutations: readonly Mutation[]) {
  const base = loadConfig(CONFIG);
  return mutations.length > 0 ? applyOverrides(base, { mutation: [...mutations] }) : base;
}

function describeFirst(r: StressDocument): string {
  if (!r.firstViolation) return 'no violation';
  return `${r.firstViolation.violations.map((v) => `[${v.invariant}] ${v.message}`).join('\n')}\nrepeat it: ${r.firstViolation.replayLine}`;
}

describe('mutations are caught on configs/stress.yaml', () => {
  for (const c of CAUGHT) {
    it(
      `${c.id} ${c.m}: caught by ${c.by[0]} (or ${c.by.slice(1).join(', ') || '-'}) within ${c.rounds} rounds`,
      async () => {
        const r = await runStress(stressConfig([c.m]), { rounds: c.rounds, timeMs: 0, stopAtFirst: true });
        // violatingRounds > 0 is what makes `nestsim stress` exit 1.
        expect(r.stress.violatingRounds, `${c.m}: not caught in ${r.stress.rounds} rounds`).toBeGreaterThan(0);
        const seen = r.firstViolation!.violations.map((v) => v.invariant);
        expect(seen.some((n) => c.by.includes(n)), `${c.m} caught by an unexpected invariant:\n${describeFirst(r)}`).toBe(true);
        const violated = Object.entries(r.outcomes)
          .filter(([, v]) => v.violated > 0)
          .map(([n]) => n);
        expect(violated.some((n) => c.by.includes(n))).toBe(true);
        // A livelock report would mean the checker, not the mutation, is wrong.
        expect(violated, describeFirst(r)).not.toContain('liveness');
      },
      120_000,
    );
  }
});

describe('clean on configs/stress.yaml', () => {
  for (const c of CLEAN) {
    it(
      `${c.name}: ${c.rounds} rounds, no violation`,
      async () => {
        const cfg = stressConfig(c.mutations);
        const r = await runStress(cfg, { rounds: c.rounds, timeMs: 0 });
        expect(r.stress.rounds).toBe(c.rounds);
        expect(r.stress.violatingRounds, describeFirst(r)).toBe(0);
        expect(r.stress.accesses).toBe(c.rounds * cfg.vcpus * cfg.accesses);
      },
      120_000,
    );
  }
});

describe('mutations under protocol: mainline (configs/stress-mainline.yaml) are unexplained violations', () => {
  const MAINLINE = join(__dirname, '..', '..', 'configs', 'stress-mainline.yaml');
  for (const c of CAUGHT) {
    it(
      `${c.id} ${c.m}: a round with a violation no kernel window's code path produced (what makes stress and run exit 1)`,
      async () => {
        const cfg = applyOverrides(loadConfig(MAINLINE), { mutation: [c.m] });
        const r = await runStress(cfg, { rounds: c.rounds, timeMs: 0, stopAtFirst: true });
        // violatingRounds counts rounds with a violation no window's code path tagged (exit 1).
        expect(r.stress.violatingRounds, `${c.m} under mainline: no unexplained violation in ${r.stress.rounds} rounds`).toBeGreaterThan(0);
      },
      120_000,
    );
  }
});
