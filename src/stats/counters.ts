/**
 * The named per-worker counter block: COUNTER_COUNT float64 words, one per event kind, indexed by
 * `COUNTER.<name>`. A worker bumps its own block (private, or its slice of shared memory for live
 * progress); the coordinator sums the blocks with `mergeCounters`. Float64 rather than Int32 so
 * nanosecond wait totals and long runs cannot overflow (exact up to 2^53).
 *
 * One counter per branch of the fault path (v86 style): the `fault*` counters are the outcomes of
 * L0's nested fault handler, and every fault increments exactly one of them.
 */

export const COUNTER = {
  // --- accesses (hardware side)
  accesses: 0,
  loads: 1,
  stores: 2,
  fetches: 3,
  tlbHits: 4,
  tlbMisses: 5,
  /** The hardware walk of the shadow table found a usable leaf and filled the TLB (no fault). */
  walkHits: 6,
  // --- fault outcomes (exactly one per fault)
  faultShadowInsert: 7,
  faultHostInstantiate: 8,
  faultReflected: 9,
  faultRcFixed: 10,
  faultRcReflected: 11,
  faultRetried: 12,
  faultMmio: 13,
  faultDsi: 14,
  faultInval: 15,
  faultError: 16,
  /** L1's own handler for L2 ran (after a reflected fault). */
  l1Handled: 17,
  writesCompleted: 18,
  // --- invalidations
  tlbiePage: 19,
  tlbieLpid: 20,
  tlbieAll: 21,
  rptRange: 22,
  hostNotifier: 23,
  shadowPtesRemoved: 24,
  rmapEntriesWalked: 25,
  /** TLB entries dropped by invalidations. */
  tlbFlushes: 26,
  /** Broadcast invalidations this worker waited for. */
  tlbShootdowns: 27,
  // --- locks
  mmuLockAcq: 28,
  mmuLockContended: 29,
  mmuLockWaitNs: 30,
  tlbLockAcq: 31,
  tlbLockContended: 32,
  tlbLockWaitNs: 33,
  // --- actors
  migrations: 34,
  swapOuts: 35,
  swapIns: 36,
  ages: 37,
  harvests: 38,
  harvestDirtyPages: 39,
  memslotFlushes: 40,
  l1Unmaps: 41,
  l1Protects: 42,
  l1Cleans: 43,
  l1RangeFlushes: 44,
  l1LpidFlushes: 45,
  // --- checks
  violations: 46,
  audits: 47,
  // --- actors (added later; indices must stay contiguous)
  l1Destroys: 48,
  // --- L1's own accesses (workload.l1Ratio; added later, indices stay contiguous)
  /** L0's radix page fault for L1 (kvmppc_book3s_radix_page_fault), one per L1 fault. */
  faultL1Direct: 49,
  /** Accesses L1's vCPUs made to L1 memory (also counted in accesses, loads, stores, ...). */
  l1Accesses: 50,
  /** R/C bits the hardware set in L0's table for L1 (hardware.l1Rc: auto). */
  l1HwRcSets: 51,
  // --- host memory (added later; indices stay contiguous)
  /** Nested faults that found no host memory for the L1 page (GUP -EFAULT): the access fails. */
  faultHostOom: 52,
  // --- run phase (for the progress line)
  /** 1 once this vCPU's warm-up is over (its statistics start there). */
  warmedUp: 53,
  // --- actors (added later; indices stay contiguous)
  /** Dirty logging switched on or off (actors.host.dirtyLogToggle). */
  dirtyLogToggles: 54,
  // --- modeled time (cost/model.ts; added later, indices stay contiguous)
  /** Modeled cycles a waiter spent queued for mmu_lock / a tlb_lock (release time minus arrival). */
  mmuLockModeledWait: 55,
  tlbLockModeledWait: 56,
  /** Acquisitions that arrived, in modeled time, before the previous holder took the lock (wall order differed from modeled order). */
  lockInversions: 57,
  /** Times this vCPU slept because its modeled clock ran more than cost.skewCycles ahead of the slowest running vCPU. */
  skewWaits: 58,
  /** The largest lead over the slowest running vCPU this vCPU saw (cycles; a maximum, not a sum). */
  skewMaxCycles: 59,
  /** Modeled cycles by cost category, in COST_CATEGORIES order (cost/model.ts). */
  mcAccess: 60,
  mcWalk: 61,
  mcExit: 62,
  mcL1Walk: 63,
  mcL0Walk: 64,
  mcHost: 65,
  mcPte: 66,
  mcRmap: 67,
  mcTlbie: 68,
  mcLock: 69,
  mcLockWait: 70,
  mcL1: 71,
  mcMmio: 72,
  mcActors: 73,
} as const;

/** Counter index of cost category 0 (`mcAccess`); category k is at MC_BASE + k. */
export const MC_BASE = 60;

export type CounterName = keyof typeof COUNTER;

/** Words in a counter block. */
export const COUNTER_COUNT = Object.keys(COUNTER).length;

/** Names in index order. */
export const COUNTER_NAMES: readonly CounterName[] = Object.freeze(
  (Object.keys(COUNTER) as CounterName[]).sort((a, b) => COUNTER[a] - COUNTER[b]),
);

// The indices are written out so they read as a layout; make a gap or duplicate fail at load.
for (let i = 0; i < COUNTER_COUNT; i++) {
  if (COUNTER[COUNTER_NAMES[i]] !== i) {
    throw new Error(`COUNTER: indices must be 0..${COUNTER_COUNT - 1} without gaps (at ${i})`);
  }
}

/** A zeroed counter block. */
export function newCounters(): Float64Array {
  return new Float64Array(COUNTER_COUNT);
}

/** into[i] += from[i] for every counter. */
export function mergeCounters(into: Float64Array, from: Float64Array): void {
  if (into.length < COUNTER_COUNT || from.length < COUNTER_COUNT) {
    throw new RangeError(
      `mergeCounters: expected ${COUNTER_COUNT} words, found ${into.length} and ${from.length}`,
    );
  }
  for (let i = 0; i < COUNTER_COUNT; i++) into[i] += from[i];
}

/** The block as a plain `{name: value}` object (missing words read as 0). */
export function countersToObject(arr: Float64Array): Record<CounterName, number> {
  const out = {} as Record<CounterName, number>;
  for (let i = 0; i < COUNTER_COUNT; i++) out[COUNTER_NAMES[i]] = arr[i] ?? 0;
  return out;
}
