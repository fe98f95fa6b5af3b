/**
 * The cold checks of a completed store (hw/cpu.ts keeps the hot part): a store whose cached
 * generation no longer matches its frame, and a store into a frame retired from under a page
 * window P6 had tainted.
 */
import { CTRL } from '../memory/records.js';
import { backingFrame } from '../memory/host.js';
import { FRAME_GEN_P6, NO_WINDOW, TAINT_P1, WINDOW } from '../invariants/windows.js';
import type { HvContext } from '../hv/context.js';
import { TLB_GEN_P1_STALE } from './tlb.js';

/**
 * A store through a translation of partition `lpid` whose cached generation `gen` is not frame
 * `frame`'s (`now`): the entry survived window P1's tlbie (taint the L1 page, so a dirty page the
 * harvest misses is told apart as P1's), or the frame was retired (migrated or swapped) after the
 * translation was cached, and the store lands in memory that no longer backs its page (I5; P6's
 * when the frame was retired from under a page P6 left untracked shadow leaves on).
 */
export function storeMismatch(ctx: HvContext, lpid: number, frame: number, gen: number, now: number): void {
  if ((gen & TLB_GEN_P1_STALE) !== 0) {
    const owner = Atomics.load(ctx.w, ctx.L.frameOwnerWord + frame);
    if (owner > 0) Atomics.or(ctx.w, ctx.m.ownerWord(ctx.L.windowTaintWord, owner), TAINT_P1);
    gen &= ~TLB_GEN_P1_STALE;
  }
  // TLB entries cache generations without P6's mark, so every store to a marked frame comes here.
  const p6 = (now & FRAME_GEN_P6) !== 0;
  if (p6) storeToP6Frame(ctx, frame);
  if (gen === (now & ~FRAME_GEN_P6)) return;
  ctx.report.storeToRetiredFrame(lpid, frame, gen, now & ~FRAME_GEN_P6, p6 ? WINDOW.P6 : NO_WINDOW);
}

/**
 * A store to a frame once retired from under a P6-tainted page: if the frame backs no page now,
 * or another page's frame is there, the store went through a translation P6 left untracked and
 * is lost; count it, so the audit's missing stores are told apart as P6's.
 */
function storeToP6Frame(ctx: HvContext, frame: number): void {
  const L = ctx.L;
  const owner = Atomics.load(ctx.w, L.frameOwnerWord + frame);
  const b = owner > 0 ? Atomics.load(ctx.w, ctx.m.ownerWord(L.backingWord, owner)) : 0;
  if (b === 0 || backingFrame(b) !== frame) Atomics.add(ctx.w, ctx.m.ctrl(CTRL.p6RetiredStores), 1);
}
