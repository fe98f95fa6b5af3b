/**
 * The processor's hardware walk of a partition-scoped radix table on a TLB miss, for every
 * translation regime of a vCPU: L2's accesses (the shadow table, under the shadow lpid) and L1's
 * own accesses (L0's table for L1, under L1's lpid). One loop: walk through the page-walk cache,
 * assemble the DSISR of a storage interrupt (no leaf, no permission, R/C to set), raise it to the
 * regime's handler and walk again; or fill the TLB and re-check the invalidation epoch. A bound on
 * faults per access turns a livelock into a reported violation.
 *
 * Simplification: the hardware's R/C update (`Regime.hwRc`, POWER9's behaviour for a non-nested
 * guest) is a CAS loop that gives up and walks again when the leaf stopped granting the access,
 * so it never leaves stray R/C bits in a cleared entry (the ISA allows them; they would change
 * nothing here). Nothing here allocates.
 */
import { current } from '../sync/turnstile.js';
import { COST, COST_CAT } from '../cost/model.js';
import { CTRL } from '../memory/records.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_PRESENT, PAGE_PTE, PAGE_READ, PAGE_WRITE, PTE_RPN_MASK } from '../mmu/pte.js';
import { pnCount } from '../mmu/geometry.js';
import { LeafRef, findLeaf } from '../mmu/tree.js';
import type { HvContext } from '../hv/context.js';
import { DSISR_ISSTORE, DSISR_NOHPTE, DSISR_PROTFAULT, DSISR_SET_RC, SRR1_ISI_N_G_OR_CIP } from '../hv/regs.js';
import { FRAME_GEN_P6 } from '../invariants/windows.js';

/** A frame generation as a TLB entry caches it: without window P6's mark. */
const GEN_UNMARKED = ~FRAME_GEN_P6;
import type { Tlb } from './tlb.js';

export const ACCESS_LOAD = 0;
export const ACCESS_STORE = 1;
export const ACCESS_FETCH = 2;

/** Permission bit each access type needs (load, store, fetch). */
const PERM = [PAGE_READ, PAGE_WRITE, PAGE_EXEC] as const;
/** R/C bits each access type needs set (R always; C for a store). */
const RC = [PAGE_ACCESSED, PAGE_ACCESSED | PAGE_DIRTY, PAGE_ACCESSED] as const;
/** Everything a TLB entry (a present leaf) must hold for each access type to hit. */
export const NEED = [
  PAGE_PRESENT | PAGE_PTE | PAGE_READ | PAGE_ACCESSED,
  PAGE_PRESENT | PAGE_PTE | PAGE_WRITE | PAGE_ACCESSED | PAGE_DIRTY,
  PAGE_PRESENT | PAGE_PTE | PAGE_EXEC | PAGE_ACCESSED,
] as const;

/** Faults one access may take before the vCPU declares a livelock (liveness, M16). */
export const LIVELOCK_FAULTS = 64;
/**
 * Faults ending in a wait for an invalidation (RETRY_WAIT: -EAGAIN, an invalidation ran or is
 * running) do not count towards LIVELOCK_FAULTS: they wait on progress made elsewhere, and a host
 * migration of a 2 MiB block or a descheduled invalidator keeps mmu_invalidate_in_progress raised
 * for milliseconds, which is thousands of retries and not a livelock (the kernel retries just the
 * same). This far larger bound still turns a hang into a reported violation.
 */
export const LIVELOCK_RETRIES = 1 << 20;
/** A PTE-level table maps 2 MiB (512 x 4 KiB or 32 x 64 KiB): its region in 4 KiB page numbers. */
const PWC_REGION_SHIFT = 9;

/** What a regime's fault handler tells the walker to do next. */
export const AFTER_FAULT = {
  /** Walk again (the handler fixed something, or the fault resolved nothing yet). */
  retry: 0,
  /** Walk again; the fault waited on an invalidation (does not count towards LIVELOCK_FAULTS). */
  retryWait: 1,
  /** The access completed without memory (emulated MMIO). */
  emulated: 2,
  /** The access ends without completing (a DSI delivered, an unfixable fault). */
  failed: 3,
} as const;

/** `Walker.translate` results besides a TLB entry index (>= 0). */
export const TRANSLATE_EMULATED = -1;
export const TRANSLATE_FAILED = -2;

/** The handler of the storage interrupts (HDSI/HISI) a regime raises. */
export interface FaultHandler {
  /** Handle a storage interrupt on 4 KiB page `pn`; returns an AFTER_FAULT code. */
  handleFault(pn: number, type: number, dsisr: number): number;
}

/** A translation regime: which table the hardware walks, under which lpid, and who takes its faults. */
export class Regime {
  /** Root of the table: PGD unit in the host table space. */
  pgdUnit = 0;
  /** The LPID accesses run under (the TLB tag). */
  lpid = 0;
  /**
   * First word of L1's grant records for the guest (I2/I3 checks on each store), or -1 for a
   * regime L1 grants nothing in (L1's own accesses).
   */
  grantBase = -1;
  constructor(
    /** The hardware sets R/C itself (no lock), instead of raising DSISR_SET_RC. */
    readonly hwRc: boolean,
    /** Counter bumped for each R/C set by the hardware, or -1. */
    readonly hwRcCounter: number,
    /** Counter bumped for each walk that filled the TLB, or -1. */
    readonly walkCounter: number,
    readonly handler: FaultHandler,
  ) {}
}

export class Walker {
  private readonly w: Int32Array;
  private readonly epochIdx: number;
  private readonly frameGenWord: number;
  private readonly hostDataBasePn: number;
  private readonly basePnShift: number;
  private readonly ref = new LeafRef();
  /** Page-walk cache (see `walk`): epoch, 2 MiB region, lpid and PTE table's first word. */
  private pwcEpoch = -1;
  private pwcRegion = -1;
  private pwcLpid = -1;
  private pwcTable = 0;

  constructor(
    private readonly ctx: HvContext,
    private readonly tlb: Tlb,
  ) {
    const m = ctx.m;
    this.w = m.w;
    this.epochIdx = m.ctrl(CTRL.tlbEpoch);
    this.frameGenWord = m.L.frameGenWord;
    this.hostDataBasePn = m.L.hostDataBasePn;
    this.basePnShift = m.L.pageShift - 12;
  }

  /**
   * Translate 4 KiB page `pn` (base page `vpn`) for an access of `type` in regime `rg`, taking
   * and handling storage interrupts until the translation is in the TLB. `way`: the entry to
   * fill (from the probe), -1 to pick a victim. Returns the filled entry's index, or
   * TRANSLATE_EMULATED / TRANSLATE_FAILED.
   */
  translate(rg: Regime, pn: number, vpn: number, type: number, way: number): number {
    const w = this.w;
    const ctx = this.ctx;
    for (let faults = 0, retries = 0; ; ) {
      const e0 = Atomics.load(w, this.epochIdx);
      const i = this.walk(rg, pn, e0);
      let dsisr = type === ACCESS_STORE ? DSISR_ISSTORE : 0;
      if (i >= 0) {
        let leaf = Atomics.load(w, i);
        if (leaf >= 0) continue; // unmapped since the walk found it: walk again
        const rc = RC[type];
        if ((leaf & PERM[type]) === 0) dsisr |= type === ACCESS_FETCH ? SRR1_ISI_N_G_OR_CIP : DSISR_PROTFAULT;
        else if ((leaf & rc) !== rc) {
          if (!rg.hwRc) dsisr |= DSISR_SET_RC;
          else if ((leaf = this.hwSetRc(rg, i, type)) === 0) continue; // the leaf went away: walk again
        }
        if ((dsisr & ~DSISR_ISSTORE) === 0) {
          // Translation OK: fill the TLB with this base page's slice of the leaf.
          const leafPn = pn - (pn & (pnCount(this.ref.shift) - 1));
          const rpn = (leaf & PTE_RPN_MASK) + ((pn - leafPn) & ~(pnCount(ctx.g.pageShift) - 1));
          const data = (leaf & ~PTE_RPN_MASK) | rpn;
          // The entry caches the frame's generation without the P6 mark: a store to a marked frame
          // then takes the store's cold path (hw/store-checks.ts), and the hit path stays one compare.
          const gen = Atomics.load(w, this.frameGenWord + ((rpn - this.hostDataBasePn) >>> this.basePnShift)) & GEN_UNMARKED;
          way = this.tlb.fill(vpn, rg.lpid, data, gen, way);
          if (Atomics.load(w, this.epochIdx) !== e0) {
            // An invalidation ran while we walked: the entry may be stale. Drop it and re-walk.
            this.tlb.drop(way);
            continue;
          }
          if (rg.walkCounter >= 0) ctx.count(rg.walkCounter);
          return way;
        }
      } else dsisr |= DSISR_NOHPTE;
      if (++faults > LIVELOCK_FAULTS || retries > LIVELOCK_RETRIES) {
        ctx.report.livelock(rg.lpid === ctx.l1Lpid, rg.lpid, pn, dsisr);
        return TRANSLATE_FAILED;
      }
      const next = rg.handler.handleFault(pn, type, dsisr);
      if (next === AFTER_FAULT.retryWait) {
        faults--; // waiting on an invalidation, not a livelock (see LIVELOCK_RETRIES)
        retries++;
        // Controlled: what it waits for is another thread's to finish; that thread runs first.
        current?.yieldPoint();
      } else if (next === AFTER_FAULT.emulated) return TRANSLATE_EMULATED;
      else if (next === AFTER_FAULT.failed) return TRANSLATE_FAILED;
    }
  }

  /** Forget the cached walk (the vCPU's TLB was flushed). */
  flushPwc(): void {
    this.pwcEpoch = -1;
  }

  /**
   * The hardware walk of `rg`'s table for `pn`, through the page-walk cache: the PTE-level table
   * that served the last walk's 2 MiB region (POWER9 caches directory entries the same way). The
   * cached pointer is used only while the invalidation epoch `e0` equals the one it was cached
   * under: every page-table free is preceded by a page-walk-cache flush (tlbie with RIC 1 or 2,
   * or the whole-lpid flush), and every flush bumps the epoch. A hit reads one leaf word instead
   * of four levels. Returns the leaf's word index or -1 (`this.ref` as `findLeaf`).
   */
  private walk(rg: Regime, pn: number, e0: number): number {
    const w = this.w;
    const g = this.ctx.g;
    const ref = this.ref;
    const region = pn >>> PWC_REGION_SHIFT;
    if (this.pwcEpoch === e0 && this.pwcRegion === region && this.pwcLpid === rg.lpid) {
      const idx = this.pwcTable + ((pn >>> g.pnShift[0]) & ((1 << g.bits[0]) - 1));
      ref.word = idx;
      ref.level = 0;
      ref.shift = g.pageShift;
      this.ctx.chargeItem(COST.walkLevelCycles, COST_CAT.walk);
      const e = Atomics.load(w, idx);
      return e < 0 && (e & PAGE_PTE) !== 0 ? idx : -1;
    }
    const i = findLeaf(w, this.ctx.m.hostSpace, rg.pgdUnit, pn, g, ref);
    this.ctx.chargeItem(COST.walkLevelCycles, COST_CAT.walk, 4 - ref.level);
    if (ref.level === 0) {
      this.pwcEpoch = e0;
      this.pwcRegion = region;
      this.pwcLpid = rg.lpid;
      this.pwcTable = ref.word - ((pn >>> g.pnShift[0]) & ((1 << g.bits[0]) - 1));
    }
    return i;
  }

  /**
   * The hardware's R/C update: OR the R/C bits access `type` needs into leaf word `i` with a CAS
   * loop, no lock. Returns the leaf as updated, or 0 when it is no longer a present leaf granting
   * the access (an unmap got there first): the walk then starts again.
   */
  private hwSetRc(rg: Regime, i: number, type: number): number {
    const w = this.w;
    const need = NEED[type];
    const grant = need & ~(PAGE_ACCESSED | PAGE_DIRTY);
    const rc = RC[type];
    for (;;) {
      const old = Atomics.load(w, i);
      if ((old & grant) !== grant) return 0;
      const nv = old | rc;
      if (nv === old) return old;
      if (((nv ^ old) & PAGE_DIRTY) !== 0) this.ctx.hook?.('hw-rc-update', this.ctx);
      if (Atomics.compareExchange(w, i, old, nv) === old) {
        if (rg.hwRcCounter >= 0) this.ctx.count(rg.hwRcCounter);
        // Controlled: the timeline shows the leaf before and after (when this was a point).
        current?.pteValues('hw-rc-update', old, nv);
        return nv;
      }
    }
  }
}
