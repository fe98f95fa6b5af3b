/**
 * The schema of a run's `perL1` section (stats/per-l1.ts): each L1's share of the run.
 */
import { arr, count, obj } from './schema-build.js';

export const PER_L1 = arr(
  'One entry per L1 guest (l1.count), in L1 order. vCPU v runs in L1 v mod l1.count; every L1 has its own mmu_lock, memslots, table, nested guests and actors.',
  obj('One L1.', {
    l1: count('L1 number.', 'index'),
    lpid: count("L0's lpid for it (the tag of its own TLB entries).", 'lpid'),
    vcpus: arr('Its vCPUs, in order.', count('vCPU number.', 'index')),
    accesses: count("Its vCPUs' accesses."),
    faults: count("Its vCPUs' faults (every kind)."),
    tlbMisses: count("Its vCPUs' TLB misses."),
    mmuLockAcquisitions: count("Its vCPUs' acquisitions of mmu_lock (after warm-up): with one mmu_lock per L1, all of them are of its own."),
    mmuLockContended: count('Of those, the ones that waited.'),
    mmuLockWaitNs: count("Its vCPUs' wall time waiting for mmu_lock.", 'ns'),
    mmuLockHolds: count("Holds of this L1's mmu_lock by any thread since the machine was built (warm-up included): equal to its own vCPUs' acquisitions when no other L1's vCPU takes it."),
    tlbLockHolds: count("Holds of its nested guests' tlb_locks by any thread since the machine was built."),
    violations: count('Violations found in it (online, or by an audit of it).'),
  }),
);
