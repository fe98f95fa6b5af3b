/**
 * An HDSI/HISI from L2: the L2 regime's fault handler. The vCPU exits to L0, which runs the nested
 * fault handler (hv/nested-fault.ts) on this thread and acts on its outcome: back into L2, or
 * H_ENTER_NESTED returns to L1, whose own handler runs (on the same thread: an L1 vCPU runs its
 * nested guest) before L1 enters L2 again. Modeled time charges the round trips to L1.
 */
import { pnToBytes } from '../mmu/geometry.js';
import { nestedPageFault } from '../hv/nested-fault.js';
import { l1HandleNestedFault, type L1Target } from '../hv/l1-handler.js';
import { RESUME_GUEST, RESUME_HOST, RESUME_HOST_NV } from '../hv/outcome.js';
import { BOOK3S_INTERRUPT_H_DATA_STORAGE, BOOK3S_INTERRUPT_H_INST_STORAGE, L2_MSR_HI, L2_MSR_LO, SRR1_MSR_BITS, type VcpuRegs } from '../hv/regs.js';
import { FAULT_KIND } from '../stats/kinds.js';
import { COST, COST_CAT } from '../cost/model.js';
import { ACCESS_FETCH, AFTER_FAULT, type FaultHandler } from './walker.js';
import type { FaultingVcpu } from './l1-direct.js';
import { current } from '../sync/turnstile.js';

/** What the L2 regime's handler needs of its vCPU (hw/cpu.ts). */
export interface NestedVcpu extends FaultingVcpu {
  readonly regs: VcpuRegs;
  readonly target: L1Target;
  /** H_ENTER_NESTED returns to L1. */
  exit(): void;
  /** H_ENTER_NESTED; false while the guest cannot be entered. */
  enter(): boolean;
  /** Join audits while waiting. */
  onWait: (() => void) | undefined;
  /** Run another vCPU of this thread while waiting; false when none could run. */
  runOther: (() => boolean) | undefined;
  /** Take part in modeled time's skew bound, or not (an idle vCPU holds no other back). */
  setClockActive(on: boolean): void;
  /** Its VCPU_CTL.state word (a waiting vCPU sleeps on it). */
  readonly stateIdx: number;
}

/**
 * L1 re-enters L2 after H_ENTER_NESTED returned to it. If the guest was destroyed and its old
 * incarnation still runs elsewhere (L1 waits), or its slot is held by a removed predecessor (L0
 * waits for its last reference), wait, joining audits; an idle vCPU holds no other back in
 * modeled time.
 */
export function reenter(cpu: NestedVcpu): void {
  if (cpu.enter()) return;
  const w = cpu.ctx.w;
  cpu.setClockActive(false);
  do {
    cpu.onWait?.();
    if (current !== null) current.yieldPoint();
    else if (cpu.runOther === undefined || !cpu.runOther()) Atomics.wait(w, cpu.stateIdx, Atomics.load(w, cpu.stateIdx), 1);
  } while (!cpu.enter());
  cpu.setClockActive(true);
}

export class L2FaultHandler implements FaultHandler {
  constructor(private readonly cpu: NestedVcpu) {}

  /** Exit to L0 for an HDSI/HISI at L2 page `l2Pn`; returns an AFTER_FAULT code. */
  handleFault(l2Pn: number, type: number, dsisr: number): number {
    const cpu = this.cpu;
    const ctx = cpu.ctx;
    const r = cpu.regs;
    const t0 = cpu.beginFault();
    r.trap = type === ACCESS_FETCH ? BOOK3S_INTERRUPT_H_INST_STORAGE : BOOK3S_INTERRUPT_H_DATA_STORAGE;
    r.faultDar = pnToBytes(l2Pn);
    r.faultGpa = pnToBytes(l2Pn);
    r.faultDsisr = dsisr;
    // HSRR1 of an HISI: L2's MSR with the fault bits (the exit handler derives faultDsisr from them).
    r.srr1 = type === ACCESS_FETCH ? (L2_MSR_LO & SRR1_MSR_BITS) | dsisr : 0;
    r.srr1Hi = type === ACCESS_FETCH ? L2_MSR_HI : 0;
    r.dsiPending = false;
    r.mmioPending = false;
    const res = nestedPageFault(ctx, r, cpu.scratch);
    const kind = r.kind;
    cpu.endFault(kind, t0);
    if (res === RESUME_GUEST) {
      cpu.enterGuestMode();
      if (r.dsiPending) return AFTER_FAULT.failed; // L2 takes a DSI at the address; the access does not complete
      return kind === FAULT_KIND.retried ? AFTER_FAULT.retryWait : AFTER_FAULT.retry;
    }
    // RESUME_HOST(_NV) or an error: H_ENTER_NESTED returns to L1.
    cpu.exit();
    let next: number = AFTER_FAULT.retry;
    if (res === RESUME_HOST_NV && r.mmioPending) {
      // MMIO: kvmhv_enter_nested_guest answers H_TOO_HARD, which the hcall exit turns into r3 = 0
      // while L0's userspace emulates the access (its result written straight into L2's saved
      // registers). L1 sees H_ENTER_NESTED return 0 (trap 0), runs no handler and re-enters L2.
      // The access completes.
      ctx.chargeItem(COST.mmioCycles, COST_CAT.mmio);
      next = AFTER_FAULT.emulated;
    } else {
      // H_ENTER_NESTED returns to L1 (an entry of L1), which later calls it again (an exit of L1)
      // and L0 enters L2: one more exit and re-entry, and the hcall's own work.
      ctx.chargeItem(COST.exitCycles, COST_CAT.l1);
      ctx.chargeItem(COST.enterNestedCycles, COST_CAT.l1);
      if (res !== RESUME_HOST) next = AFTER_FAULT.failed; // an error: L1 sees the trap with the original DSISR and gives up on it
      else if (!l1HandleNestedFault(ctx, r.slot, l2Pn, r.faultDsisr, cpu.target)) next = AFTER_FAULT.failed;
    }
    reenter(cpu);
    return next;
  }
}
