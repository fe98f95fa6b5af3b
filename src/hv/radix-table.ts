/**
 * The partition-scoped table as the radix mechanism (radix.ts) takes it: the kernel's `pgtable`
 * and `lpid` arguments of kvmppc_create_pte and kvmppc_unmap_pte, plus how one of its leaves is
 * unmapped. The nesting side makes the descriptors (l1-table.ts for L0's table for L1, shadow.ts
 * for a nested guest's shadow table); the mechanism only reads them.
 */
import type { HvContext } from './context.js';

/**
 * Unmap leaf word `i` of `table`, which maps `gpaPn` with size 2^shift (kvmppc_unmap_pte with the
 * table's lpid). Lock: mmu_lock.
 */
export type LeafUnmap = (ctx: HvContext, table: RadixTable, i: number, gpaPn: number, shift: number) => void;

/**
 * A partition-scoped table as the mechanism sees it (the kernel's `pgtable` and `lpid`
 * arguments). Descriptors are made once per table (L1's, l1-table.ts) or reused per fault (a
 * shadow table, shadow.ts): nothing allocates per call.
 */
export interface RadixTable {
  /** Root: PGD unit in the host table space. */
  pgdUnit: number;
  /** The lpid its tlbies name (kvm->arch.lpid for L0's table for L1, shadow_lpid for a shadow). */
  lpid: number;
  /** The lpid a report names: L1's number for the nested guest; 0 for L0's table for L1. */
  ownerLpid: number;
  /**
   * L0's table for L1: the table L1's own vCPUs' hardware writes R/C into without a lock
   * (`hardware.l1Rc`), which the R/C-window mutations M5/M6 race with (pte-update.ts).
   */
  isL1Table: boolean;
  /**
   * How one leaf is unmapped when create_pte replaces it or frees the table page above it
   * (kvmppc_unmap_pte: the L1 side adds the nested-rmap removal and dirty bookkeeping). The
   * address passed is the caller's choice: the sub-tree free passes each leaf's own guest address.
   */
  unmapLeaf: LeafUnmap;
  /**
   * Window P6: create_pte's partial sub-tree free is about to unmap the leaf of guest page `pn`
   * (size 2^`shift` bytes) at `hostPn`, the leaf's host real address taken as a guest address. The
   * table marks what that damages (L0's table for L1: the rmap list of the L1 page with that
   * number, when a memslot covers it, and the shadow leaves of `pn`'s range, which nothing removes).
   */
  misaddressed: (ctx: HvContext, hostPn: number, pn: number, shift: number) => void;
}
