/**
 * L1's own accesses to L1 memory (`workload.l1Ratio`) as a translation regime of the vCPU: the
 * hardware translates them with L0's partition-scoped table for L1 (the "L1 table") under L1's
 * lpid, through the same TLB and walker as L2's accesses, so L0's unmaps of L1 pages, which tlbie
 * with L1's lpid, drop these entries and wait for the vCPU to pass an access boundary. A miss
 * walks the L1 table; no leaf, no permission or (with `hardware.l1Rc: fault`) an R or C bit to
 * set raises an ordinary radix fault into L0 (hv/l1-fault.ts).
 *
 * `hardware.l1Rc: auto` is what POWER9 does for a non-nested guest: the walk sets R (and C on a
 * store) in the leaf itself, atomically and without any lock, before filling the TLB. This is
 * the lockless writer that the CAS and the exchange of the kernel's PTE updates guard against
 * (and that the mutations M5/M6 expose). Shadow leaves follow `hardware.rc`.
 *
 * Simplification: the H_ENTER_NESTED exit and re-entry around an L1 access are not modelled (the
 * TLB is tagged by lpid, so they change no translation state; the vCPU stays in guest mode, now
 * L1's).
 */
import { COUNTER } from '../stats/counters.js';
import { L1_TABLE_PGD_UNIT } from '../hv/radix.js';
import { book3sRadixPageFault } from '../hv/l1-fault.js';
import { EAGAIN, L1_FAULT_MMIO, RESUME_GUEST } from '../hv/outcome.js';
import { FAULT_KIND } from '../stats/kinds.js';
import { AFTER_FAULT, Regime, type FaultHandler } from './walker.js';
import type { HvContext } from '../hv/context.js';
import type { FaultScratch } from '../hv/scratch.js';

/** What the L1 regime needs of its vCPU (hw/cpu.ts): its context, scratch and fault exits. */
export interface FaultingVcpu {
  readonly ctx: HvContext;
  readonly scratch: FaultScratch;
  /** Leave guest mode for a fault; returns its start time, or -1 when untimed. */
  beginFault(): number;
  /** Count (and, if timed, record) a fault of `kind` begun at `t0`. */
  endFault(kind: number, t0: number): void;
  enterGuestMode(): void;
}

/** The regime of `cpu`'s own L1 accesses. */
export function makeL1Regime(cpu: FaultingVcpu): Regime {
  const rg = new Regime(cpu.ctx.l1RcAuto, COUNTER.l1HwRcSets, -1, new L1DirectFaultHandler(cpu));
  rg.pgdUnit = L1_TABLE_PGD_UNIT;
  rg.lpid = cpu.ctx.l1Lpid;
  return rg;
}

/** A storage interrupt of L1's own access: L0's radix fault for L1, then back to L1. */
class L1DirectFaultHandler implements FaultHandler {
  constructor(private readonly cpu: FaultingVcpu) {}

  handleFault(gpaPn: number, _type: number, dsisr: number): number {
    const cpu = this.cpu;
    const t0 = cpu.beginFault(); // leaving guest mode is a quiescence point
    const r = book3sRadixPageFault(cpu.ctx, gpaPn, dsisr, cpu.scratch);
    cpu.endFault(FAULT_KIND.l1Direct, t0);
    cpu.enterGuestMode();
    if (r === RESUME_GUEST) return AFTER_FAULT.retry;
    if (r === EAGAIN) return AFTER_FAULT.retryWait;
    return r === L1_FAULT_MMIO ? AFTER_FAULT.emulated : AFTER_FAULT.failed;
  }
}
