/**
 * L0's radix mechanism (kernel `book3s_64_mmu_radix.c`): create a PTE in a partition-scoped
 * table (L0's table for L1, or a shadow table), set R/C, free sub-trees, and instantiate an L1
 * page. The table is a parameter (`RadixTable`: its root, the lpid its tlbies name, and how one
 * of its leaves is unmapped), as `kvmppc_create_pte(kvm, pgtable, ..., lpid, ...)` takes the table
 * and lpid, so the nesting policy (nested-fault.ts, l1-table.ts, shadow.ts) reuses it. Nothing here
 * reads a nested-guest record or the nested rmap: those belong to the nesting side.
 */
import { COST, COST_CAT } from '../cost/model.js';
import { MEMSLOT_LOG_DIRTY, BACKING_BUSY } from '../memory/machine.js';
import { backingFrame, backingOrder, hostFaultIn } from '../memory/host.js';
import {
  PAGE_ACCESSED,
  PAGE_DIRTY,
  PAGE_EXEC,
  PAGE_PRESENT,
  PAGE_PTE,
  PAGE_READ,
  PAGE_WRITE,
  PTE_NLB_MASK,
  PTE_RPN_MASK,
  makeDir,
  makeLeaf,
} from '../mmu/pte.js';
import { LEVEL_PMD, LEVEL_PTE, LEVEL_PUD, pnAlign, pnCount } from '../mmu/geometry.js';
import { UNIT_WORDS, findLeafLocked, pteUpdate, type LeafRef, type TableSpace } from '../mmu/tree.js';
import { COUNTER } from '../stats/counters.js';
import { MUT, FIX, type HvContext } from './context.js';
import { EAGAIN, ENOMEM, EFAULT } from './outcome.js';
import { insertNestRmapLocked, rmapNodeAvailableLocked } from './rmap.js';
import { rcUpdateLocked } from './pte-update.js';
import type { RadixTable } from './radix-table.js';

/** PGD unit of L0's table for L1 in the host table space. */
export const L1_TABLE_PGD_UNIT = 0;

/** L1 base page of a 4 KiB page number. */
export function pageOfPn(ctx: HvContext, pn: number): number {
  return pn >>> ctx.g.basePnShift; // page numbers stay below 2^32 (addresses below 16 TiB)
}

/** Mark L1 pages [firstPage, firstPage + nPages) in the dirty bitmap (kvmppc_update_dirty_map). */
export function markDirtyRange(ctx: HvContext, firstPage: number, nPages: number): void {
  const w = ctx.w;
  for (let p = firstPage; p < firstPage + nPages; p++) Atomics.or(w, ctx.L.dirtyWord + (p >>> 5), 1 << (p & 31));
}

/**
 * Free the table a directory entry points to, unmapping every leaf below it (the `full = false`
 * path of kvmppc_unmap_free_p?d_entry_table: kvmppc_unmap_free_pmd / kvmppc_unmap_free_pte).
 * As written (window P6), each leaf goes to kvmppc_unmap_pte with `pte_pfn(*p) << PAGE_SHIFT`: its
 * HOST real address, taken as the guest address (tlbie address, memslot, rmap range, dirty map);
 * `fixes: [p6]` passes the leaf's guest address. Lock: mmu_lock.
 */
function unmapFreeTableLocked(ctx: HvContext, table: RadixTable, dir: number, level: number, basePnOfRange: number): void {
  const m = ctx.m;
  const w = ctx.w;
  const unit = m.unitOfPn(m.hostSpace, dir & PTE_NLB_MASK);
  const base = m.hostSpace.word + unit * UNIT_WORDS;
  const g = ctx.g;
  const n = 1 << g.bits[level];
  const step = 2 ** g.pnShift[level];
  for (let k = 0; k < n; k++) {
    const e = Atomics.load(w, base + k);
    if (e >= 0) {
      if (e !== 0) Atomics.store(w, base + k, 0);
      continue;
    }
    const pn = basePnOfRange + k * step;
    if ((e & PAGE_PTE) !== 0) {
      if (ctx.fixed(FIX.p6)) table.unmapLeaf(ctx, table, base + k, pn, g.leafShift[level]);
      else {
        const hostPn = e & PTE_RPN_MASK;
        table.misaddressed(ctx, hostPn, pn, g.leafShift[level]);
        table.unmapLeaf(ctx, table, base + k, hostPn, g.leafShift[level]);
      }
    } else {
      Atomics.store(w, base + k, 0);
      unmapFreeTableLocked(ctx, table, e, level - 1, pn);
    }
  }
  m.freeTableUnit(m.hostSpace, unit);
}

// ---- create ----------------------------------------------------------------------------------

/**
 * kvmppc_create_pte: install leaf `pte` for 4 KiB page `pn` at `level` in `table`, if no
 * invalidation has run since `seq` was read. For shadow inserts, `rmapPage >= 0` names the L1
 * page whose rmap gets (rmapLpid, pn) in the same critical section. Returns 0, EAGAIN or ENOMEM.
 * Lock: takes mmu_lock (pre-allocation happens before).
 */
export function createPte(
  ctx: HvContext,
  table: RadixTable,
  pn: number,
  pte: number,
  level: number,
  seq: number,
  rmapPage: number,
  rmapLpid: number,
): number {
  const m = ctx.m;
  const w = ctx.w;
  const g = ctx.g;
  const space: TableSpace = m.hostSpace;
  const pgdWord = space.word + table.pgdUnit * UNIT_WORDS + ((pn >>> g.pnShift[3]) & ((1 << g.bits[3]) - 1));

  // 1. Pre-allocate missing intermediate tables outside the lock.
  let newPud = -1;
  let newPmd = -1;
  let newPte = -1;
  const pgdE = Atomics.load(w, pgdWord);
  let pudE = 0;
  if (pgdE < 0) {
    pudE = Atomics.load(w, entryIn(ctx, pgdE, pn, LEVEL_PUD));
  } else {
    newPud = m.allocTableUnit(space);
  }
  let pmdE = 0;
  const pudIsDir = pudE < 0 && (pudE & PAGE_PTE) === 0;
  if (pudIsDir) pmdE = Atomics.load(w, entryIn(ctx, pudE, pn, LEVEL_PMD));
  else if (level <= LEVEL_PMD) newPmd = m.allocTableUnit(space);
  const pmdIsDir = pudIsDir && pmdE < 0 && (pmdE & PAGE_PTE) === 0;
  if (level === LEVEL_PTE && !pmdIsDir) newPte = m.allocTableUnit(space);

  // 2. Under the lock, re-validate against the sequence number.
  ctx.mmuLock();
  let ret = EAGAIN;
  const checkSeq = !(!table.isL1Table && ctx.has(MUT['skip-mmu-seq-check']));
  try {
    if (checkSeq && ctx.retrySeq(seq)) return ret;
    // A shadow insert needs its rmap node (kernel: allocated before create_pte; on failure the
    // fault returns RESUME_GUEST). Never install a shadow leaf the rmap cannot find (I1).
    if (rmapPage >= 0 && !rmapNodeAvailableLocked(ctx)) return ret;
    ret = ENOMEM;
    // 3. Walk down, populating and resolving conflicts. Entries are read with plain loads: we
    //    hold mmu_lock, under which every structural change is made (see findLeafLocked); leaf
    //    values that matter are re-read atomically (mergeLeafLocked's CAS).
    let e = w[pgdWord];
    if (e >= 0) {
      if (newPud < 0) return ret;
      e = makeDir(space.basePn + newPud, g.bits[2]);
      Atomics.store(w, pgdWord, e);
      newPud = -1;
    }
    const pudWord = entryIn(ctx, e, pn, LEVEL_PUD);
    const r1 = hugeStepLocked(ctx, table, pudWord, LEVEL_PUD, level, pn, pte, newPmd >= 0, rmapPage, rmapLpid);
    if (r1 !== CONTINUE) return (ret = r1);
    let pud = w[pudWord];
    if (pud >= 0) {
      if (newPmd < 0) return ret;
      pud = makeDir(space.basePn + newPmd, g.bits[1]);
      Atomics.store(w, pudWord, pud);
      newPmd = -1;
    }
    const pmdWord = entryIn(ctx, pud, pn, LEVEL_PMD);
    const r2 = hugeStepLocked(ctx, table, pmdWord, LEVEL_PMD, level, pn, pte, newPte >= 0, rmapPage, rmapLpid);
    if (r2 !== CONTINUE) return (ret = r2);
    let pmd = w[pmdWord];
    if (pmd >= 0) {
      if (newPte < 0) return ret;
      pmd = makeDir(space.basePn + newPte, g.bits[0]);
      Atomics.store(w, pmdWord, pmd);
      newPte = -1;
    }
    const ptep = entryIn(ctx, pmd, pn, LEVEL_PTE);
    const old = w[ptep];
    const basePn = pnAlign(pn, g.pageShift);
    if (old < 0) return (ret = mergeLeafLocked(ctx, table, ptep, old, pte, basePn, g.pageShift, rmapPage, rmapLpid));
    installLeafLocked(ctx, ptep, pte, rmapPage, rmapLpid, basePn);
    return (ret = 0);
  } finally {
    ctx.mmuUnlock();
    // 4. Free unused pre-allocations.
    if (newPud >= 0) m.freeTableUnit(space, newPud);
    if (newPmd >= 0) m.freeTableUnit(space, newPmd);
    if (newPte >= 0) m.freeTableUnit(space, newPte);
  }
}

/** `hugeStepLocked` result: go one level down. */
const CONTINUE = 1;

/**
 * The 1 GiB (PUD) or 2 MiB (PMD) step of create_pte for entry word `i` at level `lv`, when we
 * want a leaf at level `want`: a leaf already there is merged (want === lv) or unmapped to make
 * room (needs the next-level table pre-allocated, else EAGAIN: we raced with a huge insert); a
 * directory where we want the huge leaf is cleared, the page-walk cache flushed and the sub-tree
 * freed with proper unmaps. Returns 0/EAGAIN when done, CONTINUE to go down. Lock: mmu_lock.
 */
function hugeStepLocked(
  ctx: HvContext,
  table: RadixTable,
  i: number,
  lv: number,
  want: number,
  pn: number,
  pte: number,
  haveNextTable: boolean,
  rmapPage: number,
  rmapLpid: number,
): number {
  const shift = ctx.g.leafShift[lv];
  const hPn = pnAlign(pn, shift);
  let e = ctx.w[i]; // plain: mmu_lock held (see createPte step 3)
  if (e < 0 && (e & PAGE_PTE) !== 0) {
    if (want === lv) return mergeLeafLocked(ctx, table, i, e, pte, hPn, shift, rmapPage, rmapLpid);
    if (!haveNextTable) return EAGAIN;
    table.unmapLeaf(ctx, table, i, hPn, shift);
    e = 0;
  }
  if (want !== lv) return CONTINUE;
  if (e !== 0) {
    Atomics.store(ctx.w, i, 0);
    if (e < 0) {
      ctx.shootdown(ctx, table.lpid, 0, -1); // page-walk cache flush
      unmapFreeTableLocked(ctx, table, e, lv - 1, hPn);
    }
  }
  installLeafLocked(ctx, i, pte, rmapPage, rmapLpid, hPn);
  return 0;
}

/** Word index of the entry for `pn` at `level` in the table a directory word points to. */
function entryIn(ctx: HvContext, dir: number, pn: number, level: number): number {
  const g = ctx.g;
  return ctx.m.hostSpace.word + ((dir & PTE_NLB_MASK) - ctx.m.hostSpace.basePn) * UNIT_WORDS + ((pn >>> g.pnShift[level]) & ((1 << g.bits[level]) - 1));
}

/** kvmppc_radix_set_pte_at + kvmhv_insert_nest_rmap, one critical section. Lock: mmu_lock. */
function installLeafLocked(ctx: HvContext, i: number, pte: number, rmapPage: number, rmapLpid: number, leafPn: number): void {
  Atomics.store(ctx.w, i, pte); // plain store + ptesync: only into an entry found non-present
  ctx.chargeItem(COST.pteUpdateCycles, COST_CAT.pte);
  if (rmapPage >= 0 && !ctx.has(MUT['skip-rmap'])) insertNestRmapLocked(ctx, rmapPage, rmapLpid, leafPn);
}

/**
 * A leaf is already present where we want ours: identical -> nothing to do; otherwise the
 * kernel merges (old | new, WARN if bits outside W/D/A differ) and inserts no rmap entry.
 * An RPN difference is window P4 (§7): reported as a violation; `fixes: [p4]` replaces the leaf
 * (full unmap of the old one, then install with rmap) instead of OR-ing two real page numbers.
 */
function mergeLeafLocked(
  ctx: HvContext,
  table: RadixTable,
  i: number,
  old: number,
  pte: number,
  leafPn: number,
  shift: number,
  rmapPage: number,
  rmapLpid: number,
): number {
  if (old === pte) return 0;
  if (((old ^ pte) & PTE_RPN_MASK) !== 0) {
    if (ctx.fixed(FIX.p4)) {
      table.unmapLeaf(ctx, table, i, leafPn, shift);
      installLeafLocked(ctx, i, pte, rmapPage, rmapLpid, leafPn);
      return 0;
    }
    ctx.report.rpnMerge(table.ownerLpid, leafPn, old, pte);
  }
  // Differences outside W/D/A (PAGE_MERGE_OK) would WARN in the kernel; the merge is the same.
  pteUpdate(ctx.w, i, 0, pte & ~PAGE_PRESENT & ~PAGE_PTE);
  return 0;
}

// ---- R/C ---------------------------------------------------------------------------------------

/**
 * kvmppc_hv_handle_set_rc: find the leaf covering `pn` in `table` (`ref` says where); if present
 * and (a load, or the leaf is writable) CAS-OR in R (and C for a store) and return true. No
 * tlbie: setting bits needs none. Lock: mmu_lock.
 */
export function handleSetRcLocked(ctx: HvContext, table: RadixTable, pn: number, store: boolean, ref: LeafRef): boolean {
  const i = findLeafLocked(ctx.w, ctx.m.hostSpace, table.pgdUnit, pn, ctx.g, ref);
  if (i < 0) return false;
  const leaf = Atomics.load(ctx.w, i);
  if (store && (leaf & PAGE_WRITE) === 0) return false;
  rcUpdateLocked(ctx, i, 0, PAGE_ACCESSED | (store ? PAGE_DIRTY : 0), table.isL1Table); // M5: non-atomic
  return true;
}

// ---- instantiate -----------------------------------------------------------------------------

/** Result of book3sInstantiatePage (one per FaultScratch, reused). */
export class InstantiateResult {
  /** The leaf now in L0's table for L1. */
  hp = 0;
  /** Its level: 0 base, 1 = 2 MiB, 2 = 1 GiB. */
  level = 0;
}

/**
 * kvmppc_book3s_instantiate_page: fault in the host page behind L1 page `gpaPn` and map it in
 * `table` (L0's table for L1). Returns 0 (with `out` filled), EAGAIN, EFAULT or ENOMEM.
 * A host entry that vanished before the insert returns 0 with `out` untouched in the kernel
 * (window P3); nestsim reproduces that under `protocol: mainline` and returns EAGAIN with
 * `fixes: [p3]`. `slotFlags`: the memslot's flags as the caller saw them. Lock: takes mmu_lock.
 */
export function book3sInstantiatePage(
  ctx: HvContext,
  table: RadixTable,
  gpaPn: number,
  slotFlags: number,
  write: boolean,
  ro: boolean,
  out: InstantiateResult,
): number {
  const m = ctx.m;
  const w = ctx.w;
  // 1. Sequence number, then GUP.
  const seq2 = ctx.readSeq();
  ctx.chargeItem(COST.instantiateCycles, COST_CAT.host);
  const page = pageOfPn(ctx, gpaPn);
  const got = hostFaultIn(m, page, ctx.counterBase + COUNTER.swapIns);
  if (got === 0) return EFAULT;
  const upgrade = !write && !ro;
  // 2. Read the host's own entry under mmu_lock, only if no invalidation ran since seq2.
  ctx.mmuLock();
  let b = ctx.retrySeq(seq2) ? 0 : Atomics.load(w, ctx.L.backingWord + page);
  if ((b & BACKING_BUSY) !== 0) b = 0;
  ctx.mmuUnlock();
  if (b === 0) {
    // 3. No present host entry: "try again".
    return ctx.fixed(FIX.p3) ? EAGAIN : 0;
  }
  const hostOrder = backingOrder(b);
  const frame = backingFrame(b);
  // 4. Level: as large as the host entry, unless the slot logs dirty pages. The flags are the
  //    memslot's as the caller looked it up (the kernel's memslot pointer, fetched before the seq
  //    read): a fault that looked up the slot before dirty logging was switched off still maps
  //    base pages, and its create_pte succeeds if no flush has run since its seq read.
  const logging = (slotFlags & MEMSLOT_LOG_DIRTY) !== 0;
  let level = LEVEL_PTE;
  if (!logging && hostOrder === 2) level = LEVEL_PUD;
  else if (!logging && hostOrder >= 1) level = LEVEL_PMD;
  const leafShift = ctx.g.leafShift[level];
  const pagesInLeaf = Math.max(1, pnCount(leafShift) / ctx.L.basePn);
  const firstPage = Math.floor(page / pagesInLeaf) * pagesInLeaf;
  // Frames of a block are contiguous, so the leaf's first frame is frame - (page - firstPage).
  const hostPn = m.frameToHostPn(frame - (page - firstPage));
  // 5. Flags.
  let flags = PAGE_READ | PAGE_EXEC | PAGE_ACCESSED;
  if (!ro && (write || upgrade)) flags |= PAGE_WRITE | PAGE_DIRTY;
  const pte = makeLeaf(hostPn, flags);
  // 6. Insert.
  const r = createPte(ctx, table, firstPage * ctx.L.basePn, pte, level, seq2, -1, 0);
  if (r !== 0) return r;
  out.hp = pte;
  out.level = level;
  return 0;
}

/**
 * Read the leaf of `table` covering `gpaPn` (a copy; find_kvm_secondary_pte). Returns 0 when
 * absent; `ref` says where the lookup stopped and the leaf's level. Lock: mmu_lock.
 */
export function findKvmSecondaryPteLocked(ctx: HvContext, table: RadixTable, gpaPn: number, ref: LeafRef): number {
  const i = findLeafLocked(ctx.w, ctx.m.hostSpace, table.pgdUnit, gpaPn, ctx.g, ref);
  ctx.chargeItem(COST.l0WalkLevelCycles, COST_CAT.l0Walk, 4 - ref.level);
  return i < 0 ? 0 : Atomics.load(ctx.w, i);
}
