/**
 * The two PTE-word updates of docs/model.md §2.5 that race with a lockless writer, and their
 * mutated forms: the R/C update (kvmppc_radix_update_pte clearing or setting R/C: a CAS loop)
 * and the unmap (kvmppc_unmap_pte's update with clr = all ones: an exchange to 0).
 *
 * Every caller holds mmu_lock, which excludes every software writer; the CAS and the exchange
 * are there for the one writer that takes no lock: the hardware setting R/C in a leaf of L0's
 * table for L1 while L1's own vCPUs access its memory (`hardware.l1Rc: auto`, hw/l1-direct.ts).
 * Mutations `nonatomic-rc` (M5) and `nonatomic-unmap` (M6) replace them with a plain read, then
 * a write, so a bit the hardware sets between the two is lost. The named point 'nonatomic-rmw'
 * between the read and the write exists only in the mutated code: `stress.pause` sleeps there
 * (engine/setup.ts) so the hardware gets to run inside the window, which is otherwise two
 * statements wide. The pause changes no state.
 */
import { COST, COST_CAT } from '../cost/model.js';
import { pteUpdate } from '../mmu/tree.js';
import { PAGE_DIRTY } from '../mmu/pte.js';
import { COUNTER } from '../stats/counters.js';
import { MUT, type HvContext } from './context.js';
import { current } from '../sync/turnstile.js';

/**
 * Whether the mutated window may lose a C bit to the hardware, so `stress.pause` should widen
 * it: the word is in a table the hardware writes R/C into without a lock (L0's table for L1 with
 * `hardware.l1Rc: auto`, a shadow table with `hardware.rc: auto`), it is a present leaf without
 * C, and the write does not set C itself. Elsewhere the window has nothing to lose and a pause
 * there would only slow the run. Reads state; changes none.
 */
function windowMayLoseC(ctx: HvContext, l1Table: boolean, old: number, set: number): boolean {
  return (l1Table ? ctx.l1RcAuto : ctx.rcAuto) && old < 0 && ((old | set) & PAGE_DIRTY) === 0;
}

/**
 * Run the 'nonatomic-rmw' hook at most once per mmu_lock hold: the pause lets the other threads
 * run, but they soon wait for mmu_lock, so later pauses in the same hold (an unmap of a 2 MiB
 * block visits hundreds of leaves) would only add time.
 */
function rmwHook(ctx: HvContext): void {
  const hold = ctx.counters[ctx.counterBase + COUNTER.mmuLockAcq];
  if (hold === ctx.rmwHookHold) return;
  ctx.rmwHookHold = hold;
  ctx.hook?.('nonatomic-rmw', ctx);
}

/**
 * Clear `clr` and set `set` (R/C bits) in PTE word `i` of L0's table for L1 (`l1Table`) or of a
 * shadow table; returns the old value. Lock: mmu_lock.
 */
export function rcUpdateLocked(ctx: HvContext, i: number, clr: number, set: number, l1Table: boolean): number {
  ctx.chargeItem(COST.pteUpdateCycles, COST_CAT.pte);
  current?.point('pte-update');
  let old: number;
  if (!ctx.has(MUT['nonatomic-rc'])) old = pteUpdate(ctx.w, i, clr, set);
  else {
    // M5: read, then write back; an R/C bit the hardware sets in between is overwritten.
    old = Atomics.load(ctx.w, i);
    if (windowMayLoseC(ctx, l1Table, old, set)) rmwHook(ctx);
    Atomics.store(ctx.w, i, (old | set) & ~clr);
  }
  // Controlled: the timeline shows the word before and after (one thread runs, so it is exact).
  current?.pteValues('pte-update', old, Atomics.load(ctx.w, i));
  return old;
}

/** Zero PTE word `i` and return what it held (the unmap's exchange). Lock: mmu_lock. */
export function unmapExchangeLocked(ctx: HvContext, i: number, l1Table: boolean): number {
  ctx.chargeItem(COST.pteUpdateCycles, COST_CAT.pte);
  current?.point('pte-update');
  let old: number;
  if (!ctx.has(MUT['nonatomic-unmap'])) old = Atomics.exchange(ctx.w, i, 0);
  else {
    // M6: read, then store 0; a C the hardware sets in between never reaches the dirty bitmap.
    old = Atomics.load(ctx.w, i);
    if (windowMayLoseC(ctx, l1Table, old, 0)) rmwHook(ctx);
    Atomics.store(ctx.w, i, 0);
  }
  current?.pteValues('pte-update', old, 0);
  return old;
}
