/**
 * The auditor: a full check of docs/model.md §6.3's invariants over the whole shared machine,
 * run at quiescent points (every vCPU and actor parked at a safe point, or after the run).
 * Violations go to the context's violation ring (`HvContext.violation`).
 *
 * Checked here:
 * - I1 every present shadow leaf maps host memory that backs a present L0 leaf for the L1 page
 *   L1's table names, and the rmap slot of that page's aligned gfn holds (lpid, n_gpa).
 * - I2 shadow permissions are contained in L1's leaf (R/W/X) and in L0's leaf for L1 (W).
 * - I3 shadow C => L0's leaf for L1 has C and L1's leaf has C; shadow R => L1's leaf has R.
 * - I4 every valid TLB entry is backed by its leaf and grants no more than it: a shadow leaf,
 *   or for entries of L1's own lpid (L1's own accesses) the leaf of L0's table for L1.
 * - I5 conservation: every completed store is counted in the frame that backs its page now
 *   (or in the page's swap slot); `lostWrites` is the shortfall.
 * - I7 each live guest's reference count is 1 (IDR) + the vCPUs inside it.
 * I6 (dirty-log completeness) is checked by the harvest itself (engine/duties.ts).
 */
import { COUNTER } from '../stats/counters.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_PTE, PAGE_READ, PAGE_WRITE, PTE_NLB_MASK, PTE_RPN_MASK } from '../mmu/pte.js';
import { pnAlign, pnCount } from '../mmu/geometry.js';
import { UNIT_WORDS, WALK_OK, WalkResult, findLeaf, walkRadixTree } from '../mmu/tree.js';
import { SWAP_SLOT_USED, backingFrame } from '../memory/host.js';
import { CTRL, L1CTRL, TLB_ENTRY_WORDS } from '../memory/records.js';
import type { HvContext } from '../hv/context.js';
import { GUEST, GUEST_LIVE, guestWord, lpidOfSlot, shadowPgdUnit } from '../hv/guests.js';
import { L1_TABLE_PGD_UNIT, pageOfPn } from '../hv/radix.js';
import { rmapEntries } from '../hv/rmap.js';
import { L1MemoryReader } from '../hv/l1-memory.js';
import { TLB_DATA, TLB_GEN, TLB_GEN_P1_STALE, TLB_INVALID, TLB_LPID, TLB_TAG, tlbBase } from '../hw/tlb.js';
import { NO_WINDOW, TAINT_P5, TAINT_P6, WINDOW } from '../invariants/windows.js';
import { LeafRef } from '../mmu/tree.js';

export interface AuditOptions {
  /** Completed stores by L1 (the sum of the writesCompleted of its vCPUs' workers). */
  writesCompleted: readonly number[];
  /** Which guest slot each vCPU is in (for I7), -1 = none. */
  vcpuGuests?: readonly number[];
}

/**
 * Completed stores by L1: each vCPU's count goes to its L1 (vCPU v runs in L1 v mod l1Count); a
 * block past the vCPUs' (a test driving the protocol from one thread) to L1 0.
 */
export function writesByL1(ctx: HvContext): number[] {
  const m = ctx.m;
  const n = m.L.l1Count;
  const out = new Array<number>(n).fill(0);
  for (let wk = 0; wk < m.L.workers; wk++) out[wk < m.L.vcpus ? wk % n : 0] += m.f64[m.counterIndex(wk, COUNTER.writesCompleted)];
  return out;
}

export interface AuditReport {
  shadowLeaves: number;
  tlbEntries: number;
  lostWrites: number;
  violations: number;
}

/**
 * Run every invariant check, in every L1 (each through `ctx`'s sibling there, so each violation
 * names its L1). Lock: none taken; the caller guarantees quiescence.
 */
export function audit(ctx: HvContext, o: AuditOptions): AuditReport {
  const before = Atomics.load(ctx.w, ctx.m.ctrl(CTRL.violationCount));
  ctx.count(COUNTER.audits);
  let shadowLeaves = 0;
  let tlbEntries = 0;
  let lostWrites = 0;
  for (let k = 0; k < ctx.L.l1Count; k++) {
    const c = ctx.forL1(k);
    for (let slot = 0; slot < c.L.guestCount; slot++) {
      if (Atomics.load(c.w, guestWord(c, slot, GUEST.state)) !== GUEST_LIVE) continue;
      shadowLeaves += auditShadowTree(c, slot);
    }
    tlbEntries += auditTlbs(c);
    lostWrites += auditWrites(c, o.writesCompleted[k] ?? 0);
    if (o.vcpuGuests) auditRefcounts(c, o.vcpuGuests);
  }
  const after = Atomics.load(ctx.w, ctx.m.ctrl(CTRL.violationCount));
  return { shadowLeaves, tlbEntries, lostWrites, violations: after - before };
}

const reader = new WeakMap<HvContext, L1MemoryReader>();

/** Visit every present leaf of guest `slot`'s shadow tree. */
export function forEachShadowLeaf(ctx: HvContext, slot: number, fn: (l2Pn: number, shift: number, leaf: number) => void): void {
  const m = ctx.m;
  const g = ctx.g;
  const visit = (tableWord: number, level: number, basePn: number): void => {
    const n = 1 << g.bits[level];
    const step = 2 ** g.pnShift[level];
    for (let k = 0; k < n; k++) {
      const e = Atomics.load(ctx.w, tableWord + k);
      if (e >= 0) continue;
      const pn = basePn + k * step;
      if ((e & PAGE_PTE) !== 0) fn(pn, level < 3 ? g.leafShift[level] : 39, e);
      else if (level > 0) visit(m.hostSpace.word + ((e & PTE_NLB_MASK) - m.hostSpace.basePn) * UNIT_WORDS, level - 1, pn);
    }
  };
  visit(m.hostSpace.word + shadowPgdUnit(slot) * UNIT_WORDS, 3, 0);
}

function auditShadowTree(ctx: HvContext, slot: number): number {
  const w = ctx.w;
  const m = ctx.m;
  let rd = reader.get(ctx);
  if (!rd) reader.set(ctx, (rd = new L1MemoryReader(m)));
  const walk = new WalkResult();
  const ref = new LeafRef();
  const l1Lpid = w[guestWord(ctx, slot, GUEST.l1Lpid)];
  const root = w[guestWord(ctx, slot, GUEST.l1Root)];
  const rts = w[guestWord(ctx, slot, GUEST.l1Rts)];
  let count = 0;
  forEachShadowLeaf(ctx, slot, (l2Pn, shift, leaf) => {
    count++;
    // L1's view of this L2 address.
    if (walkRadixTree(rd!, root, rts, l2Pn, walk) !== WALK_OK) {
      ctx.report.shadowWithoutL1Leaf(l1Lpid, l2Pn, leaf);
      return;
    }
    const gl = walk.leaf;
    const gpaPn = walk.raPn;
    // I2: permissions contained in L1's leaf.
    if ((leaf & PAGE_WRITE && !(gl & PAGE_WRITE)) || (leaf & PAGE_READ && !(gl & (PAGE_READ | PAGE_WRITE))) || (leaf & PAGE_EXEC && !(gl & PAGE_EXEC))) {
      ctx.report.shadowBeyondL1Leaf(l1Lpid, l2Pn, leaf, gl);
    }
    // L0's leaf for the L1 page.
    const hi = findLeaf(w, m.hostSpace, L1_TABLE_PGD_UNIT, gpaPn, ctx.g, ref);
    const hp = hi >= 0 ? Atomics.load(w, hi) : 0;
    const page = pageOfPn(ctx, gpaPn);
    const b = page < ctx.L.l1Pages ? Atomics.load(w, ctx.L.backingWord + page) : 0;
    const framePn = b !== 0 ? m.frameToHostPn(backingFrame(b)) : -1;
    // I1: the shadow leaf's host page is the one backing the L1 page now, through a present L0 leaf.
    const shadowPnForAddr = (leaf & PTE_RPN_MASK) + ((l2Pn & (pnCount(shift) - 1)) & ~0);
    const expectPn = framePn >= 0 ? framePn + (gpaPn % ctx.L.basePn) : -1;
    // Window P6 dropped this page's rmap list: its shadow leaves, untracked, outlive what should remove them.
    const p6 = page < ctx.L.l1Pages && (Atomics.load(w, ctx.L.windowTaintWord + page) & TAINT_P6) !== 0 ? WINDOW.P6 : NO_WINDOW;
    if (hp === 0 || framePn < 0 || pnAlign(shadowPnForAddr, ctx.g.pageShift) !== pnAlign(expectPn, ctx.g.pageShift)) {
      ctx.report.staleShadow(l1Lpid, l2Pn, leaf, hp, gpaPn, p6);
      return;
    }
    if ((leaf & PAGE_WRITE) !== 0 && (hp & PAGE_WRITE) === 0) ctx.report.shadowBeyondHostLeaf(l1Lpid, l2Pn, leaf, hp);
    // I1 (rmap): the aligned gfn's slot names this shadow leaf.
    const alignedPage = pageOfPn(ctx, pnAlign(gpaPn, ref.shift));
    let found = false;
    for (const [lp, pn] of rmapEntries(ctx, alignedPage)) if (lp === l1Lpid && pn === l2Pn) found = true;
    // The list that should name it is the aligned page's: window P6 may have dropped that one.
    const listP6 = alignedPage < ctx.L.l1Pages && (Atomics.load(w, ctx.L.windowTaintWord + alignedPage) & TAINT_P6) !== 0 ? WINDOW.P6 : p6;
    if (!found) ctx.report.shadowWithoutRmap(l1Lpid, l2Pn, leaf, hp, listP6);
    // I3: the dirty and referenced chains.
    if ((leaf & PAGE_DIRTY) !== 0 && ((hp & PAGE_DIRTY) === 0 || (gl & PAGE_DIRTY) === 0)) {
      const p5 = (hp & PAGE_DIRTY) === 0 && (Atomics.load(w, ctx.L.windowTaintWord + pageOfPn(ctx, gpaPn)) & TAINT_P5) !== 0;
      // An untracked leaf (P6) keeps its D through harvests: the rc-list cannot reach it.
      ctx.report.rcChainBroken(l1Lpid, l2Pn, leaf, hp, gl, p5 ? WINDOW.P5 : p6);
    }
    if ((leaf & PAGE_ACCESSED) !== 0 && (gl & PAGE_ACCESSED) === 0) ctx.report.rcChainBroken(l1Lpid, l2Pn, leaf, hp, gl);
  });
  return count;
}

function auditTlbs(ctx: HvContext): number {
  const w = ctx.w;
  const m = ctx.m;
  const L = ctx.L;
  const ref = new LeafRef();
  // shadow lpid -> slot
  const slotOfShadow = new Map<number, number>();
  for (let s = 0; s < L.guestCount; s++) {
    if (Atomics.load(w, guestWord(ctx, s, GUEST.state)) === GUEST_LIVE) slotOfShadow.set(w[guestWord(ctx, s, GUEST.shadowLpid)], s);
  }
  let n = 0;
  // The TLBs of this L1's vCPUs (vCPU v runs in L1 v mod l1Count): their entries are its own.
  for (let v = m.l1; v < L.vcpus; v += L.l1Count) {
    const base = tlbBase(m, v);
    for (let k = 0; k < L.tlbSets * L.tlbWays; k++) {
      const e = base + k * TLB_ENTRY_WORDS;
      const vpn = Atomics.load(w, e + TLB_TAG);
      if (vpn === TLB_INVALID) continue;
      n++;
      const lpid = w[e + TLB_LPID];
      const data = w[e + TLB_DATA];
      // An entry of L1's own lpid (hw/l1-direct.ts) caches a leaf of L0's table for L1; any other
      // lpid, a shadow leaf of the live guest with that shadow lpid. Shadow lpids start at 2.
      const own = lpid === ctx.l1Lpid;
      const slot = own ? undefined : slotOfShadow.get(lpid);
      const pn = vpn * L.basePn; // L2 (shadow) or L1 (own) 4 KiB page number
      const pgd = own ? L1_TABLE_PGD_UNIT : slot === undefined ? -1 : shadowPgdUnit(slot);
      const i = pgd < 0 ? -1 : findLeaf(w, m.hostSpace, pgd, pn, ctx.g, ref);
      const leaf = i >= 0 ? Atomics.load(w, i) : 0;
      const leafRpn = leaf !== 0 ? (leaf & PTE_RPN_MASK) + ((pn & (pnCount(ref.shift) - 1)) & ~(L.basePn - 1)) : -1;
      // Aging clears R in L0's table for L1 without a tlbie (the kernel as written: §5.4), so an
      // own entry may keep an R its leaf lost; that grants no access, only skips an R update.
      const grants = data & (PAGE_READ | PAGE_WRITE | PAGE_EXEC | PAGE_DIRTY | (own ? 0 : PAGE_ACCESSED));
      if (leaf === 0 || leafRpn !== (data & PTE_RPN_MASK) || (grants & ~leaf) !== 0) {
        const p1 = (Atomics.load(w, e + TLB_GEN) & TLB_GEN_P1_STALE) !== 0;
        ctx.report.tlbBeyondLeaf(own, lpid, pn, data, leaf, v, p1 ? WINDOW.P1 : NO_WINDOW);
      }
    }
  }
  return n;
}

/**
 * Completed stores to L1 page `page`: the counter of the frame backing it, or its swap slot.
 * Safe to call while the host moves the page: the backing word is re-read after the counter, so
 * a frame that was retired (and possibly handed to another page, its counter overwritten) between
 * the two reads is not trusted; the read is retried.
 */
export function pageWrites(ctx: HvContext, page: number): number {
  const w = ctx.w;
  const bi = ctx.L.backingWord + page;
  for (;;) {
    const b = Atomics.load(w, bi);
    const n = b === 0 ? Atomics.load(w, ctx.L.swapWritesWord + page) & ~SWAP_SLOT_USED : Atomics.load(w, ctx.L.frameWritesWord + backingFrame(b));
    if (Atomics.load(w, bi) === b) return n;
  }
}

/**
 * I5 conservation: every completed store is counted in the frame now backing its page or in its
 * page's swap slot. The sum walks what exists, not the address space: the frames handed out so
 * far (below the allocator's bump pointer) that back a page now, plus the swap slots' total kept
 * by the host. Returns the number of lost writes (0 when intact). Quiescent machine.
 */
function auditWrites(ctx: HvContext, completed: number): number {
  const w = ctx.w;
  const L = ctx.L;
  let sum = Atomics.load(w, ctx.m.l1ctrl(L1CTRL.swappedWrites));
  const used = Math.min(L.hostFrames, Atomics.load(w, ctx.m.ctrl(CTRL.hostBump)));
  // The frames that back a page of this L1 now (owner words of its pages: ownerOf).
  const lo = ctx.m.ownerOf(0);
  const hi = lo + L.l1Pages;
  // Only the frames some block was ever handed out of: not past the bump pointer, nor in the
  // uncarved rest of a split block (a first 4K page splits a whole 1G block). Plain reads: every
  // writer is parked, and the barrier's atomics order their stores before this.
  const gaps = [ctx.m.uncarvedFrames(0), ctx.m.uncarvedFrames(1), { from: used, to: used }].sort((a, b) => a.from - b.from);
  let f = 0;
  for (const gap of gaps) {
    for (const end = Math.min(gap.from, used); f < end; f++) {
      const owner = w[L.frameOwnerWord + f];
      if (owner >= lo && owner < hi) sum += w[L.frameWritesWord + f];
    }
    f = Math.max(f, gap.to);
  }
  const lost = completed - sum;
  // Stores through shadow leaves window P6 left untracked land in retired frames (counted there):
  // missing stores that many of those explain are P6's.
  const p6 = lost > 0 && lost <= Atomics.load(ctx.w, ctx.m.ctrl(CTRL.p6RetiredStores)) ? WINDOW.P6 : NO_WINDOW;
  if (lost !== 0) ctx.report.writesMissing(lost, completed, sum, p6);
  return Math.max(0, lost);
}

function auditRefcounts(ctx: HvContext, vcpuGuests: readonly number[]): void {
  const w = ctx.w;
  for (let s = 0; s < ctx.L.guestCount; s++) {
    if (Atomics.load(w, guestWord(ctx, s, GUEST.state)) !== GUEST_LIVE) continue;
    const inIdr = w[ctx.L.idrWord + s + 1] === s + 1 ? 1 : 0;
    let inside = 0;
    for (let v = ctx.m.l1; v < vcpuGuests.length; v += ctx.L.l1Count) if (vcpuGuests[v] === s) inside++;
    const ref = w[guestWord(ctx, s, GUEST.refcnt)];
    if (ref !== inIdr + inside) ctx.report.refcountMismatch(lpidOfSlot(s), ref, inIdr + inside);
  }
}
