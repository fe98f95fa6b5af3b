/**
 * The nested reverse map: L1 page -> the shadow PTEs that map it (docs/model.md §1.4).
 * Mirrors kvmhv_insert_nest_rmap, kvmhv_remove_nest_rmap_range and
 * kvmhv_update_nest_rmap_rc_list in `book3s_hv_nested.c`.
 *
 * Storage: one head word per L1 base page (node + 1, 0 = empty) and a pool of nodes
 * {next, lpid, l2Pn}. Simplification: the kernel stores a lone entry inline in the slot (tagged
 * with bit 0) and ends lists with that inline value; nestsim always uses nodes. Behaviour
 * (dedup, insert in the fault's critical section, take-the-whole-slot on removal, pfn check)
 * is the kernel's. Every function here expects mmu_lock held.
 */
import { COST, COST_CAT } from '../cost/model.js';
import { CTRL, L1CTRL, RMAP_NODE_WORDS } from '../memory/records.js';
import { COUNTER } from '../stats/counters.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_PTE, PTE_RPN_MASK } from '../mmu/pte.js';
import { LeafRef, findLeaf } from '../mmu/tree.js';
import { pnCount } from '../mmu/geometry.js';
import { MUT, FIX, type HvContext } from './context.js';
import { findNestedLocked, shadowPgdUnit, GUEST, guestWord } from './guests.js';
import { unmapShadowPteLocked } from './shadow.js';
import { rcUpdateLocked } from './pte-update.js';
import { current } from '../sync/turnstile.js';

const NODE_NEXT = 0;
const NODE_LPID = 1;
const NODE_L2PN = 2;

function nodeWord(ctx: HvContext, node: number): number {
  return ctx.L.rmapNodesWord + node * RMAP_NODE_WORDS;
}

function allocNodeLocked(ctx: HvContext): number {
  const w = ctx.w;
  const freeI = ctx.m.l1ctrl(L1CTRL.rmapFree);
  const head = w[freeI];
  if (head !== 0) {
    w[freeI] = w[nodeWord(ctx, head - 1) + NODE_NEXT];
    return head - 1;
  }
  const bumpI = ctx.m.l1ctrl(L1CTRL.rmapBump);
  const n = w[bumpI];
  if (n >= ctx.L.rmapNodes) {
    w[ctx.m.ctrl(CTRL.rmapExhausted)]++;
    return -1;
  }
  w[bumpI] = n + 1;
  return n;
}

/**
 * Whether an insert can get a node (the kernel allocates it before create_pte; without one the
 * fault returns RESUME_GUEST and installs nothing). Counts a failure like `allocNodeLocked`.
 * Only mmu_lock holders take nodes, so a true answer holds for the rest of the critical section.
 * Lock: mmu_lock.
 */
export function rmapNodeAvailableLocked(ctx: HvContext): boolean {
  const w = ctx.w;
  if (w[ctx.m.l1ctrl(L1CTRL.rmapFree)] !== 0 || w[ctx.m.l1ctrl(L1CTRL.rmapBump)] < ctx.L.rmapNodes) return true;
  w[ctx.m.ctrl(CTRL.rmapExhausted)]++;
  return false;
}

function freeNodeLocked(ctx: HvContext, node: number): void {
  const freeI = ctx.m.l1ctrl(L1CTRL.rmapFree);
  ctx.w[nodeWord(ctx, node) + NODE_NEXT] = ctx.w[freeI];
  ctx.w[freeI] = node + 1;
}

/**
 * kvmhv_insert_nest_rmap: record that (lpid, l2Pn) maps L1 page `l1Page`. Deduplicated.
 * Lock: mmu_lock, in the same critical section that installs the shadow leaf.
 * Returns false only when the node pool is exhausted (the kernel's allocation failure).
 */
export function insertNestRmapLocked(ctx: HvContext, l1Page: number, lpid: number, l2Pn: number): boolean {
  current?.point('rmap-update');
  const w = ctx.w;
  const headI = ctx.L.rmapHeadWord + l1Page;
  const head = w[headI];
  for (let n = head; n !== 0; ) {
    const at = nodeWord(ctx, n - 1);
    if (w[at + NODE_LPID] === lpid && w[at + NODE_L2PN] === l2Pn) return true;
    n = w[at + NODE_NEXT];
  }
  const node = allocNodeLocked(ctx);
  if (node < 0) return false;
  ctx.chargeItem(COST.rmapInsertCycles, COST_CAT.rmap);
  const at = nodeWord(ctx, node);
  w[at + NODE_NEXT] = head;
  w[at + NODE_LPID] = lpid;
  w[at + NODE_L2PN] = l2Pn;
  w[headI] = node + 1; // plain: rmap words are read and written only under mmu_lock
  return true;
}

/**
 * The pfn check (kernel: the shadow leaf's RPN masked to the L1 mapping size must equal the
 * host page being removed). Stale rmap entries (n_gpa remapped, lpid reused) fail it and are
 * harmless. Mutation `skip-pfn-check` (M15, the benign control) skips it.
 */
function pfnMatches(ctx: HvContext, leaf: number, hostPn: number, l1Shift: number): boolean {
  if (ctx.has(MUT['skip-pfn-check'])) return true;
  const mask = pnCount(l1Shift) - 1;
  return ((leaf & PTE_RPN_MASK) & ~mask) === hostPn;
}

/**
 * kvmhv_remove_nest_rmap_range: for each L1 page in [l1Page, l1Page + nPages), take the whole
 * slot and unmap every shadow leaf it names that still maps host page `hostPn` (the start of the
 * L1-table leaf being removed, of size 2^l1Shift). Lock: mmu_lock.
 */
export function removeNestRmapRangeLocked(ctx: HvContext, l1Page: number, nPages: number, hostPn: number, l1Shift: number): void {
  current?.point('rmap-update');
  const w = ctx.w;
  const ref = new LeafRef(); // one per call (an invalidation, not an access)
  for (let p = l1Page; p < l1Page + nPages; p++) {
    let n = Atomics.exchange(w, ctx.L.rmapHeadWord + p, 0);
    while (n !== 0) {
      const at = nodeWord(ctx, n - 1);
      const next = w[at + NODE_NEXT];
      const lpid = w[at + NODE_LPID];
      const l2Pn = w[at + NODE_L2PN];
      ctx.count(COUNTER.rmapEntriesWalked);
      const slot = findNestedLocked(ctx, lpid);
      if (slot >= 0) {
        const i = findLeaf(w, ctx.m.hostSpace, shadowPgdUnit(slot), l2Pn, ctx.g, ref);
        if (i >= 0) {
          const leaf = Atomics.load(w, i);
          if (pfnMatches(ctx, leaf, hostPn, l1Shift)) {
            unmapShadowPteLocked(ctx, w[guestWord(ctx, slot, GUEST.shadowLpid)], i, l2Pn, ref.shift);
          }
        }
      }
      freeNodeLocked(ctx, n - 1);
      n = next;
    }
  }
}

/**
 * kvmhv_update_nest_rmap_rc_list: clear/set A or D in every shadow leaf named by L1 page
 * `l1Page`'s rmap that still maps `hostPn`, without removing entries, then tlbie.
 * Kernel-as-written (P1, docs/model.md §7) issues that tlbie with the rmap entry's lpid, which
 * is L1's number for the guest, not its shadow lpid; `fixes: [p1]` uses the shadow lpid.
 * Lock: mmu_lock.
 */
export function updateNestRmapRcListLocked(ctx: HvContext, l1Page: number, clr: number, set: number, hostPn: number, l1Shift: number): void {
  const w = ctx.w;
  if (((clr | set) & ~(PAGE_DIRTY | PAGE_ACCESSED)) !== 0) return; // only A and D
  const ref = new LeafRef(); // one per call (an invalidation, not an access)
  for (let n = w[ctx.L.rmapHeadWord + l1Page]; n !== 0; ) {
    const at = nodeWord(ctx, n - 1);
    const lpid = w[at + NODE_LPID];
    const l2Pn = w[at + NODE_L2PN];
    n = w[at + NODE_NEXT];
    ctx.count(COUNTER.rmapEntriesWalked);
    const slot = findNestedLocked(ctx, lpid);
    if (slot < 0) continue;
    const i = findLeaf(w, ctx.m.hostSpace, shadowPgdUnit(slot), l2Pn, ctx.g, ref);
    if (i < 0) continue;
    const leaf = Atomics.load(w, i);
    if ((leaf & PAGE_PTE) === 0 || !pfnMatches(ctx, leaf, hostPn, l1Shift)) continue;
    rcUpdateLocked(ctx, i, clr, set, false); // M5: non-atomic
    if (ctx.has(MUT['skip-tlb-flush-on-clean'])) continue; // M8
    const shadowLpid = w[guestWord(ctx, slot, GUEST.shadowLpid)];
    const tlbieLpid = ctx.fixed(FIX.p1) ? shadowLpid : lpid;
    ctx.shootdown(ctx, tlbieLpid, l2Pn, ref.shift);
    // P1: the shadow lpid's entries survive that tlbie; mark them as the window's.
    if (tlbieLpid !== shadowLpid) ctx.markP1Survivors(ctx, shadowLpid, l2Pn, ref.shift);
  }
}

/** Entries in L1 page `l1Page`'s rmap as [lpid, l2Pn] pairs (tests and the auditor). Cold. */
export function rmapEntries(ctx: HvContext, l1Page: number): Array<[number, number]> {
  const w = ctx.w;
  const out: Array<[number, number]> = [];
  for (let n = Atomics.load(w, ctx.L.rmapHeadWord + l1Page); n !== 0; ) {
    const at = nodeWord(ctx, n - 1);
    out.push([w[at + NODE_LPID], w[at + NODE_L2PN]]);
    n = w[at + NODE_NEXT];
  }
  return out;
}

/** Free every node of every slot (memslot free / VM teardown). Lock: mmu_lock. */
export function freeAllRmapLocked(ctx: HvContext): void {
  for (let p = 0; p < ctx.L.l1Pages; p++) {
    let n = Atomics.exchange(ctx.w, ctx.L.rmapHeadWord + p, 0);
    while (n !== 0) {
      const next = ctx.w[nodeWord(ctx, n - 1) + NODE_NEXT];
      freeNodeLocked(ctx, n - 1);
      n = next;
    }
  }
}
