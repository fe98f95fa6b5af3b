/**
 * The shadow table of a nested guest, as the nesting side (kernel `book3s_hv_nested.c`) hands it
 * to the radix mechanism: its root and shadow lpid, and how one of its leaves is unmapped (an
 * exchange to 0 and a tlbie with the shadow lpid, nothing else: the rmap entries that named the
 * leaf go stale and are dropped lazily by the pfn check, as in the kernel).
 */
import { MUT, type HvContext } from './context.js';
import { pnAlign } from '../mmu/geometry.js';
import { COUNTER } from '../stats/counters.js';
import { GUEST, guestWord, shadowPgdUnit } from './guests.js';
import { unmapExchangeLocked } from './pte-update.js';
import type { RadixTable } from './radix-table.js';

/**
 * Unmap shadow leaf word `i` (mapping `l2Pn`, size 2^shift) of the guest whose shadow lpid is
 * `shadowLpid`: exchange to 0, then tlbie(shadow_lpid) (kvmppc_unmap_pte as
 * kvmhv_remove_nest_rmap and the tlbie emulation call it). Returns the old leaf. Lock: mmu_lock.
 * Mutations: `nonatomic-unmap` (M6) reads then stores 0 (pte-update.ts); `skip-tlb-flush` (M7)
 * omits the tlbie.
 */
export function unmapShadowPteLocked(ctx: HvContext, shadowLpid: number, i: number, l2Pn: number, shift: number): number {
  const old = unmapExchangeLocked(ctx, i, false);
  ctx.count(COUNTER.shadowPtesRemoved);
  if (!ctx.has(MUT['skip-tlb-flush'])) ctx.shootdown(ctx, shadowLpid, pnAlign(l2Pn, shift), shift);
  return old;
}

/** `RadixTable.unmapLeaf` of every shadow table. */
function unmapShadowLeaf(ctx: HvContext, table: RadixTable, i: number, l2Pn: number, shift: number): void {
  unmapShadowPteLocked(ctx, table.lpid, i, l2Pn, shift);
}

/**
 * Window P6 on a shadow table: the unmap's only tail is the tlbie, which then names the host
 * address, so the vCPUs' TLB entries for the old leaf survive it. Nothing is marked: an entry
 * that then grants more than memory does is reported by the TLB check as unexplained.
 */
function shadowMisaddressed(): void {}

/** A reusable shadow-table descriptor (one per FaultScratch; `shadowTableOf` points it at a guest). */
export function newShadowTable(): RadixTable {
  return { pgdUnit: 0, lpid: 0, ownerLpid: 0, isL1Table: false, unmapLeaf: unmapShadowLeaf, misaddressed: shadowMisaddressed };
}

/** Point `out` at the shadow table of the guest in `slot` (its root, shadow lpid and L1 lpid). */
export function shadowTableOf(ctx: HvContext, slot: number, out: RadixTable): RadixTable {
  out.pgdUnit = shadowPgdUnit(slot);
  out.lpid = ctx.w[guestWord(ctx, slot, GUEST.shadowLpid)];
  out.ownerLpid = ctx.w[guestWord(ctx, slot, GUEST.l1Lpid)];
  return out;
}
