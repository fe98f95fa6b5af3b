/**
 * The host's own memory management for L1's memory: which host frames back each L1 page
 * (the host page table behind the memslot's userspace mapping), faulting pages in (GUP), and the
 * block operations migration and swap are built from.
 *
 * Each L1 page's backing word is `(order << 28) | (frame + 1)` (0 = not backed: never touched or
 * swapped out). A block of order k (base page, 2 MiB THP, 1 GiB hugetlb) is chosen per naturally
 * aligned chunk of L1 memory from the configured mix, deterministically from the seed, and is
 * always backed, migrated and swapped whole (simplification: no THP split; no compaction, so a
 * huge block can fail to allocate once memory is fragmented, and GUP then fails with -EFAULT).
 *
 * Every data frame carries a write counter (each completed L2 store adds one), an owner (the L1
 * page it backs + 1) and a generation that changes whenever the frame is retired, so a store that
 * lands in a frame that no longer backs its page is caught online (I5).
 */
import { CTRL, L1CTRL } from './records.js';
import { BACKING_BUSY, BACKING_FRAME_MASK, BACKING_ORDER_SHIFT, type Machine } from './machine.js';
import { lockWord, unlockWord, MMU_LOCK_SPINS } from '../sync/lock.js';

/** A cheap integer hash (deterministic chunk choices). */
export function hash32(x: number, seed: number): number {
  let h = (x ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The backing order the host uses for the chunk holding L1 page `page`. */
export function chosenOrder(m: Machine, page: number): number {
  const w = m.w;
  const seed = w[m.ctrl(CTRL.backingSeed)];
  const t1g = w[m.ctrl(CTRL.backingMix1G)];
  const t2m = w[m.ctrl(CTRL.backingMix2M)];
  if (t1g > 0 && m.topOrder >= 2) {
    const chunk = Math.floor(page / m.orderFrames[2]);
    if ((chunk + 1) * m.orderFrames[2] <= m.L.l1Pages && (hash32(chunk, seed) & 0xffff) < t1g) return 2;
  }
  if (t2m > 0) {
    const chunk = Math.floor(page / m.orderFrames[1]);
    if ((chunk + 1) * m.orderFrames[1] <= m.L.l1Pages && (hash32(chunk, seed ^ 0x2d) & 0xffff) < t2m) return 1;
  }
  return 0;
}

export function backingFrame(b: number): number {
  return (b & BACKING_FRAME_MASK) - 1;
}

export function backingOrder(b: number): number {
  return (b >>> BACKING_ORDER_SHIFT) & 3;
}

export function hostLock(m: Machine): void {
  lockWord(m.w, m.hostLockIndex(), MMU_LOCK_SPINS);
}

export function hostUnlock(m: Machine): void {
  unlockWord(m.w, m.hostLockIndex());
}

/**
 * GUP: make L1 page `page` resident and return its backing word, or 0 when the host cannot
 * (out of memory). Lock-free when the page is resident (GUP-fast); otherwise takes the host lock,
 * which a running migration or swap-out holds, so a fault on a page being moved waits for it.
 */
export function hostFaultIn(m: Machine, page: number, swapInCounter = -1): number {
  const w = m.w;
  const bi = m.L.backingWord + page;
  const fast = Atomics.load(w, bi);
  if (fast !== 0 && (fast & BACKING_BUSY) === 0) return fast;
  hostLock(m);
  let b = Atomics.load(w, bi);
  if (b === 0) b = backBlockLocked(m, page, swapInCounter);
  hostUnlock(m);
  return b;
}

/**
 * Back the whole chunk holding `page` with a fresh block, restoring swapped write counts. A
 * block that had been swapped out counts one swap-in in counter word `swapInCounter` of the
 * float64 counter view (the caller's `swapIns`), as a swap-out counts one per block.
 */
function backBlockLocked(m: Machine, page: number, swapInCounter: number): number {
  const order = chosenOrder(m, page);
  const n = m.orderFrames[order];
  const first = Math.floor(page / n) * n;
  const f0 = m.allocFramesLocked(order);
  if (f0 < 0) {
    Atomics.add(m.w, m.ctrl(CTRL.hostOom), 1);
    return 0;
  }
  const swapped = installBlockLocked(m, first, n, f0, order, true);
  if (swapped > 0 && swapInCounter >= 0) m.f64[swapInCounter] += 1;
  return Atomics.load(m.w, m.L.backingWord + page);
}

/**
 * A swap slot (`swapWritesWord`) holds the page's write count with this flag while the page is
 * swapped out. Counts stay below 2^30 (frame write counters are 32-bit words).
 */
export const SWAP_SLOT_USED = 1 << 30;

/**
 * Point L1 pages [first, first + n) at frames [f0, f0 + n). With `restoreSwap`, each frame's
 * write counter is the page's saved swap count (0 for a page never written). Returns how many
 * of the pages were swapped out. Host lock held.
 */
export function installBlockLocked(m: Machine, first: number, n: number, f0: number, order: number, restoreSwap: boolean): number {
  const w = m.w;
  const L = m.L;
  let swapped = 0;
  // 1. Every frame's count and owner before any page of the block becomes visible. A page's
  //    backing word is what GUP-fast returns, and the L1-table leaf L0 builds from it can cover
  //    the whole huge block: a store to another page of the block can then land at once, so
  //    that page's count must already be restored (else the restore overwrites the store).
  for (let k = 0; k < n; k++) {
    const f = f0 + k;
    if (restoreSwap) {
      const slot = w[L.swapWritesWord + first + k];
      if ((slot & SWAP_SLOT_USED) !== 0) {
        swapped++;
        Atomics.sub(w, m.l1ctrl(L1CTRL.swappedWrites), slot & ~SWAP_SLOT_USED);
      }
      Atomics.store(w, L.frameWritesWord + f, slot & ~SWAP_SLOT_USED);
    }
    Atomics.store(w, L.frameOwnerWord + f, m.ownerOf(first + k));
  }
  // 2. Publish the backing words.
  for (let k = 0; k < n; k++) Atomics.store(w, L.backingWord + first + k, (order << BACKING_ORDER_SHIFT) | (f0 + k + 1));
  // 3. Only now empty the swap slots: a lock-free reader of a page's write count (the harvest's
  //    completeness check, `pageWrites`) reads the swap slot while the backing word is 0, so
  //    emptying it first would show it a count of 0 for a swapped-in page.
  if (restoreSwap) for (let k = 0; k < n; k++) Atomics.store(w, L.swapWritesWord + first + k, 0);
  return swapped;
}

/**
 * Mark (or clear) the busy bit on every page of a block so GUP-fast backs off: the host's page
 * table entry is gone. Linux clears host entries only inside the MMU-notifier bracket (after
 * `invalidate_range_start` has begun KVM's invalidation), so marking requires an invalidation in
 * progress; marking outside one would make KVM see a vanished entry with no retry pending (window
 * P3 reachable only through that wrong order). Host lock held.
 */
export function markBlockBusyLocked(m: Machine, first: number, n: number, busy: boolean): void {
  const w = m.w;
  if (busy && Atomics.load(w, m.l1ctrl(L1CTRL.mmuInProgress)) === 0) {
    throw new Error(`host block at L1 page ${first}: its entries cleared outside an MMU-notifier bracket (no invalidation in progress)`);
  }
  for (let k = 0; k < n; k++) {
    const i = m.L.backingWord + first + k;
    const b = w[i];
    if (b !== 0) Atomics.store(w, i, busy ? b | BACKING_BUSY : b & ~BACKING_BUSY);
  }
}

/**
 * Retire frames [f0, f0 + n): bump each generation (a later store through a stale translation
 * is then detectable) and clear the owner. The caller frees the block. Host lock held.
 */
export function retireBlockLocked(m: Machine, f0: number, n: number): void {
  const w = m.w;
  const L = m.L;
  for (let k = 0; k < n; k++) {
    Atomics.add(w, L.frameGenWord + f0 + k, 1);
    Atomics.store(w, L.frameOwnerWord + f0 + k, 0);
  }
}
