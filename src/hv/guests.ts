/**
 * Nested-guest objects (struct kvm_nested_guest, docs/model.md §1.2) and L1's partition table.
 * Mirrors kvmhv_get_nested, kvmhv_put_nested, kvmhv_find_nested, kvmhv_update_ptbl_cache,
 * kvmhv_remove_nested and kvmhv_release_nested in `book3s_hv_nested.c`.
 *
 * Simplifications: guest records live in fixed slots (slot s holds L1 lpid s + 1, the lpids L1
 * uses for its guests), so "allocate outside the lock, re-check, install" collapses to
 * initialising the slot under mmu_lock; each slot's shadow PGD is a fixed table unit. The
 * record's `generation` changes on every create so a use-after-free is detectable (I7).
 */
import { GUEST_WORDS, MAX_NESTED_LPID, PGD_UNITS, CTRL, PTBL, PTBL_WORDS } from '../memory/records.js';
import { PAGE_PRESENT, PAGE_PTE, PTE_NLB_MASK, makeDir } from '../mmu/pte.js';
import { RADIX_RTS_52 } from '../mmu/geometry.js';
import { UNIT_WORDS } from '../mmu/tree.js';
import { L1_LPID, MUT, type HvContext } from './context.js';

/** Lowest shadow lpid L0 hands out: above L1_LPID, so L1's and the shadows' TLB entries never mix. */
export const FIRST_SHADOW_LPID = L1_LPID + 1;

/** Guest record fields. */
export const GUEST = {
  state: 0,
  l1Lpid: 1,
  shadowLpid: 2,
  refcnt: 3,
  /** Cached partition-table dw0 root of L1's table for this guest (l1_gr_to_hr); 0 = not cached. */
  l1Root: 4,
  l1Rts: 5,
  processTable: 6,
  generation: 7,
  /** Faults currently inside the body (for the I7 lifetime check). */
  inFault: 8,
} as const;
export const GUEST_FREE = 0;
export const GUEST_LIVE = 1;

export function guestWord(ctx: HvContext, slot: number, field: number): number {
  return ctx.L.guestsWord + slot * GUEST_WORDS + field;
}

/** Shadow PGD unit of guest slot `slot` in the host table space (fixed). */
export function shadowPgdUnit(slot: number): number {
  return PGD_UNITS * (slot + 1);
}

/** L1's PGD unit for its guest in slot `slot` (in the L1 table space; fixed). */
export function l1PgdUnit(slot: number): number {
  return PGD_UNITS * slot;
}

/** The slot of the nested guest L1 calls `l1Lpid` (guest records sit at fixed slots, see above). */
export function slotOfLpid(l1Lpid: number): number {
  return l1Lpid - 1;
}

/** L1's lpid for the nested guest in `slot` (the inverse of `slotOfLpid`). */
export function lpidOfSlot(slot: number): number {
  return slot + 1;
}

// ---- L1's partition table (in L1 memory; written by L1, read by L0) ------------------------

/** Word `field` (PTBL) of L1's partition-table entry for its lpid `l1Lpid`. */
export function ptblWord(ctx: HvContext, l1Lpid: number, field: number): number {
  return ctx.L.l1PtblWord + l1Lpid * PTBL_WORDS + field;
}

/** L1 writes its partition-table entry for guest `slot` (H_SET_PARTITION_TABLE contents). */
export function l1SetPartitionEntry(ctx: HvContext, slot: number, valid: boolean): void {
  const lpid = lpidOfSlot(slot);
  if (!valid) {
    Atomics.store(ctx.w, ptblWord(ctx, lpid, PTBL.root), 0);
    Atomics.store(ctx.w, ptblWord(ctx, lpid, PTBL.rts), 0);
    return;
  }
  const rootPn = ctx.m.l1Space.basePn + l1PgdUnit(slot);
  Atomics.store(ctx.w, ptblWord(ctx, lpid, PTBL.rts), RADIX_RTS_52);
  Atomics.store(ctx.w, ptblWord(ctx, lpid, PTBL.root), makeDir(rootPn, 13));
  Atomics.store(ctx.w, ptblWord(ctx, lpid, PTBL.processTable), 0x1000 + lpid);
}

/**
 * kvmhv_update_ptbl_cache: reload the guest's cached root from L1's partition table.
 * A read failure (lpid beyond the table) caches 0/0. Lock: the guest's tlb_lock.
 */
export function updatePtblCache(ctx: HvContext, slot: number): void {
  const w = ctx.w;
  const lpid = w[guestWord(ctx, slot, GUEST.l1Lpid)];
  let rts = 0;
  let root = 0;
  let prtb = 0;
  if (lpid > 0 && lpid < MAX_NESTED_LPID) {
    rts = Atomics.load(w, ptblWord(ctx, lpid, PTBL.rts));
    root = Atomics.load(w, ptblWord(ctx, lpid, PTBL.root));
    prtb = Atomics.load(w, ptblWord(ctx, lpid, PTBL.processTable));
  }
  Atomics.store(w, guestWord(ctx, slot, GUEST.l1Rts), rts);
  Atomics.store(w, guestWord(ctx, slot, GUEST.processTable), prtb);
  Atomics.store(w, guestWord(ctx, slot, GUEST.l1Root), root);
  // The kernel then rewrites the hardware partition-table entry of shadow_lpid; nestsim's
  // hardware walker reads the shadow root straight from the guest slot, so nothing to do.
}

// ---- lookup, get, put ------------------------------------------------------------------------

/** kvmhv_find_nested: the live slot for L1 lpid, or -1. Lock: mmu_lock. */
export function findNestedLocked(ctx: HvContext, l1Lpid: number): number {
  if (l1Lpid <= 0 || l1Lpid >= MAX_NESTED_LPID) return -1;
  const s = ctx.w[ctx.L.idrWord + l1Lpid];
  return s === 0 ? -1 : s - 1;
}

/**
 * kvmhv_get_nested: find the guest for `l1Lpid` and take a reference; create it when absent
 * and `create`. Returns the slot or -1. Takes mmu_lock.
 */
export function getNested(ctx: HvContext, l1Lpid: number, create: boolean): number {
  const slot = slotOfLpid(l1Lpid);
  if (slot < 0 || slot >= ctx.L.guestCount) return -1;
  const w = ctx.w;
  ctx.mmuLock();
  let s = findNestedLocked(ctx, l1Lpid);
  if (s >= 0) {
    w[guestWord(ctx, s, GUEST.refcnt)]++;
  } else if (create && Atomics.load(w, guestWord(ctx, slot, GUEST.state)) === GUEST_FREE) {
    // (A removed guest still referenced by running vCPUs keeps its slot until the last put;
    // with fixed slots a successor waits for that: the caller retries.)
    s = slot;
    const at = guestWord(ctx, s, 0);
    w[at + GUEST.l1Lpid] = l1Lpid;
    // Shadow lpids come from L0's LPID allocator; nestsim hands out fresh ones so a TLB entry
    // of a removed guest can never match its successor. They start above L1_LPID (L0's lpid for
    // L1, which tags L1's own TLB entries), so a shadow lpid never names L1.
    w[at + GUEST.shadowLpid] = FIRST_SHADOW_LPID + (Atomics.add(w, ctx.m.ctrl(CTRL.nextShadowLpid), 1) % 1_000_000);
    w[at + GUEST.l1Root] = 0;
    w[at + GUEST.l1Rts] = 0;
    w[at + GUEST.processTable] = 0;
    w[at + GUEST.generation]++;
    Atomics.store(w, at + GUEST.refcnt, 2); // one for the IDR, one for the caller
    Atomics.store(w, at + GUEST.state, GUEST_LIVE);
    w[ctx.L.idrWord + l1Lpid] = s + 1;
  }
  ctx.mmuUnlock();
  return s;
}

/**
 * kvmhv_put_nested: drop a reference; the last one releases the guest (outside mmu_lock:
 * "nobody can find it"). Takes mmu_lock.
 */
export function putNested(ctx: HvContext, slot: number): void {
  const w = ctx.w;
  ctx.mmuLock();
  const ref = --w[guestWord(ctx, slot, GUEST.refcnt)];
  ctx.mmuUnlock();
  if (ref === 0) releaseNested(ctx, slot);
  else if (ref < 0) ctx.report.refcountBelowZero(lpidOfSlot(slot), ref);
}

/**
 * kvmhv_release_nested: free the shadow tree, clear and flush the partition-table entry of
 * shadow_lpid, free the object. Lock: none (the guest is unreachable).
 */
function releaseNested(ctx: HvContext, slot: number): void {
  const w = ctx.w;
  const at = guestWord(ctx, slot, 0);
  const lpid = w[at + GUEST.shadowLpid];
  // Detach, flush, then free (docs/model.md §7 minor note on the page-walk cache).
  freePgtableRadix(ctx, slot, lpid);
  if (Atomics.load(w, at + GUEST.inFault) !== 0) {
    // A fault is running in a guest whose last reference is gone: use after free (I7, M13/P2).
    ctx.report.releasedWhileFaulting(lpidOfSlot(slot), w[at + GUEST.inFault]);
  }
  Atomics.store(w, at + GUEST.state, GUEST_FREE);
  w[at + GUEST.l1Root] = 0;
}

/**
 * kvmhv_remove_nested: take the guest out of the IDR and drop the IDR's reference.
 * Lock: takes mmu_lock.
 */
export function removeNested(ctx: HvContext, slot: number): void {
  const w = ctx.w;
  const lpid = w[guestWord(ctx, slot, GUEST.l1Lpid)];
  ctx.mmuLock();
  const present = findNestedLocked(ctx, lpid) === slot;
  if (present) w[ctx.L.idrWord + lpid] = 0;
  ctx.mmuUnlock();
  if (present) putNested(ctx, slot);
}

/**
 * kvmppc_free_pgtable_radix on a shadow tree: detach and free every table below the
 * PGD, with no per-leaf tlbie and no rmap clean-up (stale rmap entries are dropped lazily by
 * the pfn check). With `flushLpid`, the tree is detached first, then that lpid is flushed (TLB
 * entries and walks in flight), then the tables are freed. Lock: mmu_lock, or none when the guest
 * is unreachable.
 */
export function freePgtableRadix(ctx: HvContext, slot: number, flushLpid?: number): void {
  const m = ctx.m;
  const w = ctx.w;
  const pgd = m.hostSpace.word + shadowPgdUnit(slot) * UNIT_WORDS;
  const entries = 1 << ctx.g.bits[3];
  // Each PGD entry maps 512 GiB, so a guest uses a few: the detached ones go into a small array
  // (one allocation per flush of a whole lpid).
  const dirs: number[] = [];
  for (let i = 0; i < entries; i++) {
    const e = w[pgd + i]; // plain: PGD entries change only under mmu_lock, which we hold (or the guest is unreachable)
    if (e === 0) continue;
    Atomics.store(w, pgd + i, 0);
    if ((e & (PAGE_PRESENT | PAGE_PTE)) === PAGE_PRESENT) dirs.push(e);
  }
  if (flushLpid !== undefined) ctx.shootdown(ctx, flushLpid, 0, 0);
  for (const e of dirs) freeTableFull(ctx, e & PTE_NLB_MASK, 2);
}

/**
 * Free a detached sub-tree: recurse into directories and return every unit to the pool. Plain
 * reads and no per-entry clearing: the sub-tree was detached from the PGD and the lpid flushed
 * before this runs (a walk that was inside it restarts on the epoch change), no thread writes its
 * words any more, and `allocTableUnit` zeroes a unit when it hands it out again. Lock: mmu_lock
 * (or none when the guest is unreachable).
 */
function freeTableFull(ctx: HvContext, nlbPn: number, level: number): void {
  const m = ctx.m;
  const w = ctx.w;
  const unit = m.unitOfPn(m.hostSpace, nlbPn);
  if (level > 0) {
    const base = m.hostSpace.word + unit * UNIT_WORDS;
    const n = 1 << ctx.g.bits[level];
    for (let i = 0; i < n; i++) {
      const e = w[base + i];
      if ((e & (PAGE_PRESENT | PAGE_PTE)) === PAGE_PRESENT) freeTableFull(ctx, e & PTE_NLB_MASK, level - 1);
    }
  }
  m.freeTableUnit(m.hostSpace, unit);
}

/**
 * The LPID-wide action of tlbie emulation (IS = 2) for RIC 0 and RIC 2 (kvmhv_flush_lpid /
 * kvmhv_emulate_tlbie_lpid). RIC 2 also reloads the partition-table cache and removes the
 * guest if L1's entry is now zero. Lock: the guest's tlb_lock.
 */
export function flushNested(ctx: HvContext, slot: number, ric: number): void {
  const w = ctx.w;
  if (ric === 1) return; // page-walk cache only: nothing to do
  const lpid = w[guestWord(ctx, slot, GUEST.shadowLpid)];
  // The kernel frees the tree, then flushes the LPID (docs/model.md §7, minor note: a walk in
  // flight could read freed table pages). nestsim flushes first and frees afterwards, as the model
  // asks: detach the tree, flush (TLB entries dropped, walks in flight restart), then free.
  ctx.mmuLock();
  freePgtableRadix(ctx, slot, lpid);
  ctx.mmuUnlock();
  if (ric === 2) {
    updatePtblCache(ctx, slot);
    if (w[guestWord(ctx, slot, GUEST.l1Root)] === 0) removeNested(ctx, slot);
  }
}

/** Whether the guest in `slot` is live with the given generation (I7 checks). */
export function guestAlive(ctx: HvContext, slot: number, generation: number): boolean {
  return (
    Atomics.load(ctx.w, guestWord(ctx, slot, GUEST.state)) === GUEST_LIVE &&
    ctx.w[guestWord(ctx, slot, GUEST.generation)] === generation
  );
}

/** Whether references are skipped (M13). */
export function skipRefs(ctx: HvContext): boolean {
  return ctx.has(MUT['skip-refcount']);
}
