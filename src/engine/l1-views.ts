/**
 * What the coordinator reads of each L1 after a run: its locks' names (for a controlled run's
 * timeline) and its share for the results' `perL1`.
 */
import type { Machine } from '../memory/machine.js';
import { L1CTRL, LOCK } from '../memory/records.js';
import type { PerL1Input } from '../stats/per-l1.js';
import { lpidOfL1 } from '../hv/context.js';
import { holdsOf } from '../hv/lock-time.js';

/** A lock's name by its word (a controlled run's timeline names the lock of a lock point). */
export function lockNames(m0: Machine, guests: number): (word: number) => string | undefined {
  const names = new Map<number, string>([[m0.hostLockIndex(), 'host']]);
  // With several L1s each lock of an L1 is named with its L1: `L1 1 mmu_lock`.
  const count = m0.L.l1Count;
  for (let k = 0; k < count; k++) {
    const m = m0.forL1(k);
    const of = count > 1 ? `L1 ${k} ` : '';
    names.set(m.lockIndex(LOCK.mmu), `${of}mmu_lock`);
    names.set(m.lockIndex(LOCK.hostTable), `${of}host-tables`);
    names.set(m.lockIndex(LOCK.l1Table), `${of}L1-tables`);
    names.set(m.lockIndex(LOCK.l1), count > 1 ? `L1 ${k}` : 'L1');
    names.set(m.lockIndex(LOCK.slots), `${of}slots_lock`);
    for (let g = 0; g < guests; g++) names.set(m.tlbLockIndex(g), `${of}tlb_lock[${g}]`);
  }
  return (word) => names.get(word);
}

/** What the machine says of each L1 for the results' `perL1`: its lpid, its locks' holds, its violations. */
export function perL1Of(m0: Machine): PerL1Input[] {
  return Array.from({ length: m0.L.l1Count }, (_, k) => {
    const m = m0.forL1(k);
    let tlbLockHolds = 0;
    for (let g = 0; g < m.L.guestCount; g++) tlbLockHolds += holdsOf(m.w, m.tlbLockIndex(g));
    return {
      lpid: lpidOfL1(k),
      mmuLockHolds: holdsOf(m.w, m.lockIndex(LOCK.mmu)),
      tlbLockHolds,
      violations: Atomics.load(m.w, m.l1ctrl(L1CTRL.violations)),
    };
  });
}
