/**
 * L1's own accesses to L1 memory (`workload.l1Ratio`): a vCPU thread is an L1 vCPU, which runs
 * its nested guest through H_ENTER_NESTED and also touches its own memory. The hardware
 * translates those accesses with L0's partition-scoped table for L1 (the "L1 table",
 * kernel-model.md §1.1) under L1's lpid, through the same per-vCPU TLB (hw/tlb.ts) as L2's
 * accesses, so L0's unmaps of L1 pages, which tlbie with L1's lpid, drop these entries and wait
 * for the vCPU to pass an access boundary. A miss walks the L1 table; no leaf, no permission or
 * (with `hardware.l1Rc: fault`) an R/C bit to set raises an ordinary radix fault into L0
 * (hv/l1-fault.ts).
 *
 * `hardware.l1Rc: auto` is what POWER9 does for a non-nested guest: the walk sets R (and C on a
 * store) in the leaf itself, atomically and without any lock, before filling the TLB. This is
 * the lockless writer that the CAS and exchange of kernel-model.md §2.5 guard against (and
 * that M5/M6 expose). Shadow leaves keep following `hardware.rc`.
 *
 * Simplifications: the H_ENTER_NESTED exit and re-entry around an L1 access are not modelled
 * (the TLB is tagged by lpid, so they change no translation state; the vCPU stays in guest mode,
 * now L1's); the hardware's R/C update is a CAS loop that gives up and re-walks when the leaf
 * stopped being present, so it never leaves stray R/C bits in a cleared entry (kernel-model.md
 * §2.1 allows them; ignoring them changes nothing here); the access latency histogram samples
 * L2 accesses only. Nothing here allocates per access.
 */
import { performance } from 'node:perf_hooks';
import { CTRL } from '../memory/layout.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_PRESENT, PAGE_PTE, PAGE_READ, PAGE_WRITE, PTE_RPN_MASK } from '../mmu/pte.js';
import { pnCount } from '../mmu/geometry.js';
import { LeafRef, findLeaf } from '../mmu/tree.js';
import { COUNTER } from '../stats/counters.js';
import type { Histogram } from '../stats/histogram.js';
import { INV, type HvContext } from '../hv/context.js';
import { EAGAIN, InstantiateResult, L1_TABLE_PGD_UNIT } from '../hv/radix.js';
import { L1_FAULT_MMIO, l1RadixPageFault } from '../hv/l1-fault.js';
import { DSISR_ISSTORE, DSISR_NOHPTE, DSISR_PROTFAULT, DSISR_SET_RC, FAULT_KIND, RESUME_GUEST } from '../hv/regs.js';
import { ACCESS_STORE, LIVELOCK_FAULTS, LIVELOCK_RETRIES, type Cpu } from './cpu.js';

/** A present leaf (a directory word's NLS field overlaps R, C and the permission bits). */
const PAGE_PRESENT_LEAF = PAGE_PRESENT | PAGE_PTE;
/** Bits a TLB entry (or leaf) must hold for each access type to need no fault (R always; C for a store). */
const NEED = [
  PAGE_PRESENT_LEAF | PAGE_READ | PAGE_ACCESSED,
  PAGE_PRESENT_LEAF | PAGE_WRITE | PAGE_ACCESSED | PAGE_DIRTY,
  PAGE_PRESENT_LEAF | PAGE_EXEC | PAGE_ACCESSED,
] as const;
/** Permission bit of each access type. */
const PERM = [PAGE_READ, PAGE_WRITE, PAGE_EXEC] as const;

export class L1Access {
  private readonly w: Int32Array;
  private readonly counters: Float64Array;
  private readonly cb: number;
  private readonly basePnShift: number;
  private readonly epochIdx: number;
  private readonly frameGenWord: number;
  private readonly frameWritesWord: number;
  private readonly hostDataBasePn: number;
  /** L0's lpid for L1: the tag of every TLB entry this class fills. */
  private readonly lpid: number;
  private readonly hwRc: boolean;
  private readonly ref = new LeafRef();
  private readonly inst = new InstantiateResult();
  private readonly latency: Histogram;

  constructor(
    readonly ctx: HvContext,
    /** The vCPU whose TLB and guest-mode state these accesses share. */
    private readonly cpu: Cpu,
  ) {
    const m = ctx.m;
    this.w = m.w;
    this.counters = ctx.counters;
    this.cb = ctx.counterBase;
    this.basePnShift = m.L.pageShift - 12;
    this.epochIdx = m.ctrl(CTRL.tlbEpoch);
    this.frameGenWord = m.L.frameGenWord;
    this.frameWritesWord = m.L.frameWritesWord;
    this.hostDataBasePn = m.L.hostDataBasePn;
    this.lpid = ctx.l1Lpid;
    this.hwRc = ctx.l1RcAuto;
    this.latency = cpu.stats.byKind[FAULT_KIND.l1Direct]!;
  }

  /**
   * One access by L1 to its 4 KiB page `gpaPn` (ACCESS_LOAD, ACCESS_STORE or ACCESS_FETCH).
   * Returns false if it ended without completing (a DSI into L1, no host memory, livelock).
   * The vCPU is in guest mode throughout (it is between two L2 accesses of a run) and passes an
   * access boundary at the end, so a waiting tlbie is held up by one access at most.
   */
  access(gpaPn: number, type: number): boolean {
    const c = this.counters;
    const cb = this.cb;
    const cpu = this.cpu;
    c[cb + COUNTER.accesses]++;
    c[cb + COUNTER.loads + type]++; // loads, stores, fetches are consecutive counters
    c[cb + COUNTER.l1Accesses]++;
    const vpn = gpaPn >>> this.basePnShift;
    const t = cpu.tlbProbe(vpn, this.lpid);
    let ok: boolean;
    const need = NEED[type]!;
    const data = t >= 0 ? cpu.tlbData(t) : 0;
    if (t >= 0 && (data & need) === need) {
      c[cb + COUNTER.tlbHits]++;
      if (type === ACCESS_STORE) this.store(data, cpu.tlbGen(t));
      ok = true;
    } else {
      c[cb + COUNTER.tlbMisses]++;
      // Refill our own entry if it lacked a bit, else the first free way of the set.
      ok = this.accessSlow(gpaPn, vpn, type, t >= 0 ? t : cpu.freeWay(cpu.tlbSetOf(vpn)));
    }
    cpu.boundary();
    return ok;
  }

  /**
   * A completed L1 store through a translation whose leaf had C (in the TLB entry, or just set
   * by the walk): one more write in the frame, checked against the frame's generation at fill
   * (I5), exactly as an L2 store is counted, so the I5 audit and the I6 harvest check see both.
   */
  private store(data: number, gen: number): void {
    const frame = ((data & PTE_RPN_MASK) - this.hostDataBasePn) >>> this.basePnShift;
    const now = Atomics.load(this.w, this.frameGenWord + frame);
    if (now !== gen) this.ctx.violation(INV['I5-no-lost-write'], this.lpid, frame, gen, now);
    Atomics.add(this.w, this.frameWritesWord + frame, 1);
    this.counters[this.cb + COUNTER.writesCompleted]++;
  }

  /** Hardware walk of the L1 table; on a storage interrupt, L0's radix fault for L1; retry. */
  private accessSlow(gpaPn: number, vpn: number, type: number, way: number): boolean {
    const w = this.w;
    const ctx = this.ctx;
    const ref = this.ref;
    for (let faults = 0, retries = 0; ; ) {
      const e0 = Atomics.load(w, this.epochIdx);
      const i = findLeaf(w, ctx.m.hostSpace, L1_TABLE_PGD_UNIT, gpaPn, ctx.g, ref);
      let dsisr = type === ACCESS_STORE ? DSISR_ISSTORE : 0;
      if (i >= 0) {
        let leaf = Atomics.load(w, i);
        if (leaf >= 0) continue; // unmapped since the walk found it: walk again
        const need = NEED[type]!;
        if ((leaf & PERM[type]!) === 0) dsisr |= DSISR_PROTFAULT;
        else if ((leaf & need) !== need) {
          if (!this.hwRc) dsisr |= DSISR_SET_RC;
          else if ((leaf = this.hwSetRc(i, need)) === 0) continue; // the leaf went away: walk again
        }
        if (dsisr === 0 || dsisr === DSISR_ISSTORE) {
          // Fill the TLB with this base page's slice of the leaf.
          const leafPn = gpaPn - (gpaPn & (pnCount(ref.shift) - 1));
          const rpn = (leaf & PTE_RPN_MASK) + ((gpaPn - leafPn) & ~(pnCount(ctx.g.pageShift) - 1));
          const data = (leaf & ~PTE_RPN_MASK) | rpn;
          const gen = Atomics.load(w, this.frameGenWord + ((rpn - this.hostDataBasePn) >>> this.basePnShift));
          way = this.cpu.fill(vpn, data, gen, way, this.lpid);
          if (Atomics.load(w, this.epochIdx) !== e0) {
            // An invalidation ran while we walked: the entry may be stale. Drop it and re-walk.
            this.cpu.tlbDrop(way);
            continue;
          }
          // (Not counted in walkHits, which counts shadow-table walks.)
          if (type === ACCESS_STORE) this.store(data, gen);
          return true;
        }
      } else dsisr |= DSISR_NOHPTE;
      if (++faults > LIVELOCK_FAULTS || retries > LIVELOCK_RETRIES) {
        ctx.violation(INV.liveness, this.lpid, gpaPn, dsisr);
        return false;
      }
      const r = this.fault(gpaPn, dsisr);
      if (r === EAGAIN) {
        faults--; // waiting on an invalidation, not a livelock (see LIVELOCK_RETRIES in cpu.ts)
        retries++;
      } else if (r !== RESUME_GUEST) return r === L1_FAULT_MMIO;
    }
  }

  /**
   * The hardware's R/C update: OR `need`'s R/C bits into leaf word `i` with a CAS loop, no lock.
   * Returns the leaf as updated, or 0 when it is no longer a present leaf granting the access
   * (an unmap got there first): the walk then starts again.
   */
  private hwSetRc(i: number, need: number): number {
    const w = this.w;
    for (;;) {
      const old = Atomics.load(w, i);
      if ((old & need & ~(PAGE_ACCESSED | PAGE_DIRTY)) !== (need & ~(PAGE_ACCESSED | PAGE_DIRTY))) return 0;
      const nv = old | (need & (PAGE_ACCESSED | PAGE_DIRTY));
      if (nv === old) return old;
      if (((nv ^ old) & PAGE_DIRTY) !== 0) this.ctx.hook?.('hw-rc-update', this.ctx);
      if (Atomics.compareExchange(w, i, old, nv) === old) {
        this.counters[this.cb + COUNTER.l1HwRcSets]++;
        return nv;
      }
    }
  }

  /** Leave guest mode, run L0's radix fault for L1 (timed), return to L1. */
  private fault(gpaPn: number, dsisr: number): number {
    const ctx = this.ctx;
    this.cpu.exitGuest(); // leaving guest mode is a quiescence point
    ctx.sampleStages = false;
    const t0 = performance.now();
    const r = l1RadixPageFault(ctx, gpaPn, dsisr, this.inst);
    this.latency.record((performance.now() - t0) * 1e6);
    this.counters[this.cb + COUNTER.faultL1Direct]++;
    this.cpu.returnToGuest();
    return r;
  }
}
