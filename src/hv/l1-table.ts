/**
 * L0's partition-scoped table for L1 (the "L1 table": kvm->arch.pgtable under kvm->arch.lpid), as
 * the nesting side hands it to the radix mechanism. What sets it apart is the tail of
 * kvmppc_unmap_pte that runs for L1's entries only: the memslot lookup, the removal of every
 * shadow leaf built on the old host page through the nested rmap, and the dirty bookkeeping.
 */
import { MEMSLOT_LOG_DIRTY } from '../memory/machine.js';
import { PTE_RPN_MASK, PAGE_DIRTY } from '../mmu/pte.js';
import { pnAlign, pnCount } from '../mmu/geometry.js';
import { LeafRef, findLeafLocked } from '../mmu/tree.js';
import type { HvContext } from './context.js';
import { L1_TABLE_PGD_UNIT, markDirtyRange, pageOfPn } from './radix.js';
import type { RadixTable } from './radix-table.js';
import { removeNestRmapRangeLocked } from './rmap.js';
import { unmapExchangeLocked } from './pte-update.js';
import { TAINT_P6 } from '../invariants/windows.js';

/**
 * kvmppc_unmap_pte on L0's table for L1: exchange leaf word `i` (mapping `gpaPn`, size 2^shift)
 * to 0, tlbie(L1 lpid), remove the nested rmap range of the old host page (which unmaps every
 * shadow leaf built on it), and mark the dirty bitmap if the old leaf had C and the memslot logs
 * dirty pages. The memslot and the rmap range are looked up from `gpaPn`, the address the caller
 * passes. Returns the old leaf. Lock: mmu_lock.
 */
export function unmapL1PteLocked(ctx: HvContext, i: number, gpaPn: number, shift: number): number {
  const old = unmapExchangeLocked(ctx, i, true);
  if (old >= 0) return old; // was not present
  const startPn = pnAlign(gpaPn, shift);
  ctx.shootdown(ctx, ctx.l1Lpid, startPn, shift);
  const firstPage = pageOfPn(ctx, startPn);
  const nPages = Math.max(1, pnCount(shift) / ctx.L.basePn);
  const hostPn = (old & PTE_RPN_MASK) & ~(pnCount(shift) - 1);
  removeNestRmapRangeLocked(ctx, firstPage, nPages, hostPn, shift);
  if ((old & PAGE_DIRTY) !== 0) {
    const slot = ctx.m.memslotOf(firstPage);
    if (slot >= 0 && (ctx.m.slotFlags(slot) & MEMSLOT_LOG_DIRTY) !== 0) markDirtyRange(ctx, firstPage, nPages);
  }
  return old;
}

function unmapL1Leaf(ctx: HvContext, _table: RadixTable, i: number, gpaPn: number, shift: number): void {
  unmapL1PteLocked(ctx, i, gpaPn, shift);
}

/**
 * Window P6 on L0's table for L1: the unmap about to run at host address `hostPn` will look the
 * memslot and the rmap up at L1 page hostPn >> PAGE_SHIFT. Where a memslot covers that page and
 * its rmap list is not empty, the list will be dropped whole while the pfn check spares its shadow
 * leaves (they map other host pages): they stay mapped, untracked. Taint the page (TAINT_P6), so
 * what those leaves cause is told apart as P6's.
 */
function l1Misaddressed(ctx: HvContext, hostPn: number, leafPn: number, shift: number): void {
  // The leaf's own range: the shadow leaves built on it keep their rmap entries in its pages'
  // lists, which the misaddressed removal does not reach; they outlive the leaf, P6's.
  const own = pageOfPn(ctx, leafPn);
  const ownPages = Math.max(1, pnCount(shift) / ctx.L.basePn);
  for (let p = own; p < own + ownPages && p < ctx.L.l1Pages; p++) Atomics.or(ctx.w, ctx.L.windowTaintWord + p, TAINT_P6);
  const page = pageOfPn(ctx, hostPn);
  if (page >= ctx.L.l1Pages || ctx.m.memslotOf(page) < 0) return;
  if (Atomics.load(ctx.w, ctx.L.rmapHeadWord + page) === 0) return;
  // The list holds the shadow leaves built on the L0 leaf whose first page this is: under a 2M or
  // 1G leaf starting here, those of every page it covers (rmap entries go to the aligned gfn).
  const ref = misaddressedRef;
  const pn = page * ctx.L.basePn;
  const i = findLeafLocked(ctx.w, ctx.m.hostSpace, L1_TABLE_PGD_UNIT, pn, ctx.g, ref);
  const n = i >= 0 && pnAlign(pn, ref.shift) === pn ? Math.max(1, pnCount(ref.shift) / ctx.L.basePn) : 1;
  for (let p = page; p < page + n && p < ctx.L.l1Pages; p++) Atomics.or(ctx.w, ctx.L.windowTaintWord + p, TAINT_P6);
}

/** The lookup of `l1Misaddressed` (mmu_lock held: one at a time per thread). */
const misaddressedRef = new LeafRef();

/** L0's table for each L1 (index: the L1), built once per thread: it never changes. */
const l1Tables: Array<Readonly<RadixTable>> = [];

/** L0's table for the L1 `ctx` acts in (its tlbies name that L1's lpid). */
export function l1TableOf(ctx: HvContext): Readonly<RadixTable> {
  return (
    l1Tables[ctx.m.l1] ??
    (l1Tables[ctx.m.l1] = Object.freeze({
      pgdUnit: L1_TABLE_PGD_UNIT,
      lpid: ctx.l1Lpid,
      ownerLpid: 0,
      isL1Table: true,
      unmapLeaf: unmapL1Leaf,
      misaddressed: l1Misaddressed,
    }))
  );
}
