/**
 * L1, the guest hypervisor, as far as its nested guests need it (docs/model.md §3.9): its own
 * radix table for each L2 (in L1 memory, the "L2-by-L1" table), the handler it runs when L0
 * reflects a fault, and the table changes L1 makes on its own (unmap, write-protect, clean),
 * each followed by the invalidation the kernel would issue. L1 is KVM itself, so this is L1's
 * run of the same radix fault handler against its table for L2.
 *
 * L1's placement of L2 memory is a fixed function (`l1Target`): L1 never moves L2 data, so its
 * table is a cache of that function, filled on demand. The first `l2RoPages` pages of each L2
 * go to L1's read-only memslot and the last `l2MmioPages` to its MMIO hole; the rest is spread
 * over L1's data window (pages alias when L2 memory exceeds L1's: KSM-like sharing).
 * Lock: L1's own page-table lock (LOCK.l1) around every change of its tables.
 */
import { type Layout } from '../memory/layout.js';
import { LOCK, PTBL } from '../memory/records.js';
import { hash32 } from '../memory/host.js';
import { lockWord, unlockWord, MMU_LOCK_SPINS } from '../sync/lock.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_PTE, PAGE_READ, PAGE_WRITE, PTE_NLB_MASK, makeDir, makeLeaf } from '../mmu/pte.js';
import { LEVEL_PTE, PMD_SHIFT, PUD_SHIFT, levelForShift, pnAlign, pnCount, pnToBytes } from '../mmu/geometry.js';
import { LeafRef, UNIT_WORDS, findLeaf, pteUpdate } from '../mmu/tree.js';
import { COUNTER } from '../stats/counters.js';
import { CTRL } from '../memory/records.js';
import type { HvContext } from './context.js';
import { l1PgdUnit, l1SetPartitionEntry, lpidOfSlot, ptblWord } from './guests.js';
import { emulatePrivTlbie, hRptInvalidate, H_RPTI_TARGET_CMMU, tlbieArgs, H_RPTI_TYPE_NESTED, H_RPTI_TYPE_TLB, H_RPTI_PAGE_4K, H_RPTI_PAGE_64K } from './tlbie.js';
import { GRANT_BITS, noteGrant, recordGrant, revokeGrant } from '../invariants/grants.js';
import { DSISR_ISSTORE, DSISR_NOHPTE, DSISR_PROTFAULT, DSISR_SET_RC, SRR1_ISI_N_G_OR_CIP } from './regs.js';

/** Where L1 puts L2 page `l2Pn` of guest `slot`: returns the L1 4 KiB page number; `out.shift` the leaf size. */
export class L1Target {
  gpaPn = 0;
  shift = 12;
}

export function l1Target(ctx: HvContext, slot: number, l2Pn: number, out: L1Target): void {
  const L = ctx.L;
  const basePn = L.basePn;
  const page = Math.floor(l2Pn / basePn);
  const sub = l2Pn - page * basePn;
  const ps = ctx.g.pageShift;
  out.shift = ps;
  if (L.l2MmioPages > 0 && page >= L.guestPages - L.l2MmioPages) {
    const k = page - (L.guestPages - L.l2MmioPages);
    out.gpaPn = (L.l1Pages + (k % Math.max(1, L.l1MmioPages))) * basePn + sub;
    return;
  }
  if (page < L.l2RoPages) {
    out.gpaPn = (L.l1MainPages + (page % (L.l1Pages - L.l1MainPages))) * basePn + sub;
    return;
  }
  // Data: L1's leaf size for this region, from its page-size mix (deterministic by region).
  const w = ctx.w;
  const t1g = w[ctx.m.ctrl(CTRL.l1Mix1G)];
  const t2m = w[ctx.m.ctrl(CTRL.l1Mix2M)];
  const seed = w[ctx.m.ctrl(CTRL.backingSeed)];
  const lo = L.l2RoPages;
  const hi = L.guestPages - L.l2MmioPages;
  const p1g = 2 ** (PUD_SHIFT - ps);
  const p2m = 2 ** (PMD_SHIFT - ps);
  if (t1g > 0 && L.l1AlignPages >= p1g) {
    const r = Math.floor(page / p1g) * p1g;
    if (r >= lo && r + p1g <= hi && (hash32(r + slot * 7919, seed ^ 0x11) & 0xffff) < t1g) out.shift = PUD_SHIFT;
  }
  if (out.shift === ps && t2m > 0 && L.l1AlignPages >= p2m) {
    const r = Math.floor(page / p2m) * p2m;
    if (r >= lo && r + p2m <= hi && (hash32(r + slot * 7919, seed ^ 0x22) & 0xffff) < t2m) out.shift = PMD_SHIFT;
  }
  out.gpaPn = l1DataPage(L, slot, page) * basePn + sub;
}

/**
 * The L1 data page (base-page index in L1's main memslot) where L1 keeps L2 base page `page` of
 * guest `slot`: guests are laid out at a stride of whole L1 leaves over L1's data window.
 * L1's own accesses (hw/l1-direct.ts) touch these pages too, as L1's I/O emulation would.
 */
export function l1DataPage(L: Layout, slot: number, page: number): number {
  const stride = Math.ceil(L.guestPages / L.l1AlignPages) * L.l1AlignPages;
  return (slot * stride + page) % L.l1WindowPages;
}

// ---- L1's grant records (invariants/grants.ts), under L1's lock ------------------------------

function l1Grant(ctx: HvContext, slot: number, l2Pn: number, shift: number, bits: number): void {
  recordGrant(ctx.w, ctx.L, slot, l2Pn, shift, bits);
}

function l1GrantNote(ctx: HvContext, slot: number, l2Pn: number, shift: number): number {
  return noteGrant(ctx.w, ctx.L, slot, l2Pn, shift);
}

/** L1's tlbie for a change that took `bits` away has completed: revoke them. Takes L1's lock. */
function l1Revoke(ctx: HvContext, slot: number, l2Pn: number, shift: number, bits: number, noted: number): void {
  l1Lock(ctx);
  revokeGrant(ctx.w, ctx.L, slot, l2Pn, shift, bits, noted);
  l1Unlock(ctx);
}

function l1Lock(ctx: HvContext): void {
  lockWord(ctx.w, ctx.m.lockIndex(LOCK.l1), MMU_LOCK_SPINS);
}

function l1Unlock(ctx: HvContext): void {
  unlockWord(ctx.w, ctx.m.lockIndex(LOCK.l1));
}

/** Word of the entry for `pn` at `level` below directory word `dir` in L1's table space. */
function l1EntryIn(ctx: HvContext, dir: number, pn: number, level: number): number {
  const sp = ctx.m.l1Space;
  const g = ctx.g;
  return sp.word + ((dir & PTE_NLB_MASK) - sp.basePn) * UNIT_WORDS + ((pn >>> g.pnShift[level]) & ((1 << g.bits[level]) - 1));
}

/**
 * Make sure L1's table for guest `slot` maps `l2Pn` (installing the leaf, or upgrading W, or
 * setting R/C as the access needs). Returns false if L1 ran out of table pages.
 * Lock: takes L1's lock.
 */
export function l1MapPage(ctx: HvContext, slot: number, l2Pn: number, store: boolean, target: L1Target): boolean {
  const w = ctx.w;
  const g = ctx.g;
  const sp = ctx.m.l1Space;
  l1Target(ctx, slot, l2Pn, target);
  const level = levelForShift(g, target.shift);
  const leafPn = pnAlign(l2Pn, target.shift);
  const gpaLeafPn = pnAlign(target.gpaPn, target.shift);
  l1Lock(ctx);
  try {
    let entry = sp.word + l1PgdUnit(slot) * UNIT_WORDS + ((leafPn >>> g.pnShift[3]) & ((1 << g.bits[3]) - 1));
    for (let lv = 3; lv > level; lv--) {
      let e = Atomics.load(w, entry);
      if (e >= 0 || (e & PAGE_PTE) !== 0) {
        // Empty (or a leaf of another size, which L1's fixed placement never produces): new table.
        const unit = ctx.m.allocTableUnit(sp);
        if (unit < 0) return false;
        e = makeDir(sp.basePn + unit, g.bits[lv - 1]);
        Atomics.store(w, entry, e);
      }
      entry = l1EntryIn(ctx, e, leafPn, lv - 1);
    }
    const old = Atomics.load(w, entry);
    const rc = PAGE_ACCESSED | (store ? PAGE_DIRTY : 0);
    if (old < 0 && (old & PAGE_PTE) !== 0) {
      // Present: upgrade W on a store (L1's COW / write-protect break), set R/C. No tlbie needed.
      const set = rc | (store ? PAGE_WRITE : 0);
      l1Grant(ctx, slot, leafPn, target.shift, set & ~old);
      pteUpdate(w, entry, 0, set);
    } else {
      l1Grant(ctx, slot, leafPn, target.shift, PAGE_WRITE | rc);
      Atomics.store(w, entry, makeLeaf(gpaLeafPn, PAGE_READ | PAGE_WRITE | PAGE_EXEC | rc));
    }
    return true;
  } finally {
    l1Unlock(ctx);
  }
}

/**
 * What L1 does when H_ENTER_NESTED returns a storage interrupt from L2 (§3.9): fix its own
 * table for the L2 address and re-enter. Returns false if L1 cannot fix it (UNSUPP_MMU,
 * PRTABLE_FAULT: a broken L1 table, which L1 would report to the L2 as a machine check).
 */
export function l1HandleNestedFault(ctx: HvContext, slot: number, l2Pn: number, dsisr: number, target: L1Target): boolean {
  ctx.count(COUNTER.l1Handled);
  if ((dsisr & (DSISR_NOHPTE | DSISR_PROTFAULT | DSISR_SET_RC | SRR1_ISI_N_G_OR_CIP)) === 0) return false;
  return l1MapPage(ctx, slot, l2Pn, (dsisr & DSISR_ISSTORE) !== 0, target);
}

/** Find L1's leaf for `l2Pn`; returns its word index or -1 (`ref` gets the level/shift). */
export function l1FindLeaf(ctx: HvContext, slot: number, l2Pn: number, ref: LeafRef): number {
  return findLeaf(ctx.w, ctx.m.l1Space, l1PgdUnit(slot), l2Pn, ctx.g, ref);
}

// ---- L1 actor: changes L1 makes to its table for L2, then the invalidation ---------------------

/** Clear `clr` (all bits when -1) in L1's leaf for l2Pn, then H_TLB_INVALIDATE IS = 0. */
function l1ChangeAndTlbie(ctx: HvContext, slot: number, l2Pn: number, clr: number): boolean {
  const ref = new LeafRef(); // one per change (an hcall follows)
  l1Lock(ctx);
  const i = l1FindLeaf(ctx, slot, l2Pn, ref);
  const shift = ref.shift;
  let changed = false;
  let noted = 0;
  if (i >= 0) {
    noted = l1GrantNote(ctx, slot, l2Pn, shift);
    const old = clr === -1 ? Atomics.exchange(ctx.w, i, 0) : pteUpdate(ctx.w, i, clr, 0);
    changed = clr === -1 || (old & clr) !== 0;
  }
  l1Unlock(ctx);
  if (!changed) return false;
  // L1 changed a valid entry: it must tlbie (after the table write, as the architecture requires).
  const [instr, rs, rb] = tlbieArgs(0, 0, lpidOfSlot(slot), pnToBytes(pnAlign(l2Pn, shift)), shift);
  emulatePrivTlbie(ctx, instr, rs, rb);
  l1Revoke(ctx, slot, l2Pn, shift, clr, noted);
  return true;
}

export function l1Unmap(ctx: HvContext, slot: number, l2Pn: number): boolean {
  ctx.count(COUNTER.l1Unmaps);
  return l1ChangeAndTlbie(ctx, slot, l2Pn, -1);
}

/** Write-protect (L1's own dirty tracking or COW). */
export function l1Protect(ctx: HvContext, slot: number, l2Pn: number): boolean {
  ctx.count(COUNTER.l1Protects);
  return l1ChangeAndTlbie(ctx, slot, l2Pn, PAGE_WRITE);
}

/** Clear C (L1 harvesting its dirty log for L2). */
export function l1Clean(ctx: HvContext, slot: number, l2Pn: number): boolean {
  ctx.count(COUNTER.l1Cleans);
  return l1ChangeAndTlbie(ctx, slot, l2Pn, PAGE_DIRTY);
}

/** Unmap `n` consecutive base pages from l2Pn, then one H_RPT_INVALIDATE over the range. */
export function l1UnmapRange(ctx: HvContext, slot: number, l2Pn: number, n: number): void {
  ctx.count(COUNTER.l1RangeFlushes);
  const step = pnCount(ctx.g.pageShift);
  const start = pnAlign(l2Pn, ctx.g.pageShift);
  // The grant record of each page unmapped, noted with the change (one array per range flush).
  const noted = new Int32Array(n).fill(-1);
  const ref = new LeafRef();
  l1Lock(ctx);
  for (let k = 0; k < n; k++) {
    const i = l1FindLeaf(ctx, slot, start + k * step, ref);
    // Only base-page leaves are removed: a huge leaf would need a flush beyond this range.
    if (i >= 0 && ref.level === LEVEL_PTE) {
      noted[k] = l1GrantNote(ctx, slot, start + k * step, ctx.g.pageShift);
      Atomics.store(ctx.w, i, 0);
    }
  }
  l1Unlock(ctx);
  // Linux as L1 names the page size it unmapped (here the base page), not H_RPTI_PAGE_ALL: with
  // ALL, L0 would walk every size including 1 GiB, 2^18 lock round trips for a small range.
  const psize = ctx.g.pageShift === 16 ? H_RPTI_PAGE_64K : H_RPTI_PAGE_4K;
  hRptInvalidate(ctx, lpidOfSlot(slot), H_RPTI_TARGET_CMMU, H_RPTI_TYPE_NESTED | H_RPTI_TYPE_TLB, psize, pnToBytes(start), pnToBytes(start + n * step));
  for (let k = 0; k < n; k++) if (noted[k] !== -1) l1Revoke(ctx, slot, start + k * step, ctx.g.pageShift, GRANT_BITS, noted[k]);
}

/** H_TLB_INVALIDATE(IS = 2, RIC) for guest `slot`. */
export function l1FlushLpid(ctx: HvContext, slot: number, ric: number): void {
  ctx.count(COUNTER.l1LpidFlushes);
  const [instr, rs, rb] = tlbieArgs(ric, 2, lpidOfSlot(slot));
  emulatePrivTlbie(ctx, instr, rs, rb);
}

// ---- L1 destroying and recreating a nested guest (docs/model.md §5.8, M13's scenario) -------
//
// L1 keeps its own count of its vCPUs inside H_ENTER_NESTED for each of its guests (PTBL.l1Running
// in the guest's partition-table entry, which L0 never reads). L1 may destroy a guest while some of its
// vCPUs still run it (another L1 vCPU tears it down); it recreates the guest (rewrites the entry)
// only once none of its vCPUs runs the old incarnation, as an L1 restarting its L2 would. Until
// then the old guest's vCPUs find no root for L1's table (step A reflects every fault) and leave.

/**
 * L1 destroys its nested guest `slot`: zero the partition-table entry, then
 * H_TLB_INVALIDATE(IS = 2, RIC = 2), which frees the shadow tree and removes the guest from L0's
 * IDR (L0 drops the IDR's reference; vCPUs still inside hold theirs). Lock: L1's lock for the entry.
 */
export function l1DestroyGuest(ctx: HvContext, slot: number): void {
  ctx.count(COUNTER.l1Destroys);
  l1Lock(ctx);
  l1SetPartitionEntry(ctx, slot, false);
  l1Unlock(ctx);
  const [instr, rs, rb] = tlbieArgs(2, 2, lpidOfSlot(slot));
  emulatePrivTlbie(ctx, instr, rs, rb);
}

/**
 * L1's side of issuing H_ENTER_NESTED for guest `slot`: count this vCPU in, and if L1 destroyed
 * the guest, recreate it (rewrite its partition-table entry) first, but only when none of L1's
 * vCPUs still runs the old one; returns false (not counted) when L1 must wait for that. Check
 * and count are one step under L1's lock, so no vCPU can slip into the old incarnation after
 * the entry is rewritten. If H_ENTER_NESTED then fails, the caller counts out. Takes L1's lock.
 */
export function l1PrepareEnter(ctx: HvContext, slot: number): boolean {
  const lpid = lpidOfSlot(slot);
  const w = ctx.w;
  l1Lock(ctx);
  try {
    if (Atomics.load(w, ptblWord(ctx, lpid, PTBL.root)) === 0) {
      if (Atomics.load(w, ptblWord(ctx, lpid, PTBL.l1Running)) !== 0) return false;
      l1SetPartitionEntry(ctx, slot, true);
    }
    Atomics.add(w, ptblWord(ctx, lpid, PTBL.l1Running), 1);
    return true;
  } finally {
    l1Unlock(ctx);
  }
}

/** L1 counts one of its vCPUs out of H_ENTER_NESTED for guest `slot`. */
export function l1CountOut(ctx: HvContext, slot: number): void {
  Atomics.sub(ctx.w, ptblWord(ctx, lpidOfSlot(slot), PTBL.l1Running), 1);
}

