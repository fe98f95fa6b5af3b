/**
 * The windows of the kernel as written (docs/model.md §7) as nestsim tags them. A violation counts
 * as a reproduced window only when the window's own code path produced it, never by its symptom:
 *
 * - P1: the rc-list tlbie names the rmap entry's lpid, so the shadow TLB entries survive. That path
 *   marks the surviving entries (`TLB_GEN_P1_STALE` in hw/tlb.ts); a store through a marked entry
 *   taints its L1 page (`TAINT_P1`); a dirty page the harvest then misses on a tainted page, or a
 *   marked entry the audit finds granting more than its leaf, is P1's.
 * - P2: the all-lpid tlbie emulation without a reference, when it finds the guest freed.
 * - P4: create_pte merging two different real page numbers (the violation is the window).
 * - P5: the harvest clears D without a seq bump; it counts that per page, and a fault that saw the
 *   count move between its seq read and its commit of a dirty shadow leaf taints the leaf's pages
 *   (`TAINT_P5`). The audit's R/C-chain break or a missed dirty page on a tainted page is P5's.
 * - P6: create_pte's partial sub-tree free unmaps each old leaf of L0's table for L1 at its host
 *   real address taken as a guest address: where a memslot covers that gfn, its whole rmap list is
 *   dropped while the pfn check spares its shadow leaves, which stay mapped but untracked. That
 *   path taints the gfn's L1 page (`TAINT_P6`); a shadow leaf without rmap entry, a stale one, a
 *   broken R/C chain, a missed dirty page or a store to a retired frame on a tainted page is P6's.
 * P3 is not tagged: with the host ordered as Linux orders it, its path is always retried.
 */
export const KERNEL_WINDOWS = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6'] as const;
export type KernelWindow = (typeof KERNEL_WINDOWS)[number];
/** Window name -> the number a violation record stores (1..6; 0 = no window). */
export const WINDOW = Object.freeze(Object.fromEntries(KERNEL_WINDOWS.map((n, i) => [n, i + 1])) as Record<KernelWindow, number>);
/** A violation no window's code path produced. */
export const NO_WINDOW = 0;

/** Taint bit of an L1 page (windowTaint region): stored to through a TLB entry P1's tlbie left behind. */
export const TAINT_P1 = 1;
/**
 * Taint bit of an L1 page: a nested fault committed a dirty shadow leaf over it after a harvest
 * had cleared the page's D without the seq bump the P5 fix adds (the fault would have retried).
 * It stays for the run: that shadow leaf keeps its D through later harvests, which find the L0
 * leaf clean and so clean nothing.
 */
export const TAINT_P5 = 2;
/**
 * Taint bit of an L1 page: window P6 dropped its rmap list (the page's number was a host address
 * passed as a guest address). Its shadow leaves stay mapped, untracked, until something else
 * removes them; the taint stays for the run.
 */
export const TAINT_P6 = 4;
/**
 * Mark in a frame's generation: the frame was retired from under an L1 page P6 had tainted, so a
 * shadow leaf P6 left untracked may still map it. A later store through a stale translation of
 * the frame is P6's. Kept across reuse of the frame; TLB entries cache generations without it,
 * so every store to a marked frame takes the store's cold path. Far above any generation count.
 */
export const FRAME_GEN_P6 = 1 << 29;

/** The window name of a record's window number, or undefined for NO_WINDOW. */
export function windowName(n: number): KernelWindow | undefined {
  return KERNEL_WINDOWS[n - 1];
}
