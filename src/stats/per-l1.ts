/**
 * The results' `perL1` section: each L1's share of a run (`l1.count`), beside the totals. vCPU v
 * runs in L1 v mod l1.count, so an L1's accesses, faults and lock waits are its vCPUs'; what its
 * locks saw (holds by any thread) and the violations found in it are read from the machine.
 */
import { COUNTER } from './counters.js';
import { totalFaults } from './kinds.js';

/** What the engine reads from the machine for one L1 (plain data: this layer sees no machine). */
export interface PerL1Input {
  /** L0's lpid for it. */
  lpid: number;
  /** Holds of its mmu_lock and of its nested guests' tlb_locks since the machine was built, by any thread. */
  mmuLockHolds: number;
  tlbLockHolds: number;
  /** Violations found in it (online or by an audit). */
  violations: number;
}

export interface PerL1 {
  l1: number;
  lpid: number;
  /** Its vCPUs, in order. */
  vcpus: number[];
  accesses: number;
  faults: number;
  tlbMisses: number;
  /** Its vCPUs' acquisitions of mmu_lock (measured part of the run), contended ones and wall-clock wait. */
  mmuLockAcquisitions: number;
  mmuLockContended: number;
  mmuLockWaitNs: number;
  /** Holds of this L1's mmu_lock and tlb_locks by any thread since the machine was built (warm-up included). */
  mmuLockHolds: number;
  tlbLockHolds: number;
  violations: number;
}

/** One entry per L1 from the per-vCPU counter blocks (vCPU order) and what the machine says of each L1. */
export function buildPerL1(l1s: readonly PerL1Input[], perVcpu: readonly Float64Array[]): PerL1[] {
  const n = l1s.length;
  return l1s.map((x, l1) => {
    const vcpus: number[] = [];
    for (let v = l1; v < perVcpu.length; v += n) vcpus.push(v);
    const sum = (c: number): number => vcpus.reduce((s, v) => s + (perVcpu[v]![c] ?? 0), 0);
    return {
      l1,
      lpid: x.lpid,
      vcpus,
      accesses: sum(COUNTER.accesses),
      faults: vcpus.reduce((s, v) => s + totalFaults(perVcpu[v]!), 0),
      tlbMisses: sum(COUNTER.tlbMisses),
      mmuLockAcquisitions: sum(COUNTER.mmuLockAcq),
      mmuLockContended: sum(COUNTER.mmuLockContended),
      mmuLockWaitNs: Math.round(sum(COUNTER.mmuLockWaitNs)),
      mmuLockHolds: x.mmuLockHolds,
      tlbLockHolds: x.tlbLockHolds,
      violations: x.violations,
    };
  });
}
