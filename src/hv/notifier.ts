/**
 * What the host does to L1's memory and how L0's KVM hears about it (docs/model.md §5.3-5.6):
 * MMU-notifier range invalidation (kvm_unmap_radix), page migration and swap built on it,
 * aging (kvm_age_radix), the dirty-log harvest (kvm_radix_test_clear_dirty) and the memslot
 * flush (kvmppc_radix_flush_memslot).
 */
import { L1CTRL, LOCK } from '../memory/records.js';
import { lockWord, unlockWord, MUTEX_SPINS } from '../sync/lock.js';
import { MEMSLOT_LOG_DIRTY, SLOT, SLOT_MAIN } from '../memory/machine.js';
import {
  backingFrame,
  backingOrder,
  hostLock,
  hostUnlock,
  installBlockLocked,
  markBlockBusyLocked,
  retireBlockLocked,
  SWAP_SLOT_USED,
} from '../memory/host.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PTE_RPN_MASK } from '../mmu/pte.js';
import { pnAlign, pnCount } from '../mmu/geometry.js';
import { LeafRef, findLeaf } from '../mmu/tree.js';
import { COUNTER } from '../stats/counters.js';
import { FIX, MUT, type HvContext } from './context.js';
import { L1_TABLE_PGD_UNIT, pageOfPn } from './radix.js';
import { unmapL1PteLocked } from './l1-table.js';
import { updateNestRmapRcListLocked } from './rmap.js';
import { FRAME_GEN_P6, TAINT_P6 } from '../invariants/windows.js';
import { rcUpdateLocked } from './pte-update.js';
import { current } from '../sync/turnstile.js';

/** kvm_mmu_invalidate_begin. Lock: mmu_lock. */
export function mmuInvalidateBeginLocked(ctx: HvContext): void {
  Atomics.add(ctx.w, ctx.m.l1ctrl(L1CTRL.mmuInProgress), 1);
}

/** kvm_mmu_invalidate_end: seq++ (then the barrier), in_progress--. Lock: mmu_lock. */
export function mmuInvalidateEndLocked(ctx: HvContext): void {
  Atomics.add(ctx.w, ctx.m.l1ctrl(L1CTRL.mmuSeq), 1);
  Atomics.sub(ctx.w, ctx.m.l1ctrl(L1CTRL.mmuInProgress), 1);
}

/**
 * kvm_unmap_radix over L1 pages [first, first + n): unmap every L1-table leaf covering them
 * (full semantics: tlbie, nested rmap removal, dirty bitmap). Lock: mmu_lock.
 */
export function unmapRadixLocked(ctx: HvContext, first: number, n: number): void {
  const w = ctx.w;
  const basePn = ctx.L.basePn;
  const ref = new LeafRef(); // one per range
  for (let p = first; p < first + n; ) {
    const pn = p * basePn;
    const i = findLeaf(w, ctx.m.hostSpace, L1_TABLE_PGD_UNIT, pn, ctx.g, ref);
    if (i >= 0) unmapL1PteLocked(ctx, i, pn, ref.shift);
    // Past the leaf, or past the whole empty entry where the walk stopped (nothing below it).
    p = Math.max(p + 1, pageOfPn(ctx, pnAlign(pn, ref.shift) + pnCount(ref.shift)));
  }
}

/**
 * Run `action` between notifier begin and end around L1 pages [first, first + n), as the host
 * does for migration, swap-out and munmap. The frames may be reused once this returns.
 */
function notifierRange(ctx: HvContext, first: number, n: number): void {
  ctx.count(COUNTER.hostNotifier);
  ctx.mmuLock();
  mmuInvalidateBeginLocked(ctx);
  unmapRadixLocked(ctx, first, n);
  ctx.mmuUnlock();
}

function notifierEnd(ctx: HvContext): void {
  ctx.mmuLock();
  mmuInvalidateEndLocked(ctx);
  ctx.mmuUnlock();
}

/**
 * Move the host block backing L1 page `page` out from under L0: notifier begin + unmap of every
 * translation (L0's leaf, shadow leaves via the rmap, TLBs), the host's entries cleared (GUP
 * backs off), retire the old frames (their generation changes, so a later store through a stale
 * translation is caught), hand the data (the write counters) to new frames (`migrate`) or to
 * swap (the next GUP brings it back), free the old frames, notifier end. Returns false when there is nothing to move or no memory
 * to move it to. Takes the host lock, then mmu_lock inside the notifier.
 */
function moveBlock(ctx: HvContext, page: number, migrate: boolean): boolean {
  const m = ctx.m;
  const w = ctx.w;
  const L = ctx.L;
  hostLock(m);
  try {
    const b = Atomics.load(w, L.backingWord + page);
    if (b === 0) return false;
    const order = backingOrder(b);
    const n = m.orderFrames[order];
    const first = Math.floor(page / n) * n;
    const oldF0 = backingFrame(Atomics.load(w, L.backingWord + first));
    const newF0 = migrate ? m.allocFramesLocked(order) : -1;
    if (migrate && newF0 < 0) return false;
    // As Linux orders it: invalidate_range_start (KVM's invalidation begins and unmaps L0's leaf,
    // the shadow leaves and the TLBs), then the host clears its entries. A fault that finds the
    // host entry gone therefore always finds the invalidation too (its seq check retries).
    notifierRange(ctx, first, n);
    markBlockBusyLocked(m, first, n, true);
    // Every translation of the old frames is gone (the unmaps' tlbies have completed), but for
    // shadow leaves window P6 left untracked: their frames are marked, so a store through one is
    // told apart as P6's.
    retireBlockLocked(m, oldF0, n);
    for (let k = 0; k < n; k++) {
      if ((Atomics.load(w, L.windowTaintWord + first + k) & TAINT_P6) !== 0) Atomics.or(w, L.frameGenWord + oldF0 + k, FRAME_GEN_P6);
    }
    if (migrate) {
      for (let k = 0; k < n; k++) Atomics.store(w, L.frameWritesWord + newF0 + k, Atomics.load(w, L.frameWritesWord + oldF0 + k));
      installBlockLocked(m, first, n, newF0, order, false);
    } else {
      let writes = 0;
      for (let k = 0; k < n; k++) {
        const c = Atomics.load(w, L.frameWritesWord + oldF0 + k);
        writes += c;
        w[L.swapWritesWord + first + k] = c | SWAP_SLOT_USED;
        Atomics.store(w, L.backingWord + first + k, 0);
      }
      Atomics.add(w, m.l1ctrl(L1CTRL.swappedWrites), writes);
    }
    m.freeFramesLocked(oldF0, order);
    notifierEnd(ctx);
    ctx.count(migrate ? COUNTER.migrations : COUNTER.swapOuts);
    return true;
  } finally {
    hostUnlock(m);
  }
}

/** Migrate the host block backing L1 page `page` to new frames. */
export function hostMigrate(ctx: HvContext, page: number): boolean {
  return moveBlock(ctx, page, true);
}

/** Swap out the host block backing L1 page `page`; the next GUP brings it back (swap-in). */
export function hostSwapOut(ctx: HvContext, page: number): boolean {
  return moveBlock(ctx, page, false);
}

/**
 * kvm_age_radix on L1 page `page`: if the L1-table leaf is young, clear A (no tlbie for the L1
 * table, as in the kernel), then clear A in every matching shadow leaf through the rmap (with
 * tlbie). Returns whether the page was young. Takes mmu_lock.
 */
export function kvmAgeRadix(ctx: HvContext, page: number): boolean {
  ctx.count(COUNTER.ages);
  const pn = page * ctx.L.basePn;
  const ref = new LeafRef();
  ctx.mmuLock();
  try {
    const i = findLeaf(ctx.w, ctx.m.hostSpace, L1_TABLE_PGD_UNIT, pn, ctx.g, ref);
    if (i < 0) return false;
    const leaf = Atomics.load(ctx.w, i);
    if ((leaf & PAGE_ACCESSED) === 0) return false;
    const shift = ref.shift;
    rcUpdateLocked(ctx, i, PAGE_ACCESSED, 0, true); // M5: non-atomic (a C the hardware sets meanwhile is lost)
    const hostPn = (leaf & PTE_RPN_MASK) & ~(pnCount(shift) - 1);
    updateNestRmapRcListLocked(ctx, pageOfPn(ctx, pnAlign(pn, shift)), PAGE_ACCESSED, 0, hostPn, shift);
    return true;
  } finally {
    ctx.mmuUnlock();
  }
}

/**
 * kvm_radix_test_clear_dirty for L1 page `page`: read the leaf without the lock; if present and
 * dirty, re-check under mmu_lock, clear D, tlbie(L1 lpid) and clear D in every matching shadow
 * leaf through the rmap. Returns 1 if the page was dirty. Kernel as written does not bump
 * mmu_invalidate_seq here (window P5); `fixes: [p5]` does (the unmerged 2019 patch).
 */
export function radixTestClearDirty(ctx: HvContext, page: number): number {
  const w = ctx.w;
  const pn = page * ctx.L.basePn;
  const ref = new LeafRef();
  let i = findLeaf(w, ctx.m.hostSpace, L1_TABLE_PGD_UNIT, pn, ctx.g, ref);
  if (i < 0) return 0;
  let leaf = Atomics.load(w, i);
  if ((leaf & PAGE_DIRTY) === 0) return 0;
  ctx.mmuLock();
  try {
    i = findLeaf(w, ctx.m.hostSpace, L1_TABLE_PGD_UNIT, pn, ctx.g, ref);
    if (i < 0) return 0;
    leaf = Atomics.load(w, i);
    if ((leaf & PAGE_DIRTY) === 0) return 0;
    const shift = ref.shift;
    rcUpdateLocked(ctx, i, PAGE_DIRTY, 0, true); // M5: non-atomic
    ctx.shootdown(ctx, ctx.l1Lpid, pnAlign(pn, shift), shift);
    const hostPn = (leaf & PTE_RPN_MASK) & ~(pnCount(shift) - 1);
    updateNestRmapRcListLocked(ctx, pageOfPn(ctx, pnAlign(pn, shift)), PAGE_DIRTY, 0, hostPn, shift);
    if (ctx.fixed(FIX.p5)) Atomics.add(w, ctx.m.l1ctrl(L1CTRL.mmuSeq), 1);
    else {
      // Window P5: no seq bump. Count it on every page of the leaf, where a fault in flight can
      // see it (invariants/windows.ts).
      const first = pageOfPn(ctx, pnAlign(pn, shift));
      const n = Math.max(1, pnCount(shift) / ctx.L.basePn);
      for (let p = first; p < first + n; p++) Atomics.add(w, ctx.L.dirtyClearSeqWord + p, 1);
    }
    return 1;
  } finally {
    ctx.mmuUnlock();
  }
}

/** Test-and-clear one bit of the dirty bitmap (set by unmaps of dirty leaves). */
function takeDirtyBit(ctx: HvContext, page: number): boolean {
  const bit = 1 << (page & 31);
  return (Atomics.and(ctx.w, ctx.L.dirtyWord + (page >>> 5), ~bit) & bit) !== 0;
}

/**
 * kvm->slots_lock, a mutex: memslot changes (the flush below) and KVM_GET_DIRTY_LOG each hold it
 * throughout, so a harvest never runs inside a memslot flush. Without it, a harvest could read a
 * leaf the flush had just unmapped (under mmu_lock, but the harvest's first read is lockless)
 * before the flush marked the page in the dirty bitmap, and report a written page clean.
 * Lock order: slots_lock -> mmu_lock.
 */
function slotsLock(ctx: HvContext): void {
  lockWord(ctx.w, ctx.m.lockIndex(LOCK.slots), MUTEX_SPINS);
}

function slotsUnlock(ctx: HvContext): void {
  unlockWord(ctx.w, ctx.m.lockIndex(LOCK.slots));
}

/**
 * One dirty-log harvest (KVM_GET_DIRTY_LOG) over `pages` of the main memslot starting at
 * `first`: per page, test-and-clear D, OR the bitmap bit. `beforePage(page)` (called just before
 * a page is tested) and `onPage(page, dirty)` (after) let the auditor check completeness (I6).
 * Returns the number of dirty pages. Takes slots_lock.
 */
export function harvestDirtyLog(
  ctx: HvContext,
  first: number,
  pages: number,
  onPage?: (page: number, dirty: boolean) => void,
  beforePage?: (page: number) => void,
): number {
  ctx.count(COUNTER.harvests);
  slotsLock(ctx);
  try {
    if ((ctx.m.slotFlags(SLOT_MAIN) & MEMSLOT_LOG_DIRTY) === 0) return 0;
    let dirty = 0;
    const end = Math.min(first + pages, ctx.L.l1DataPages);
    for (let p = first; p < end; p++) {
      beforePage?.(p);
      const d = radixTestClearDirty(ctx, p) !== 0;
      const b = takeDirtyBit(ctx, p);
      if (d || b) dirty++;
      onPage?.(p, d || b);
    }
    ctx.count(COUNTER.harvestDirtyPages, dirty);
    return dirty;
  } finally {
    slotsUnlock(ctx);
  }
}

/**
 * kvmppc_radix_flush_memslot on the main slot (dirty logging switched, slot moved or deleted):
 * under mmu_lock unmap every L1-table leaf of the slot, then seq++ (fix C2 of §7; mutation
 * `skip-memslot-seq`, M14, leaves the bump out). Takes slots_lock (held by the memslot update
 * that calls it in the kernel), then mmu_lock.
 */
export function radixFlushMemslot(ctx: HvContext, slot: number): void {
  slotsLock(ctx); // memslot changes run under kvm->slots_lock
  radixFlushMemslotLocked(ctx, slot);
  slotsUnlock(ctx);
}

/** kvmppc_radix_flush_memslot with kvm->slots_lock held. */
function radixFlushMemslotLocked(ctx: HvContext, slot: number): void {
  ctx.count(COUNTER.memslotFlushes);
  const base = ctx.w[ctx.m.slotWord(slot, SLOT.basePage)];
  const n = ctx.w[ctx.m.slotWord(slot, SLOT.npages)];
  ctx.mmuLock();
  // The main slot's top holds L1's own page tables, which L0 never maps for L1 here (pinned).
  unmapRadixLocked(ctx, base, slot === SLOT_MAIN ? Math.min(n, ctx.L.l1DataPages) : n);
  if (!ctx.has(MUT['skip-memslot-seq'])) Atomics.add(ctx.w, ctx.m.l1ctrl(L1CTRL.mmuSeq), 1);
  ctx.mmuUnlock();
}

/** How long kvm_swap_active_memslots' SRCU grace period keeps the new memslot ahead of the flush (ms). */
export const MEMSLOT_SRCU_GRACE_MS = 0.2;
/** A word nobody notifies: waiting on it sleeps (one per thread, made once). */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Dirty logging switched on or off for memslot `slot` (KVM_SET_USER_MEMORY_REGION changing only
 * KVM_MEM_LOG_DIRTY_PAGES), under kvm->slots_lock as the kernel runs it: the memslot with the new
 * flags is installed first (kvm_swap_active_memslots, whose SRCU grace period takes a while),
 * then kvmppc_core_commit_memory_region_hv flushes the old memslot's mappings, on either change.
 * Until that flush, faults see the new flags while the old mappings remain: switching logging
 * off, a fault can put a 2M or 1G leaf over base-page leaves logging left behind (the case of
 * commit "KVM: PPC: Book3S HV: Remove user-triggerable WARN_ON"; window P6's trigger).
 * `onInstalled` runs right after the new flags are in (the checker restarts its dirty-log record
 * there when logging is switched on). Returns whether logging is now on.
 */
export function toggleDirtyLogging(ctx: HvContext, slot: number, onInstalled?: (on: boolean) => void): boolean {
  slotsLock(ctx);
  try {
    const word = ctx.m.slotWord(slot, SLOT.flags);
    const on = (Atomics.xor(ctx.w, word, MEMSLOT_LOG_DIRTY) & MEMSLOT_LOG_DIRTY) === 0;
    Atomics.store(ctx.w, ctx.m.l1ctrl(L1CTRL.dirtyLog), on ? 1 : 0);
    onInstalled?.(on);
    // Controlled: the grace period is a schedule point (no wall clock decides anything there).
    if (current !== null) current.point('srcu-grace');
    else Atomics.wait(sleepCell, 0, 0, MEMSLOT_SRCU_GRACE_MS);
    radixFlushMemslotLocked(ctx, slot);
    ctx.count(COUNTER.dirtyLogToggles);
    return on;
  } finally {
    slotsUnlock(ctx);
  }
}
