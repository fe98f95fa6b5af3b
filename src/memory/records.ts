/**
 * The records and control words of the shared machine: named field indices plus a count for
 * every record (the control block, lock lines, a vCPU's control line, L1's partition-table
 * entry, a violation record), and the fixed sizes the layout (layout.ts) is computed from.
 */

/** Words per 64-byte line: each lock word sits on its own line. */
export const LINE_WORDS = 16;
/** Words in one page-table unit: a 4 KiB (ISA) table of 512 eight-byte entries, one word each. */
export const TABLE_UNIT_WORDS = 512;
/** A PGD (13 index bits) spans 16 units and is aligned to 64 KiB. */
export const PGD_UNITS = 16;
/** Largest number of nested guests per L1 (KVM_MAX_NESTED_GUESTS_SHIFT = 12). */
export const MAX_NESTED_LPID = 4096;
/** Words per nested-guest record. */
export const GUEST_WORDS = 16;
/**
 * Fields of an entry of L1's partition table for its guests (in L1 memory; L1 writes it, L0 reads
 * it on kvmhv_update_ptbl_cache): the radix tree size, the root (a directory word: base and size),
 * the process table, and L1's own count of its vCPUs running the guest (L1 bookkeeping, see
 * hv/l1-handler.ts; L0 never reads it). An ISA entry is 16 bytes: one word per field here.
 */
export const PTBL = { rts: 0, root: 1, processTable: 2, l1Running: 3 } as const;
export const PTBL_WORDS = Object.keys(PTBL).length;
/** Bytes of one partition-table entry in L1's memory (two doublewords). */
export const PTBL_ENTRY_BYTES = 16;
/** Words per rmap node: next, lpid, l2Pn. */
export const RMAP_NODE_WORDS = 4;
/** Words per memslot record. */
export const MEMSLOT_WORDS = 8;
export const MAX_MEMSLOTS = 4;
/** Words per TLB entry: tag (base-page number of the L2 address), lpid, data (leaf word), frame generation. */
export const TLB_ENTRY_WORDS = 4;
/**
 * Fields of an online violation record (written by invariants/violations.ts, decoded by
 * check/violations.ts): the invariant, which check fired (`VIOLATION_KIND`), the reporting vCPU,
 * the lpid and 4 KiB page number concerned, three values whose meaning the kind names (PTE words,
 * generations, counts), the time since the reporter started, in ms, and the kernel window (1..6 =
 * P1..P6, 0 = none) whose own code path produced it, and the L1 it was found in.
 */
export const VIOLATION = { invariant: 0, kind: 1, vcpu: 2, lpid: 3, pn: 4, value0: 5, value1: 6, value2: 7, timeMs: 8, window: 9, l1: 10 } as const;
export const VIOLATION_WORDS = Object.keys(VIOLATION).length;
export const VIOLATION_SLOTS = 64;

/**
 * Named indices in the control block (word offsets from `ctrlWord`). Grouped into 64-byte lines
 * (LINE_WORDS) by who writes them, so that a word written on every fault or table allocation
 * does not share a cache line with one every vCPU reads on every fault or access: false sharing
 * there turns each read into a cross-core cache miss and caps 2-vCPU scaling.
 */
export const CTRL = {
  // line 0: written once at creation, read-mostly afterwards
  magic: 0,
  version: 1,
  /** Next shadow lpid to hand out. */
  nextShadowLpid: 2,
  /**
   * Stores that landed in a frame retired from under a P6-tainted L1 page and not backing its
   * owner now (through a shadow leaf window P6 left untracked); written only on that path.
   */
  p6RetiredStores: 4,
  /** Host backing choice: seed and thresholds (0..65535) for 1 GiB and 2 MiB blocks. */
  backingSeed: 5,
  backingMix1G: 6,
  backingMix2M: 7,
  /** L1's leaf-size choice for L2 memory: thresholds (0..65535) for 1 GiB and 2 MiB leaves. */
  l1Mix1G: 8,
  l1Mix2M: 9,
  // line 2: written by every broadcast invalidation; read by every hardware walk and quiescence
  /** Bumped by every broadcast invalidation before it scans the TLBs (see hw/shootdown.ts). */
  tlbEpoch: 32,
  /** Bumped by every broadcast invalidation after it dropped TLB entries, before it waits. */
  tlbDone: 33,
  // line 3: host frame allocator (host lock): bump pointer (frames) and free-list heads per order (frame + 1)
  hostBump: 48,
  hostFree0: 49,
  hostFree1: 50,
  hostFree2: 51,
  hostFramesFree: 52,
  /** Host memory allocation failures (GUP -EFAULT). */
  hostOom: 53,
  /**
   * The rest of the last block split for orders 0 and 1, not yet handed out: [next, end) in
   * frames. A split carves from it one piece at a time instead of listing all 511 at once.
   */
  hostCarve0Next: 54,
  hostCarve0End: 55,
  hostCarve1Next: 56,
  hostCarve1End: 57,
  /** Host table unit allocation failures (any L1's pool). */
  tableExhausted: 66,
  /** Rmap node allocation failures (any L1's pool exhausted). */
  rmapExhausted: 98,
  // line 7: run control, read by every vCPU every few accesses, written rarely
  /** Run control: 1 = stop requested. */
  stop: 112,
  /** Audit barrier: requested generation and resume generation. */
  auditRequest: 113,
  auditResume: 114,
  /**
   * Stop the run at the first violation that fails it (stress --fail-fast): 0 never, 1 at an
   * unexplained one, 2 at any (--strict). The reporter then sets `stop`.
   */
  stopOnViolation: 115,
  /**
   * Start gate: vCPUs ready to run (each adds 1 once its thread is loaded and its vCPU built),
   * and `startGo`, set by the coordinator once all are: the measured run starts there.
   */
  startReady: 116,
  startGo: 117,
  // line 8: written when vCPUs park, start or finish
  auditParked: 128,
  /** Workers attached (sanity). */
  attached: 129,
  /** Live vCPUs that have not yet finished. */
  running: 130,
  /**
   * Modeled time's skew bound (hw/cpu.ts, `clockPoint`): bumped (and notified) when a vCPU
   * publishes its clock while others sleep ahead of it; and the count of such sleepers.
   */
  skewEpoch: 131,
  skewWaiters: 132,
  // line 9: online violation ring: total count, then per invariant (16 words, indexed like INVARIANTS)
  violationCount: 144,
  violationByInvariant: 160,
  // line 11: violations per kernel window (index 1..6 = P1..P6), tagged by the window's code path
  violationByWindow: 176,
} as const;
export const CTRL_WORDS = 192;

/**
 * Named indices in each L1's own control block (layout `l1CtrlWord`, one per L1: what the kernel
 * keeps in that L1's `struct kvm`), grouped into lines as CTRL is.
 */
export const L1CTRL = {
  // line 0: read by every fault, written only by invalidations (under this L1's mmu_lock)
  /** kvm->mmu_invalidate_seq */
  mmuSeq: 0,
  /** kvm->mmu_invalidate_in_progress */
  mmuInProgress: 1,
  /** Dirty logging enabled on the main memslot (mirrors the slot flag, for actors). */
  dirtyLog: 2,
  // line 1: this L1's host table unit pool (shadow tables, L0's table for it): bump and free head (unit + 1)
  hostTableBump: 16,
  hostTableFree: 17,
  // line 2: this L1's table unit pool (its tables for its nested guests)
  l1TableBump: 32,
  l1TableFree: 33,
  // line 3: this L1's rmap node pool: bump and free head (node + 1); changed only under its mmu_lock
  rmapBump: 48,
  rmapFree: 49,
  // line 4: the write counts held in swap slots of this L1's pages, in all (the audit's sum needs no page walk)
  swappedWrites: 64,
  /** Violations found in this L1 (online or by an audit). */
  violations: 65,
} as const;
export const L1CTRL_WORDS = 80;

/**
 * Modeled holds a nested guest's tlb_lock remembers (layout `tlbHoldsWord`): its holds span whole
 * faults and all of a guest's vCPUs queue on it, so modeled queueing must see back about a skew
 * bound's worth of them.
 */
export const TLB_LOCK_HOLDS = 32;

/**
 * Lock lines of an L1 (index into its lock region). Its nested guests' tlb_locks follow these. The
 * host lock, shared by every L1, has a line of its own (layout `hostLockWord`).
 */
export const LOCK = {
  mmu: 0,
  // line 1 unused (the host lock's, before several L1s)
  hostTable: 2,
  l1Table: 3,
  l1: 4, // L1's own lock for its tables (L1 kernel's page-table lock)
  /** kvm->slots_lock (a mutex): memslot changes and KVM_GET_DIRTY_LOG never overlap. */
  slots: 5,
} as const;
export const L1_LOCKS = 6;

/** VCPU_CTL.state bits: a shootdown waits (notify me); in guest mode (TLB live); quiescence count unit. */
export const VSTATE_WAITING = 1;
export const VSTATE_IN_GUEST = 2;
export const VSTATE_QUIESCE = 4;

/** Fields of a vCPU control line. */
export const VCPU_CTL = {
  /**
   * The vCPU's guest-mode and quiescence word (VSTATE_* bits). The vCPU changes it only by atomic
   * adds, a shootdown only by setting or clearing VSTATE_WAITING, so every transition is one
   * atomic operation: entering or leaving guest mode adds VSTATE_IN_GUEST (leaving carries into
   * the count, so a leave-then-enter is still a change), an access boundary adds VSTATE_QUIESCE.
   */
  state: 0,
  /**
   * The vCPU's modeled clock in units of CLOCK_UNIT cycles, modulo 2^32 (compare by wrapping
   * difference): published at access boundaries and after each fault, read by the others'
   * skew check.
   */
  clock: 1,
  /**
   * 1 while the vCPU takes part in the skew bound (from its start gate to its end, except while
   * it waits to re-enter a destroyed guest); 0 otherwise, so idle vCPUs hold no one back.
   */
  clockActive: 2,
} as const;

/** Cycles per unit of VCPU_CTL.clock. */
export const CLOCK_UNIT = 64;
