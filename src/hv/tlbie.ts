/**
 * Invalidations L1 asks of L0 for its nested guests (docs/model.md §5.1, §5.2):
 * H_TLB_INVALIDATE (kvmhv_emulate_priv_tlbie and its IS = 0/2/3 helpers) and
 * H_RPT_INVALIDATE with the NESTED type (do_h_rpt_invalidate_pat), in `book3s_hv_nested.c`.
 */
import { COUNTER } from '../stats/counters.js';
import { LeafRef, findLeafLocked } from '../mmu/tree.js';
import { PMD_SHIFT, PUD_SHIFT, bytesToPn, pnAlign, pnCount, pnToBytes } from '../mmu/geometry.js';
import { FIX, MUT, type HvContext } from './context.js';
import {
  GUEST,
  GUEST_FREE,
  findNestedLocked,
  flushNested,
  getNested,
  guestWord,
  lpidOfSlot,
  putNested,
  shadowPgdUnit,
  skipRefs,
} from './guests.js';
import { unmapShadowPteLocked } from './shadow.js';
import { H_P2, H_P4, H_P5, H_PARAMETER, H_SUCCESS } from './outcome.js';
import { MAX_NESTED_LPID } from '../memory/records.js';

/** Radix AP encodings -> page shift (device-tree defaults). */
export function apToShift(ap: number): number {
  switch (ap) {
    case 0:
      return 12;
    case 5:
      return 16;
    case 1:
      return PMD_SHIFT;
    case 2:
      return PUD_SHIFT;
    default:
      return -1;
  }
}

export function shiftToAp(shift: number): number {
  return shift === 16 ? 5 : shift === PMD_SHIFT ? 1 : shift === PUD_SHIFT ? 2 : 0;
}

/** Build the three H_TLB_INVALIDATE arguments (tests and the L1 actor). */
export function tlbieArgs(ric: number, is: number, lpid: number, addrBytes = 0, shift = 12): [number, number, number] {
  const instr = (ric << 18) | (1 << 16); // R = 1 (radix), PRS = 0 (partition scoped)
  const rb = pnToBytes(bytesToPn(addrBytes)) + is * 1024 + shiftToAp(shift) * 32;
  return [instr, lpid, rb];
}

/** Take a reference (get without create), honouring `skip-refcount` (M13). -1 when absent. */
function getRef(ctx: HvContext, lpid: number): number {
  if (!skipRefs(ctx)) return getNested(ctx, lpid, false);
  ctx.mmuLock();
  const s = findNestedLocked(ctx, lpid);
  ctx.mmuUnlock();
  return s;
}

function putRef(ctx: HvContext, slot: number): void {
  if (!skipRefs(ctx)) putNested(ctx, slot);
}

function lockGuest(ctx: HvContext, slot: number): boolean {
  if (ctx.has(MUT['skip-tlb-lock'])) return false;
  ctx.tlbLock(slot);
  return true;
}

/**
 * kvmhv_invalidate_shadow_pte loop: remove every shadow leaf in [pn, pn + 2^shift), one mmu_lock
 * hold per step; a step is the leaf's size, or a base page where none is found.
 * Lock: the guest's tlb_lock.
 */
export function invalidateShadowPtes(ctx: HvContext, slot: number, pn: number, shift: number): void {
  const g = ctx.g;
  let npages = Math.max(1, pnCount(shift) / pnCount(g.pageShift));
  let at = pnAlign(pn, shift);
  const ref = new LeafRef(); // one per call
  do {
    ctx.mmuLock();
    const i = findLeafLocked(ctx.w, ctx.m.hostSpace, shadowPgdUnit(slot), at, g, ref);
    let stepShift = g.pageShift;
    if (i >= 0) {
      stepShift = ref.shift;
      unmapShadowPteLocked(ctx, ctx.w[guestWord(ctx, slot, GUEST.shadowLpid)], i, at, stepShift);
    }
    ctx.mmuUnlock();
    const stepPages = pnCount(stepShift) / pnCount(g.pageShift);
    npages -= stepPages;
    at = pnAlign(at, stepShift) + pnCount(stepShift);
  } while (npages > 0);
}

/**
 * kvmhv_emulate_tlbie_tlb_addr: one page of one nested guest, with its own reference and its own
 * tlb_lock hold (a range takes them page by page). An lpid with no guest is ignored.
 */
function emulateTlbieTlbAddr(ctx: HvContext, lpid: number, pn: number, shift: number): void {
  const slot = getRef(ctx, lpid);
  if (slot < 0) return;
  const locked = lockGuest(ctx, slot);
  invalidateShadowPtes(ctx, slot, pn, shift);
  if (locked) ctx.tlbUnlock(slot);
  putRef(ctx, slot);
}

/**
 * H_TLB_INVALIDATE from L1 (kvmhv_emulate_priv_tlbie). `instr` is the tlbie instruction image,
 * `rs` holds the lpid, `rb` the IS/AP/EPN fields. Returns H_SUCCESS or H_PARAMETER.
 */
export function emulatePrivTlbie(ctx: HvContext, instr: number, rs: number, rb: number): number {
  const ric = (instr >>> 18) & 3;
  const prs = (instr >>> 17) & 1;
  const r = (instr >>> 16) & 1;
  const is = Math.floor(rb / 1024) & 3;
  const ap = Math.floor(rb / 32) & 7;
  const lpid = rs >>> 0;
  if (r === 0 || prs === 1 || ric === 3 || is === 1 || (is === 0 && ric !== 0)) return H_PARAMETER;
  if (is === 0) {
    const shift = apToShift(ap);
    if (shift < 0) return H_PARAMETER;
    ctx.count(COUNTER.tlbiePage);
    emulateTlbieTlbAddr(ctx, lpid, bytesToPn(rb), shift);
    return H_SUCCESS;
  }
  if (is === 2) {
    ctx.count(COUNTER.tlbieLpid);
    const slot = getRef(ctx, lpid);
    if (slot < 0) return H_SUCCESS;
    emulateTlbieLpid(ctx, slot, ric);
    putRef(ctx, slot);
    return H_SUCCESS;
  }
  ctx.count(COUNTER.tlbieAll);
  emulateTlbieAllLpid(ctx, ric);
  return H_SUCCESS;
}

/**
 * kvmhv_emulate_tlbie_lpid: the LPID-wide action under the guest's tlb_lock. A RIC 2 flush can
 * remove the guest; if that released it (its last reference gone: only possible when the caller
 * holds none, M13/P2), the mutex about to be unlocked is in freed memory (I7).
 */
function emulateTlbieLpid(ctx: HvContext, slot: number, ric: number): void {
  const w = ctx.w;
  const gen = w[guestWord(ctx, slot, GUEST.generation)];
  const locked = lockGuest(ctx, slot);
  flushNested(ctx, slot, ric);
  if (Atomics.load(w, guestWord(ctx, slot, GUEST.state)) === GUEST_FREE || w[guestWord(ctx, slot, GUEST.generation)] !== gen) {
    ctx.report.lockOfFreedGuest(false, lpidOfSlot(slot), gen);
  }
  if (locked) ctx.tlbUnlock(slot);
}

/**
 * kvmhv_emulate_tlbie_all_lpid (IS = 3): for every guest in the IDR, drop mmu_lock and apply the
 * LPID action. As written it takes NO reference (window P2, §7): a RIC 2 that removes an idle
 * guest frees it while the loop still holds its tlb_lock. `fixes: [p2]` takes one.
 */
function emulateTlbieAllLpid(ctx: HvContext, ric: number): void {
  const w = ctx.w;
  for (let lpid = 1; lpid < MAX_NESTED_LPID; lpid++) {
    ctx.mmuLock();
    const slot = findNestedLocked(ctx, lpid);
    ctx.mmuUnlock();
    if (slot < 0) continue;
    const gen = w[guestWord(ctx, slot, GUEST.generation)];
    if (ctx.fixed(FIX.p2)) {
      const s = getNested(ctx, lpid, false);
      if (s < 0) continue;
      emulateTlbieLpid(ctx, s, ric);
      putNested(ctx, s);
      continue;
    }
    const locked = lockGuest(ctx, slot);
    flushNested(ctx, slot, ric);
    if (Atomics.load(w, guestWord(ctx, slot, GUEST.state)) === GUEST_FREE || w[guestWord(ctx, slot, GUEST.generation)] !== gen) {
      // The object whose mutex we are about to release is gone (I7, P2).
      ctx.report.lockOfFreedGuest(true, lpid, gen); // no reference held: window P2's own path
    }
    if (locked) ctx.tlbUnlock(slot);
  }
}

// ---- H_RPT_INVALIDATE --------------------------------------------------------------------------

export const H_RPTI_TYPE_NESTED = 0x1;
export const H_RPTI_TYPE_TLB = 0x2;
export const H_RPTI_TYPE_PWC = 0x4;
export const H_RPTI_TYPE_PAT = 0x8;
export const H_RPTI_TYPE_NESTED_ALL = H_RPTI_TYPE_TLB | H_RPTI_TYPE_PWC | H_RPTI_TYPE_PAT;
export const H_RPTI_PAGE_4K = 0x1;
export const H_RPTI_PAGE_64K = 0x2;
export const H_RPTI_PAGE_2M = 0x4;
export const H_RPTI_PAGE_1G = 0x8;
export const H_RPTI_PAGE_ALL = -1;
/** tlb_range_flush_page_ceiling: larger ranges flush the whole LPID. */
export const TLB_RANGE_FLUSH_PAGE_CEILING = 33;
/** `end` meaning "to the end of the address space". */
export const H_RPTI_END_ALL = Number.MAX_SAFE_INTEGER;

/** H_RPTI_TARGET_CMMU: the only target the nested (partition-scoped) form accepts. */
export const H_RPTI_TARGET_CMMU = 0x1;
export const H_RPTI_TARGET_CMMU_LOCAL = 0x2;
export const H_RPTI_TARGET_NMMU = 0x4;

/**
 * The radix page sizes in mmu_psize_defs order with their H_RPTI page-size bit (set for every
 * size the processor's radix AP encodings list: on POWER9 all four, 4K included whatever the
 * base page size).
 */
const RPT_PAGE_SIZES: ReadonlyArray<readonly [number, number]> = [
  [H_RPTI_PAGE_4K, 12],
  [H_RPTI_PAGE_64K, 16],
  [H_RPTI_PAGE_2M, PMD_SHIFT],
  [H_RPTI_PAGE_1G, PUD_SHIFT],
];

/**
 * H_RPT_INVALIDATE from L1 (kvmppc_h_rpt_invalidate). `id` is the nested guest's lpid for the
 * nested form. Returns H_P5 when end < start, H_P2 when a nested request names any target but
 * the CMMU alone, else what the nested (do_h_rpt_invalidate_pat) form returns. The process-scoped
 * form (L1 invalidating its own process tables) is outside the model: nestsim's L1 issues none.
 */
export function hRptInvalidate(ctx: HvContext, id: number, target: number, type: number, pageSizes: number, start: number, end: number): number {
  if (end < start) return H_P5;
  if ((type & H_RPTI_TYPE_NESTED) === 0) return H_SUCCESS;
  if (target !== H_RPTI_TARGET_CMMU) return H_P2;
  return doHRptInvalidatePat(ctx, id, type, pageSizes, start, end);
}

/**
 * H_RPT_INVALIDATE, nested partition-scoped (do_h_rpt_invalidate_pat). Addresses are bytes. An
 * lpid with no nested guest is ignored (H_SUCCESS); NESTED_ALL flushes the LPID with RIC 2; the
 * whole address space flushes its TLB; a PWC-only request does nothing; otherwise the TLB range
 * (do_tlb_invalidate_nested_tlb).
 */
export function doHRptInvalidatePat(ctx: HvContext, lpid: number, type: number, pageSizes: number, start: number, end: number): number {
  ctx.count(COUNTER.rptRange);
  const slot = getRef(ctx, lpid);
  if (slot < 0) return H_SUCCESS;
  try {
    if ((type & H_RPTI_TYPE_NESTED_ALL) === H_RPTI_TYPE_NESTED_ALL) {
      emulateTlbieLpid(ctx, slot, 2);
      return H_SUCCESS;
    }
    if (start === 0 && end === H_RPTI_END_ALL) {
      emulateTlbieLpid(ctx, slot, 0);
      return H_SUCCESS;
    }
  } finally {
    putRef(ctx, slot);
  }
  if ((type & H_RPTI_TYPE_TLB) === 0) return H_SUCCESS;
  return doTlbInvalidateNestedTlb(ctx, lpid, pageSizes, start, end);
}

/**
 * do_tlb_invalidate_nested_tlb: for each page size the mask names (in mmu_psize_defs order), a
 * range of more than TLB_RANGE_FLUSH_PAGE_CEILING pages flushes the LPID's TLB instead and ends
 * the call; otherwise every page from `start` is invalidated, at least one (a do-while: start ==
 * end invalidates the page at start), each with its own reference and tlb_lock hold. H_P4 when
 * the mask names no size.
 */
function doTlbInvalidateNestedTlb(ctx: HvContext, lpid: number, pageSizes: number, start: number, end: number): number {
  let ret = H_P4;
  for (const [bit, shift] of RPT_PAGE_SIZES) {
    if ((pageSizes & bit) === 0) continue;
    const size = 2 ** shift;
    if (Math.floor((end - start) / size) > TLB_RANGE_FLUSH_PAGE_CEILING) {
      const slot = getRef(ctx, lpid);
      if (slot >= 0) {
        emulateTlbieLpid(ctx, slot, 0);
        putRef(ctx, slot);
      }
      return H_SUCCESS;
    }
    let addr = start;
    do {
      emulateTlbieTlbAddr(ctx, lpid, bytesToPn(addr - (addr % size)), shift);
      addr += size;
    } while (addr < end);
    ret = H_SUCCESS;
  }
  return ret;
}
