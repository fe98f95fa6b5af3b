/**
 * The online violation ring and the typed API that writes it. Whoever sees an invariant broken
 * (the vCPU on a store, the walker, the fault path, the auditor, the harvest check) calls the
 * method named after what it saw; each method writes one fixed record whose fields are named
 * (`VIOLATION`) and whose `kind` says which check fired (`VIOLATION_KIND`), so the decoder
 * (check/violations.ts) reads fields by name and switches on the kind, never on a shared number.
 *
 * Cheap: a few atomic adds and plain stores into a ring of VIOLATION_SLOTS records in shared
 * memory (records beyond it are counted, not kept). Addresses are 4 KiB page numbers.
 */
import { performance } from 'node:perf_hooks';
import { CTRL, L1CTRL, VIOLATION, VIOLATION_SLOTS, VIOLATION_WORDS } from '../memory/records.js';
import type { Machine } from '../memory/machine.js';
import { COUNTER } from '../stats/counters.js';
import { INV } from './names.js';
import { NO_WINDOW, WINDOW } from './windows.js';
import { current } from '../sync/turnstile.js';

/** Which check produced a record (one per report method). */
export const VIOLATION_KIND = {
  /** I1: a shadow leaf maps a host page other than the one backing its L1 page through L0's leaf. */
  staleShadow: 1,
  /** I1: a shadow leaf has no entry in its L1 page's rmap slot. */
  shadowWithoutRmap: 2,
  /** I2: a shadow leaf exists where L1's own table translates nothing. */
  shadowWithoutL1Leaf: 3,
  /** I2: a shadow leaf grants a permission L1's leaf lacks. */
  shadowBeyondL1Leaf: 4,
  /** I2: a shadow leaf is writable where L0's leaf for L1 is not. */
  shadowBeyondHostLeaf: 5,
  /** I2: an L2 store completed after L1 removed W and its tlbie completed. */
  storeAfterWRevoked: 6,
  /** I3: a shadow leaf has R or C that L0's leaf or L1's leaf lacks. */
  rcChainBroken: 7,
  /** I3: an L2 store completed through C after L1 cleared C and its tlbie completed. */
  storeAfterCCleared: 8,
  /** I4: a TLB entry of a shadow lpid grants more than the shadow leaf. */
  tlbBeyondShadow: 9,
  /** I4: a TLB entry of L1's lpid grants more than L0's leaf for L1. */
  tlbBeyondL1Table: 10,
  /** I5: a store landed in a host frame retired since its translation was cached. */
  storeToRetiredFrame: 11,
  /** I5: completed stores are missing from guest memory (audit conservation). */
  writesMissing: 12,
  /** I6: a written page was not reported dirty by the harvest. */
  dirtyPageMissed: 13,
  /** I7: a fault ran in a guest freed since the vCPU entered it. */
  faultInFreedGuest: 14,
  /** I7: a guest's reference count went below zero. */
  refcountBelowZero: 15,
  /** I7: a guest was released while a fault ran in it. */
  releasedWhileFaulting: 16,
  /** I7: tlbie emulation (one lpid) released the tlb_lock of a guest freed under it. */
  lockOfFreedGuest: 17,
  /** I7: tlbie emulation (all lpids, no reference: window P2) released the tlb_lock of a freed guest. */
  lockOfFreedGuestAllLpids: 18,
  /** I7: a live guest's reference count differs from its holders (audit). */
  refcountMismatch: 19,
  /** liveness: an access of a nested guest made no progress. */
  livelockL2: 20,
  /** liveness: an access of L1's own made no progress. */
  livelockL1: 21,
  /** P4: create_pte merged two leaves with different real page numbers. */
  rpnMerge: 22,
} as const;
export type ViolationKindName = keyof typeof VIOLATION_KIND;

export class ViolationReporter {
  private readonly w: Int32Array;
  private readonly countIdx: number;
  private readonly byInvIdx: number;
  private readonly byWindowIdx: number;
  private readonly ringWord: number;
  private readonly stopModeIdx: number;
  private readonly stopIdx: number;
  /** The L1 the reporter acts in (recorded with each violation) and its violation count's word. */
  private readonly l1: number;
  private readonly l1CountIdx: number;
  /** Wall-clock origin for record timestamps. */
  private readonly t0Ms = performance.now();

  constructor(
    m: Machine,
    /** The reporting vCPU, -1 for the coordinator and actors. */
    private readonly vcpu: number,
    private readonly counters: Float64Array,
    private readonly counterBase: number,
  ) {
    this.w = m.w;
    this.countIdx = m.ctrl(CTRL.violationCount);
    this.byInvIdx = m.ctrl(CTRL.violationByInvariant);
    this.byWindowIdx = m.ctrl(CTRL.violationByWindow);
    this.ringWord = m.L.violationsWord;
    this.stopModeIdx = m.ctrl(CTRL.stopOnViolation);
    this.stopIdx = m.ctrl(CTRL.stop);
    this.l1 = m.l1;
    this.l1CountIdx = m.l1ctrl(L1CTRL.violations);
  }

  // ---- I1 ---------------------------------------------------------------------------------------
  /** `window`: WINDOW.P6 when P6's path dropped the rmap list of the leaf's L1 page. */
  staleShadow(l1Lpid: number, l2Pn: number, shadow: number, hostLeaf: number, l1Pn: number, window = NO_WINDOW): void {
    this.put(INV['I1-no-stale-shadow'], VIOLATION_KIND.staleShadow, l1Lpid, l2Pn, shadow, hostLeaf, l1Pn, window);
  }
  /** `window`: WINDOW.P6 when P6's path dropped the rmap list of the leaf's L1 page. */
  shadowWithoutRmap(l1Lpid: number, l2Pn: number, shadow: number, hostLeaf: number, window = NO_WINDOW): void {
    this.put(INV['I1-no-stale-shadow'], VIOLATION_KIND.shadowWithoutRmap, l1Lpid, l2Pn, shadow, hostLeaf, 0, window);
  }
  // ---- I2 ---------------------------------------------------------------------------------------
  shadowWithoutL1Leaf(l1Lpid: number, l2Pn: number, shadow: number): void {
    this.put(INV['I2-permissions'], VIOLATION_KIND.shadowWithoutL1Leaf, l1Lpid, l2Pn, shadow, 0, 0);
  }
  shadowBeyondL1Leaf(l1Lpid: number, l2Pn: number, shadow: number, l1Leaf: number): void {
    this.put(INV['I2-permissions'], VIOLATION_KIND.shadowBeyondL1Leaf, l1Lpid, l2Pn, shadow, l1Leaf, 0);
  }
  shadowBeyondHostLeaf(l1Lpid: number, l2Pn: number, shadow: number, hostLeaf: number): void {
    this.put(INV['I2-permissions'], VIOLATION_KIND.shadowBeyondHostLeaf, l1Lpid, l2Pn, shadow, hostLeaf, 0);
  }
  storeAfterWRevoked(l1Lpid: number, l2Pn: number, tlbData: number, granted: number): void {
    this.put(INV['I2-permissions'], VIOLATION_KIND.storeAfterWRevoked, l1Lpid, l2Pn, tlbData, granted, 0);
  }
  // ---- I3 ---------------------------------------------------------------------------------------
  /** `window`: WINDOW.P5 when P5's path built the dirty shadow leaf over a page a harvest had cleaned. */
  rcChainBroken(l1Lpid: number, l2Pn: number, shadow: number, hostLeaf: number, l1Leaf: number, window = NO_WINDOW): void {
    this.put(INV['I3-dirty-chain'], VIOLATION_KIND.rcChainBroken, l1Lpid, l2Pn, shadow, hostLeaf, l1Leaf, window);
  }
  storeAfterCCleared(l1Lpid: number, l2Pn: number, tlbData: number, granted: number): void {
    this.put(INV['I3-dirty-chain'], VIOLATION_KIND.storeAfterCCleared, l1Lpid, l2Pn, tlbData, granted, 0);
  }
  // ---- I4 ---------------------------------------------------------------------------------------
  /** `window`: WINDOW.P1 when the entry is one P1's tlbie left behind, else NO_WINDOW. */
  tlbBeyondLeaf(ofL1Table: boolean, lpid: number, pn: number, tlbData: number, leaf: number, vcpu: number, window = NO_WINDOW): void {
    const kind = ofL1Table ? VIOLATION_KIND.tlbBeyondL1Table : VIOLATION_KIND.tlbBeyondShadow;
    this.put(INV['I4-tlb'], kind, lpid, pn, tlbData, leaf, vcpu, window);
  }
  // ---- I5 ---------------------------------------------------------------------------------------
  /** `window`: WINDOW.P6 when the frame's L1 page had its rmap list dropped by P6's path. */
  storeToRetiredFrame(lpid: number, frame: number, genAtFill: number, genNow: number, window = NO_WINDOW): void {
    this.put(INV['I5-no-lost-write'], VIOLATION_KIND.storeToRetiredFrame, lpid, 0, frame, genAtFill, genNow, window);
  }
  /** `window`: WINDOW.P6 when stores counted through P6's untracked shadow leaves explain the loss. */
  writesMissing(lost: number, completed: number, found: number, window = NO_WINDOW): void {
    this.put(INV['I5-no-lost-write'], VIOLATION_KIND.writesMissing, 0, 0, lost, completed, found, window);
  }
  // ---- I6 ---------------------------------------------------------------------------------------
  /** `window`: WINDOW.P1 when the page was stored to through a TLB entry P1 left behind. */
  dirtyPageMissed(l1Page: number, writesAtHarvest: number, writesNow: number, window = NO_WINDOW): void {
    this.put(INV['I6-dirty-log'], VIOLATION_KIND.dirtyPageMissed, 0, l1Page, writesAtHarvest, writesNow, 0, window);
  }
  // ---- I7 ---------------------------------------------------------------------------------------
  faultInFreedGuest(l1Lpid: number, generation: number): void {
    this.put(INV['I7-lifetime'], VIOLATION_KIND.faultInFreedGuest, l1Lpid, 0, generation, 0, 0);
  }
  refcountBelowZero(l1Lpid: number, refcount: number): void {
    this.put(INV['I7-lifetime'], VIOLATION_KIND.refcountBelowZero, l1Lpid, 0, refcount, 0, 0);
  }
  releasedWhileFaulting(l1Lpid: number, faultsInside: number): void {
    this.put(INV['I7-lifetime'], VIOLATION_KIND.releasedWhileFaulting, l1Lpid, 0, faultsInside, 0, 0);
  }
  /**
   * `allLpids`: from the all-lpid loop that holds no reference, which is window P2's own path
   * (with `fixes: [p2]` the loop takes a reference and reports through the one-lpid path).
   */
  lockOfFreedGuest(allLpids: boolean, l1Lpid: number, generation: number): void {
    const kind = allLpids ? VIOLATION_KIND.lockOfFreedGuestAllLpids : VIOLATION_KIND.lockOfFreedGuest;
    this.put(INV['I7-lifetime'], kind, l1Lpid, 0, generation, 0, 0, allLpids ? WINDOW.P2 : NO_WINDOW);
  }
  refcountMismatch(l1Lpid: number, refcount: number, holders: number): void {
    this.put(INV['I7-lifetime'], VIOLATION_KIND.refcountMismatch, l1Lpid, 0, refcount, holders, 0);
  }
  // ---- liveness and P4 ----------------------------------------------------------------------------
  livelock(ofL1: boolean, lpid: number, pn: number, dsisr: number): void {
    this.put(INV.liveness, ofL1 ? VIOLATION_KIND.livelockL1 : VIOLATION_KIND.livelockL2, lpid, pn, dsisr, 0, 0);
  }
  rpnMerge(ownerLpid: number, pn: number, oldLeaf: number, newLeaf: number): void {
    this.put(INV['P4-rpn-merge'], VIOLATION_KIND.rpnMerge, ownerLpid, pn, oldLeaf, newLeaf, 0, WINDOW.P4);
  }

  /** Count the violation and, while the ring has room, write its record. */
  private put(inv: number, kind: number, lpid: number, pn: number, v0: number, v1: number, v2: number, window = NO_WINDOW): void {
    const w = this.w;
    const n = Atomics.add(w, this.countIdx, 1);
    Atomics.add(w, this.byInvIdx + inv, 1);
    Atomics.add(w, this.l1CountIdx, 1);
    if (window !== NO_WINDOW) Atomics.add(w, this.byWindowIdx + window, 1);
    this.counters[this.counterBase + COUNTER.violations]++;
    current?.noteViolation(window === NO_WINDOW);
    // The verdict is in (stress --fail-fast): the vCPUs stop at their next safe point.
    const stopMode = Atomics.load(w, this.stopModeIdx);
    if (stopMode === 2 || (stopMode === 1 && window === NO_WINDOW)) Atomics.store(w, this.stopIdx, 1);
    if (n >= VIOLATION_SLOTS) return;
    const at = this.ringWord + n * VIOLATION_WORDS;
    w[at + VIOLATION.invariant] = inv;
    w[at + VIOLATION.kind] = kind;
    w[at + VIOLATION.vcpu] = this.vcpu;
    w[at + VIOLATION.lpid] = lpid;
    w[at + VIOLATION.pn] = pn;
    w[at + VIOLATION.value0] = v0;
    w[at + VIOLATION.value1] = v1;
    w[at + VIOLATION.value2] = v2;
    w[at + VIOLATION.timeMs] = Math.round(performance.now() - this.t0Ms);
    w[at + VIOLATION.window] = window;
    w[at + VIOLATION.l1] = this.l1;
  }
}
