/**
 * The nested page fault (kernel `book3s_hv_nested.c`: kvmhv_nested_page_fault,
 * __kvmhv_nested_page_fault, kvmhv_translate_addr_nested, kvmhv_handle_nested_set_rc).
 * docs/model.md §3 and §4; the step letters A-J and INVAL below are §3.2's.
 *
 * Runs on the faulting vCPU's thread. Lock order: tlb_lock -> mmu_lock. Outcomes are values
 * (RESUME_GUEST, RESUME_HOST, RESUME_HOST_NV for MMIO, or a negative errno), and `v.kind` names
 * the branch taken.
 */
import {
  PAGE_ACCESSED,
  PAGE_DIRTY,
  PAGE_EXEC,
  PAGE_READ,
  PAGE_WRITE,
  PTE_RPN_MASK,
} from '../mmu/pte.js';
import { PMD_SHIFT, bytesToPn, levelForShift, pnAlign, pnCount } from '../mmu/geometry.js';
import { WALK_NOT_PRESENT, WALK_OK, WALK_READ_FAILED, WALK_UNSUPPORTED, findLeafLocked, walkRadixTree } from '../mmu/tree.js';
import { MEMSLOT_INVALID, MEMSLOT_READONLY } from '../memory/machine.js';
import { FIX, MUT, type HvContext } from './context.js';
import { COST, COST_CAT } from '../cost/model.js';
import { TAINT_P5 } from '../invariants/windows.js';
import { FAULT_KIND, FAULT_KIND_COUNTER, STAGE } from '../stats/kinds.js';
import { performance } from 'node:perf_hooks';
import { GUEST, guestWord, lpidOfSlot, shadowPgdUnit, updatePtblCache, guestAlive } from './guests.js';
import { createPte, handleSetRcLocked, book3sInstantiatePage, findKvmSecondaryPteLocked, pageOfPn } from './radix.js';
import { l1TableOf } from './l1-table.js';
import { shadowTableOf, unmapShadowPteLocked } from './shadow.js';
import type { FaultScratch } from './scratch.js';
import { EAGAIN, EFAULT, EINVAL, RESUME_GUEST, RESUME_HOST, RESUME_HOST_NV } from './outcome.js';
import {
  BOOK3S_INTERRUPT_H_INST_STORAGE,
  DSISR_BADACCESS,
  DSISR_BAD_COPYPASTE,
  DSISR_BAD_FAULT_64S,
  DSISR_ISSTORE,
  DSISR_NOEXEC_OR_G,
  DSISR_NOHPTE,
  DSISR_PRTABLE_FAULT,
  DSISR_PROTFAULT,
  DSISR_SET_RC,
  DSISR_UNSUPP_MMU,
  SRR1_ISI_N_G_OR_CIP,
  SRR1_MSR_BITS,
  type VcpuRegs,
} from './regs.js';

/**
 * kvmhv_nested_page_fault: take the guest's tlb_lock and run the body.
 * Mutation `skip-tlb-lock` (M4) runs the body without it.
 */
export function nestedPageFault(ctx: HvContext, v: VcpuRegs, s: FaultScratch): number {
  const slot = v.slot;
  const locked = !ctx.has(MUT['skip-tlb-lock']);
  if (locked) ctx.tlbLock(slot);
  // Faults in progress, for the lifetime check (I7). Under tlb_lock one body runs at a time, so
  // plain updates suffice (the unlock publishes them); without the lock (M4) they must be atomic.
  const inFault = guestWord(ctx, slot, GUEST.inFault);
  if (locked) ctx.w[inFault]++;
  else Atomics.add(ctx.w, inFault, 1);
  try {
    if (!guestAlive(ctx, slot, v.generation)) {
      // The guest this vCPU entered was freed under it (I7): only possible without references.
      ctx.report.faultInFreedGuest(lpidOfSlot(slot), v.generation);
      v.kind = FAULT_KIND.error;
      return EINVAL;
    }
    return nestedPageFaultBody(ctx, v, slot, s);
  } finally {
    if (locked) {
      ctx.w[inFault]--;
      ctx.tlbUnlock(slot);
    } else Atomics.sub(ctx.w, inFault, 1);
  }
}

/**
 * __kvmhv_nested_page_fault. `s` is the faulting vCPU's scratch: L1's translation lands in
 * `s.walk`, L0's lookup in `s.hostLeaf`, the instantiated leaf in `s.inst`. Lock: the guest's
 * tlb_lock (and the srcu read side).
 */
export function nestedPageFaultBody(ctx: HvContext, v: VcpuRegs, slot: number, s: FaultScratch): number {
  const w = ctx.w;
  const g = ctx.g;
  const dsisr = v.faultDsisr;
  const write = (dsisr & DSISR_ISSTORE) !== 0;

  // A. A cached root for L1's table, reloaded once if absent.
  if (w[guestWord(ctx, slot, GUEST.l1Root)] === 0) {
    updatePtblCache(ctx, slot);
    if (w[guestWord(ctx, slot, GUEST.l1Root)] === 0) {
      v.kind = FAULT_KIND.reflected;
      return RESUME_HOST;
    }
  }

  // B. The L2 real address (page number; the byte offset only matters for reports).
  let nGpaPn = bytesToPn(v.faultGpa);

  // C. L2 -> L1 through L1's own table.
  const wr = s.walk;
  const timed = ctx.sampleStages;
  let t = timed ? performance.now() : 0;
  // Modeled stages: from the modeled clock (no timer call), on the faults the caller samples.
  const modeled = ctx.sampleModeledStages;
  let mc = ctx.cyc;
  let r = translateAddrNested(ctx, v, slot, nGpaPn, dsisr, s);
  if (timed) t = stage(ctx, STAGE.l1Walk, t);
  if (modeled) mc = modeledStage(ctx, STAGE.l1Walk, mc);
  ctx.hook?.('after-translate', ctx);
  if (r === RESUME_HOST && (dsisr & (DSISR_PROTFAULT | DSISR_BADACCESS | DSISR_NOEXEC_OR_G | DSISR_BAD_COPYPASTE)) !== 0) {
    if (!ctx.has(MUT['skip-inval'])) return inval(ctx, v, slot, nGpaPn, s);
  }
  if (r !== 0) {
    v.kind = r === RESUME_HOST ? FAULT_KIND.reflected : FAULT_KIND.error;
    return r;
  }

  // D. An R/C fault: L0 sets the bits if L1's own PTE already has them.
  let flags = dsisr;
  if ((dsisr & DSISR_SET_RC) !== 0) {
    r = handleNestedSetRc(ctx, slot, nGpaPn, wr.leaf, wr.raPn, dsisr, s);
    if (r === RESUME_HOST) {
      v.kind = FAULT_KIND.rcReflected;
      return RESUME_HOST;
    }
    if (r !== 0) return inval(ctx, v, slot, nGpaPn, s);
    flags &= ~DSISR_SET_RC;
    if ((flags & (DSISR_BAD_FAULT_64S | DSISR_NOHPTE | DSISR_PROTFAULT)) === 0) {
      v.kind = FAULT_KIND.rcFixed;
      return RESUME_GUEST;
    }
  }

  // E. L1's page size must be at least L0's base page.
  const l1Shift = wr.pageShift;
  if (l1Shift < g.pageShift) {
    v.kind = FAULT_KIND.error;
    return EINVAL;
  }
  const gpaPn = wr.raPn;
  const gpaPage = pageOfPn(ctx, gpaPn);
  const l1Leaf = wr.leaf;

  // F. The memslot: none -> MMIO (or a DSI into L2); read-only -> DSI on a store.
  const memslot = ctx.m.memslotOf(gpaPage);
  const slotFlags = memslot < 0 ? 0 : ctx.m.slotFlags(memslot);
  if (memslot < 0 || (slotFlags & MEMSLOT_INVALID) !== 0) {
    if ((flags & (DSISR_PRTABLE_FAULT | DSISR_BADACCESS)) !== 0) {
      queueDsi(v, flags);
      return RESUME_GUEST;
    }
    // kvmppc_hv_emulate_mmio -> kvmppc_emulate_mmio: EMULATE_DO_MMIO, an exit to L0's
    // userspace (RESUME_HOST_NV). The ioeventfd fast path and an instruction that cannot be
    // fetched (RESUME_GUEST) are not modelled.
    v.mmioPending = true;
    v.kind = FAULT_KIND.mmio;
    return RESUME_HOST_NV;
  }
  let ro = false;
  if ((slotFlags & MEMSLOT_READONLY) !== 0) {
    if (write) {
      queueDsi(v, DSISR_ISSTORE | DSISR_PROTFAULT);
      return RESUME_GUEST;
    }
    ro = true;
  }

  // G. L0's own mapping of the L1 page, read after the sequence number.
  const late = ctx.has(MUT['late-seq-read']);
  let seq = late ? 0 : ctx.readSeq();
  // Window P5 (kernel as written): harvests of this page are not in `seq`; note how many so far.
  const p5 = !ctx.fixed(FIX.p5);
  const dirtyClears = p5 ? Atomics.load(w, ctx.L.dirtyClearSeqWord + gpaPage) : 0;
  ctx.hook?.('after-seq-read', ctx);
  ctx.mmuLock();
  let hp = findKvmSecondaryPteLocked(ctx, l1TableOf(ctx), gpaPn, s.hostLeaf);
  let hLevel = s.hostLeaf.level;
  ctx.mmuUnlock();
  if (timed) t = stage(ctx, STAGE.l0Lookup, t);
  if (modeled) mc = modeledStage(ctx, STAGE.l0Lookup, mc);
  ctx.hook?.('after-l1-lookup', ctx);
  if (late) seq = ctx.readSeq(); // M3: the window between lookup and read is unprotected
  let hshift = hp < 0 ? shiftOfLevel(ctx, hLevel) : g.pageShift;
  v.kind = FAULT_KIND.shadowInsert;
  if (hp >= 0 || (write && (hp & PAGE_WRITE) === 0)) {
    const inst = s.inst;
    // The kernel passes its own `pte` (the lookup copy) as the out-parameter: clear the reused
    // scratch so a vanished host entry (P3) keeps that copy, not an earlier fault's leaf.
    inst.hp = 0;
    r = book3sInstantiatePage(ctx, l1TableOf(ctx), gpaPn, slotFlags, write, ro, inst);
    if (r === EAGAIN) {
      v.kind = FAULT_KIND.retried;
      return RESUME_GUEST;
    }
    if (r !== 0) {
      // -EFAULT: GUP found no host memory for the page (an overcommitted host), a kind of its own.
      v.kind = r === EFAULT ? FAULT_KIND.hostOom : FAULT_KIND.error;
      return r;
    }
    // As written, a vanished host entry also returns 0 here and `inst` keeps whatever it held
    // (P3): hp stays the stale copy from the lookup and the level is the previous call's.
    if (inst.hp !== 0 && (inst.hp & PTE_RPN_MASK) !== 0) hp = inst.hp;
    hLevel = inst.level;
    hshift = shiftOfLevel(ctx, hLevel);
    v.kind = FAULT_KIND.hostInstantiate;
    if (timed) t = stage(ctx, STAGE.instantiate, t);
    if (modeled) mc = modeledStage(ctx, STAGE.instantiate, mc);
  }
  const gfnAlignedPn = pnAlign(gpaPn, hshift);

  // H. Permissions and R/C of the shadow leaf (§3.5).
  let spte = combine(ctx, hp, l1Leaf, write);

  // I. Shadow leaf size (§3.6).
  let sshift: number;
  if (hshift <= l1Shift) {
    sshift = hshift;
  } else {
    sshift = PMD_SHIFT < l1Shift ? PMD_SHIFT : g.pageShift;
    const between = (gpaPn & (pnCount(hshift) - 1)) & ~(pnCount(sshift) - 1);
    spte |= between;
  }
  const level = levelForShift(g, sshift);
  nGpaPn = pnAlign(nGpaPn, sshift);

  // J. Insert the shadow leaf and its rmap entry in one critical section.
  ctx.hook?.('before-commit', ctx);
  const shadow = shadowTableOf(ctx, slot, s.shadow);
  if (timed) t = performance.now();
  mc = ctx.cyc;
  r = createPte(ctx, shadow, nGpaPn, spte, level, seq, pageOfPn(ctx, gfnAlignedPn), shadow.ownerLpid);
  if (timed) stage(ctx, STAGE.shadowInsertCommit, t);
  if (modeled) modeledStage(ctx, STAGE.shadowInsertCommit, mc);
  if (r === EAGAIN) {
    v.kind = FAULT_KIND.retried;
    return RESUME_GUEST;
  }
  if (r !== 0) {
    v.kind = FAULT_KIND.error;
    return r;
  }
  // P5's own path: a harvest cleared this page's D after the seq read and the commit went ahead
  // (the fix would have retried it). A dirty shadow leaf built on that D taints the L1 pages it maps.
  if (p5 && (spte & PAGE_DIRTY) !== 0 && Atomics.load(w, ctx.L.dirtyClearSeqWord + gpaPage) !== dirtyClears) taintP5(ctx, gpaPn, sshift);
  return RESUME_GUEST;
}

/** Mark the L1 pages a shadow leaf of size 2^shift at L1 page number `gpaPn` maps with TAINT_P5. */
function taintP5(ctx: HvContext, gpaPn: number, shift: number): void {
  const first = pageOfPn(ctx, pnAlign(gpaPn, shift));
  const n = Math.max(1, pnCount(shift) / ctx.L.basePn);
  for (let p = first; p < first + n; p++) Atomics.or(ctx.w, ctx.L.windowTaintWord + p, TAINT_P5);
}

/** Record the time since `t0` as stage `k`; returns now. */
function stage(ctx: HvContext, k: number, t0: number): number {
  const t = performance.now();
  ctx.stages[k].record((t - t0) * 1e6);
  return t;
}

/** Record the modeled cycles since `c0` as stage `k`; returns the clock now. */
function modeledStage(ctx: HvContext, k: number, c0: number): number {
  ctx.modeledStage(k, ctx.cyc - c0);
  return ctx.cyc;
}

function shiftOfLevel(ctx: HvContext, level: number): number {
  return ctx.g.leafShift[level];
}

function queueDsi(v: VcpuRegs, dsisr: number): void {
  v.dsiPending = true;
  v.dsiDar = v.faultDar;
  v.dsiDsisr = dsisr;
  v.kind = FAULT_KIND.dsi;
}

/** INVAL: drop the shadow leaf at n_gpa (with tlbie) and let L2 re-fault. Takes mmu_lock. */
function inval(ctx: HvContext, v: VcpuRegs, slot: number, nGpaPn: number, s: FaultScratch): number {
  const ref = s.shadowLeaf;
  ctx.mmuLock();
  const i = findLeafLocked(ctx.w, ctx.m.hostSpace, shadowPgdUnit(slot), nGpaPn, ctx.g, ref);
  if (i >= 0) unmapShadowPteLocked(ctx, ctx.w[guestWord(ctx, slot, GUEST.shadowLpid)], i, nGpaPn, ref.shift);
  ctx.mmuUnlock();
  v.kind = FAULT_KIND.inval;
  return RESUME_GUEST;
}

/**
 * The shadow leaf from L0's leaf `hp` and L1's leaf `gl` (§3.5): permissions intersect; A only
 * if L1 has R; D only if L1 has C and this access is a store.
 * Mutations: `ignore-l1-perm` (M12) keeps hp's R/W/X; `ignore-l1-rc` (M9) keeps hp's D.
 */
export function combine(ctx: HvContext, hp: number, gl: number, write: boolean): number {
  let s = hp;
  if (!ctx.has(MUT['ignore-l1-perm'])) {
    if ((gl & PAGE_READ) === 0) s &= ~PAGE_READ;
    if ((gl & PAGE_WRITE) === 0) s &= ~PAGE_WRITE;
    if ((gl & PAGE_EXEC) === 0) s &= ~PAGE_EXEC;
  }
  if ((gl & PAGE_ACCESSED) === 0) s &= ~PAGE_ACCESSED;
  if (!ctx.has(MUT['ignore-l1-rc']) && !((gl & PAGE_DIRTY) !== 0 && write)) s &= ~PAGE_DIRTY;
  return s;
}

/**
 * kvmhv_translate_addr_nested: walk L1's table for n_gpa and check the access against L1's
 * permissions. 0 with `s.walk` filled, or RESUME_HOST with the reflected DSISR (and SRR1 for
 * HISI) written into the vCPU, or a raw error.
 */
export function translateAddrNested(ctx: HvContext, v: VcpuRegs, slot: number, nGpaPn: number, dsisr: number, s: FaultScratch): number {
  const w = ctx.w;
  let flags = dsisr & DSISR_ISSTORE;
  const root = w[guestWord(ctx, slot, GUEST.l1Root)];
  const rts = w[guestWord(ctx, slot, GUEST.l1Rts)];
  const wr = s.walk;
  const st = walkRadixTree(s.reader, root, rts, nGpaPn, wr);
  ctx.chargeItem(COST.l1WalkLevelCycles, COST_CAT.l1Walk, wr.reads);
  if (st !== WALK_OK) {
    if (st === WALK_UNSUPPORTED) flags |= DSISR_UNSUPP_MMU;
    else if (st === WALK_NOT_PRESENT) flags |= DSISR_NOHPTE;
    else if (st === WALK_READ_FAILED) {
      flags |= DSISR_PRTABLE_FAULT;
      v.faultGpa = wr.failAddr;
    } else return EINVAL;
    return reflect(v, flags);
  }
  const leaf = wr.leaf;
  if ((dsisr & DSISR_ISSTORE) !== 0) {
    if ((leaf & PAGE_WRITE) === 0) return reflect(v, flags | DSISR_PROTFAULT);
  } else if (v.trap === BOOK3S_INTERRUPT_H_INST_STORAGE) {
    if ((leaf & PAGE_EXEC) === 0) return reflect(v, flags | SRR1_ISI_N_G_OR_CIP);
  } else if ((leaf & (PAGE_READ | PAGE_WRITE)) === 0) {
    return reflect(v, flags | DSISR_PROTFAULT);
  }
  return 0;
}

function reflect(v: VcpuRegs, flags: number): number {
  v.faultDsisr = flags;
  // The MSR is rewritten in 64 bits: the upper word (srr1Hi) is all MSR and kept as it is.
  if (v.trap === BOOK3S_INTERRUPT_H_INST_STORAGE) v.srr1 = (v.srr1 & SRR1_MSR_BITS) | flags;
  return RESUME_HOST;
}

/**
 * kvmhv_handle_nested_set_rc: reflect if L1's own PTE `gl` lacks R (or C on a store); otherwise
 * set them in L0's table for L1 and in the shadow leaf in ONE mmu_lock hold. Takes mmu_lock.
 * Mutations: `skip-set-rc-check` (M10) skips the L1 check; `split-rc-lock` (M11) drops the lock
 * between the two sets (the pre-Dec-2018 code).
 */
export function handleNestedSetRc(ctx: HvContext, slot: number, nGpaPn: number, gl: number, gpaPn: number, dsisr: number, s: FaultScratch): number {
  const store = (dsisr & DSISR_ISSTORE) !== 0;
  const need = PAGE_ACCESSED | (store ? PAGE_DIRTY : 0);
  if (!ctx.has(MUT['skip-set-rc-check']) && (gl & need) !== need) return RESUME_HOST;
  ctx.mmuLock();
  const ok1 = handleSetRcLocked(ctx, l1TableOf(ctx), gpaPn, store, s.l1Leaf);
  if (!ok1) {
    ctx.mmuUnlock();
    return EINVAL;
  }
  if (ctx.has(MUT['split-rc-lock'])) {
    ctx.mmuUnlock();
    ctx.hook?.('before-commit', ctx);
    ctx.mmuLock();
  }
  const ok2 = handleSetRcLocked(ctx, shadowTableOf(ctx, slot, s.shadow), nGpaPn, store, s.shadowLeaf);
  ctx.mmuUnlock();
  return ok2 ? 0 : EINVAL;
}

/** Count the outcome of a fault into the per-branch counters. */
export function countFault(ctx: HvContext, kind: number): void {
  ctx.count(FAULT_KIND_COUNTER[kind]);
}
