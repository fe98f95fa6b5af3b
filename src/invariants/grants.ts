/**
 * What L1 has granted in its table for each nested guest, as of its last completed tlbie: the
 * checker's state for I2 (W) and I3 (C) on L2 stores.
 *
 * Per L2 base page, a record word: the W and C bits (PAGE_WRITE, PAGE_DIRTY) L1's table for that
 * guest may grant, plus a 12-bit count of W grants (bits 0..11) and of C grants (bits 12..23).
 * A grant is recorded before L1 writes the bit into its leaf (so any shadow leaf built from the
 * new leaf finds it). When L1 takes a bit away, it notes the record (under its lock, with the
 * change) and, once its tlbie for the change has completed, drops the bit unless it was granted
 * again in between (a later change then has its own tlbie and drops it in turn). A store that
 * completes through a translation with W (and C) while the record lacks W breaks I2, and lacks C
 * breaks I3 ("as of L1's last completed tlbie"). Records change only under L1's lock (the
 * caller's); vCPUs only read them. All pages of one L1 leaf change together (L1's leaf size for a
 * region is fixed), so one page's record stands for the leaf.
 */
import type { Layout } from '../memory/layout.js';
import { PAGE_DIRTY, PAGE_WRITE } from '../mmu/pte.js';
import { pnAlign, pnCount } from '../mmu/geometry.js';
import type { ViolationReporter } from './violations.js';

/** The bits a record tracks. */
export const GRANT_BITS = PAGE_WRITE | PAGE_DIRTY;
const GRANT_W_ONE = 1;
const GRANT_C_ONE = 1 << 12;
const GRANT_W_COUNT = 0xfff;
const GRANT_C_COUNT = 0xfff << 12;

/** First record word of guest `slot` (indexed by L2 base page). */
export function grantBase(L: Layout, slot: number): number {
  return L.l1GrantWord + slot * L.guestPages;
}

/** First record of L1's leaf of size 2^shift at `l2Pn`. */
function firstRecord(L: Layout, slot: number, l2Pn: number, shift: number): number {
  return grantBase(L, slot) + Math.floor(pnAlign(l2Pn, shift) / L.basePn);
}

/** Records L1's leaf of size 2^shift at `l2Pn` covers (within the guest). */
function recordCount(L: Layout, slot: number, l2Pn: number, shift: number): number {
  const first = Math.floor(pnAlign(l2Pn, shift) / L.basePn);
  return Math.min(Math.max(1, pnCount(shift) / L.basePn), L.guestPages - first);
}

/** L1 is about to grant `bits` (W, C) over its leaf at l2Pn. Lock: L1's lock. */
export function recordGrant(w: Int32Array, L: Layout, slot: number, l2Pn: number, shift: number, bits: number): void {
  const b = bits & GRANT_BITS;
  if (b === 0) return;
  const at = firstRecord(L, slot, l2Pn, shift);
  const n = recordCount(L, slot, l2Pn, shift);
  for (let k = 0; k < n; k++) {
    let v = Atomics.load(w, at + k) | b;
    if ((b & PAGE_WRITE) !== 0) v = (v & ~GRANT_W_COUNT) | ((v + GRANT_W_ONE) & GRANT_W_COUNT);
    if ((b & PAGE_DIRTY) !== 0) v = (v & ~GRANT_C_COUNT) | ((v + GRANT_C_ONE) & GRANT_C_COUNT);
    Atomics.store(w, at + k, v);
  }
}

/** The record of the leaf at l2Pn, noted with a change that takes bits away. Lock: L1's lock. */
export function noteGrant(w: Int32Array, L: Layout, slot: number, l2Pn: number, shift: number): number {
  return Atomics.load(w, firstRecord(L, slot, l2Pn, shift));
}

/**
 * L1's tlbie for a change that took `bits` away from its leaf at l2Pn (size 2^shift) has
 * completed: drop those bits from the record, except any granted again since `noted`.
 * Lock: L1's lock.
 */
export function revokeGrant(w: Int32Array, L: Layout, slot: number, l2Pn: number, shift: number, bits: number, noted: number): void {
  const at = firstRecord(L, slot, l2Pn, shift);
  const n = recordCount(L, slot, l2Pn, shift);
  for (let k = 0; k < n; k++) {
    const v = Atomics.load(w, at + k);
    let drop = 0;
    if ((bits & PAGE_WRITE) !== 0 && (v & GRANT_W_COUNT) === (noted & GRANT_W_COUNT)) drop |= PAGE_WRITE;
    if ((bits & PAGE_DIRTY) !== 0 && (v & GRANT_C_COUNT) === (noted & GRANT_C_COUNT)) drop |= PAGE_DIRTY;
    if (drop !== 0) Atomics.store(w, at + k, v & ~drop);
  }
}

/**
 * A store to `l2Pn` completed through TLB data `data` while L1's record `granted` lacks W or C
 * (the caller checked `granted & GRANT_BITS` on the hit path): L1 took the bit away and its tlbie
 * has completed, yet the store went through. Reports I2 (no W) or I3 (no C).
 */
export function reportUngrantedStore(report: ViolationReporter, granted: number, l1Lpid: number, l2Pn: number, data: number): void {
  if ((granted & PAGE_WRITE) === 0) report.storeAfterWRevoked(l1Lpid, l2Pn, data, granted);
  else report.storeAfterCCleared(l1Lpid, l2Pn, data, granted);
}
