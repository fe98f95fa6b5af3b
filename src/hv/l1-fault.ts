/**
 * L0's ordinary (non-nested) radix page fault for L1 (kernel `book3s_64_mmu_radix.c`:
 * kvmppc_book3s_radix_page_fault): one of L1's own vCPUs accessed L1 memory and the hardware
 * found no usable leaf in L0's table for L1 (the "L1 table", docs/model.md §1.1): none, no
 * permission, or (with `hardware.l1Rc: fault`) an R or C bit to set. Runs on the faulting vCPU's
 * thread with the vCPU out of guest mode. Takes mmu_lock (SET_RC) or lets instantiate take it.
 *
 * Simplifications: the unusual-error checks (UNSUPP_MMU, BADACCESS) and MMIO emulation are
 * reduced to outcomes, because nestsim's L1 accesses only target L1's main memslot, where the
 * hardware model raises NOHPTE, PROTFAULT or SET_RC only.
 */
import { MEMSLOT_INVALID, MEMSLOT_READONLY } from '../memory/machine.js';
import type { HvContext } from './context.js';
import { handleSetRcLocked, book3sInstantiatePage, pageOfPn } from './radix.js';
import { l1TableOf } from './l1-table.js';
import type { FaultScratch } from './scratch.js';
import { EAGAIN, L1_FAULT_DSI, L1_FAULT_MMIO, RESUME_GUEST } from './outcome.js';
import {
  DSISR_BADACCESS,
  DSISR_BAD_FAULT_64S,
  DSISR_ISSTORE,
  DSISR_NOHPTE,
  DSISR_PROTFAULT,
  DSISR_PRTABLE_FAULT,
  DSISR_SET_RC,
} from './regs.js';

/**
 * kvmppc_book3s_radix_page_fault for L1 page `gpaPn` (4 KiB page number) with `dsisr` as the
 * hardware raised it. Returns RESUME_GUEST, EAGAIN, L1_FAULT_DSI, L1_FAULT_MMIO or a negative
 * errno (EFAULT when the host has no memory for the page). `s` is the faulting vCPU's scratch.
 */
export function book3sRadixPageFault(ctx: HvContext, gpaPn: number, dsisr: number, s: FaultScratch): number {
  const write = (dsisr & DSISR_ISSTORE) !== 0;
  // 1. The memslot: none (or being changed) -> MMIO, unless the fault says the access is bad.
  const m = ctx.m;
  const memslot = m.memslotOf(pageOfPn(ctx, gpaPn));
  const slotFlags = memslot < 0 ? 0 : m.slotFlags(memslot);
  if (memslot < 0 || (slotFlags & MEMSLOT_INVALID) !== 0) {
    return (dsisr & (DSISR_PRTABLE_FAULT | DSISR_BADACCESS | DSISR_SET_RC)) !== 0 ? L1_FAULT_DSI : L1_FAULT_MMIO;
  }
  let ro = false;
  if ((slotFlags & MEMSLOT_READONLY) !== 0) {
    if (write) return L1_FAULT_DSI; // DSISR_ISSTORE | DSISR_PROTFAULT into L1
    ro = true;
  }
  // 2. R/C the hardware would not set: set them in L0's table for L1 under mmu_lock.
  if ((dsisr & DSISR_SET_RC) !== 0) {
    ctx.mmuLock();
    const done = handleSetRcLocked(ctx, l1TableOf(ctx), gpaPn, write, s.l1Leaf);
    ctx.mmuUnlock();
    if (done) dsisr &= ~DSISR_SET_RC;
    if ((dsisr & (DSISR_BAD_FAULT_64S | DSISR_NOHPTE | DSISR_PROTFAULT | DSISR_SET_RC)) === 0) return RESUME_GUEST;
  }
  // 3. Insert a leaf (a write upgrades a read-only one through create_pte's merge).
  // 0 is RESUME_GUEST; EAGAIN (the kernel also resumes the guest) stays distinct for the caller's
  // livelock bound; EFAULT and ENOMEM pass through. A host entry that vanished under an
  // invalidation returns 0 with nothing inserted (window P3 of §7 when the nested fault does it;
  // here the kernel just resumes L1, which faults again): that too is a retry for the bound.
  const inst = s.inst;
  inst.hp = 0;
  const r = book3sInstantiatePage(ctx, l1TableOf(ctx), gpaPn, slotFlags, write, ro, inst);
  return r === 0 && inst.hp === 0 ? EAGAIN : r;
}
