/**
 * Actor duties a vCPU thread runs between accesses, scheduled by work done: L1's changes to its
 * tables for L2 (each followed by the invalidation the kernel issues) and the host's changes to
 * L1 memory (migration, swap, aging, dirty-log harvest, memslot flush), plus vCPU 0's periodic
 * stop-the-world audits. A duty runs with the vCPU out of guest mode (its TLB is not in use).
 *
 * Rates are events per 1,000 accesses of this vCPU; the interval between two events is jittered
 * uniformly in [0.5, 1.5) x the mean, from the vCPU's seeded stream.
 */
import type { ResolvedConfig } from '../workload/types.js';
import type { Prng } from '../workload/prng.js';
import { SLOT_MAIN } from '../memory/machine.js';
import type { HvContext } from '../hv/context.js';
import { l1Clean, l1DestroyGuest, l1FlushLpid, l1Protect, l1Target, l1Unmap, l1UnmapRange, L1Target } from '../hv/l1-handler.js';
import { radixFlushMemslot, harvestDirtyLog, hostMigrate, hostSwapOut, kvmAgeRadix, toggleDirtyLogging } from '../hv/notifier.js';
import { pageOfPn } from '../hv/radix.js';
import type { Cpu } from '../hw/cpu.js';
import { audit, pageWrites, writesByL1 } from '../check/audit.js';
import { stopTheWorld } from './barrier.js';
import { current } from '../sync/turnstile.js';
import { NO_WINDOW, TAINT_P1, TAINT_P5, TAINT_P6, WINDOW } from '../invariants/windows.js';

const KIND = {
  l1Unmap: 0,
  l1Protect: 1,
  l1Clean: 2,
  l1RangeFlush: 3,
  l1LpidFlush: 4,
  migrate: 5,
  swap: 6,
  age: 7,
  harvest: 8,
  memslotFlush: 9,
  audit: 10,
  l1Destroy: 11,
  dirtyLogToggle: 12,
} as const;
const KINDS = 13;

export class Duties {
  /** Access count at which the earliest duty is due. */
  next = Infinity;
  private readonly due = new Float64Array(KINDS).fill(Infinity);
  private readonly mean = new Float64Array(KINDS).fill(0);
  private readonly target = new L1Target();

  constructor(
    private readonly ctx: HvContext,
    private readonly cpu: Cpu,
    cfg: ResolvedConfig,
    private readonly prng: Prng,
    private readonly wsPages: number,
  ) {
    const a = cfg.actors;
    const perK = (rate: number): number => (rate > 0 ? 1000 / rate : 0);
    this.mean[KIND.l1Unmap] = perK(a.l1.unmap);
    this.mean[KIND.l1Protect] = perK(a.l1.protect);
    this.mean[KIND.l1Clean] = perK(a.l1.clean);
    this.mean[KIND.l1RangeFlush] = perK(a.l1.rangeFlush);
    this.mean[KIND.l1LpidFlush] = perK(a.l1.lpidFlush);
    this.mean[KIND.l1Destroy] = perK(a.l1.destroy);
    this.mean[KIND.migrate] = perK(a.host.migrate);
    this.mean[KIND.swap] = perK(a.host.swap);
    this.mean[KIND.age] = perK(a.host.age);
    // One harvester (vCPU 0) so its per-page write snapshots are its own; its rate covers all vCPUs.
    this.mean[KIND.harvest] = ctx.vcpu === 0 ? perK(a.host.harvest * cfg.vcpus) : 0;
    this.mean[KIND.memslotFlush] = perK(a.host.memslotFlush);
    // vCPU 0 also switches logging, so the dirty-log record it restarts there is its own too.
    this.mean[KIND.dirtyLogToggle] = ctx.vcpu === 0 ? perK(a.host.dirtyLogToggle * cfg.vcpus) : 0;
    this.mean[KIND.audit] = ctx.vcpu === 0 && cfg.audit.perMillion > 0 ? 1e6 / cfg.audit.perMillion / cfg.vcpus : 0;
    for (let k = 0; k < KINDS; k++) if (this.mean[k] > 0) this.due[k] = this.interval(k);
    this.recompute();
  }

  private interval(k: number): number {
    return Math.max(1, Math.round(this.mean[k] * (0.5 + this.prng.nextFloat())));
  }

  private recompute(): void {
    let n = Infinity;
    for (let k = 0; k < KINDS; k++) if (this.due[k] < n) n = this.due[k];
    this.next = n;
  }

  /** Run every duty due at access count `n`. */
  run(n: number): void {
    this.cpu.park();
    for (let k = 0; k < KINDS; k++) {
      while (this.due[k] <= n) {
        this.perform(k);
        this.due[k] += this.interval(k);
      }
    }
    this.recompute();
    this.cpu.resume();
  }

  /** A random L2 page (4 KiB page number) of this vCPU's working set. */
  private randomL2Pn(): number {
    return this.prng.nextBelow(this.wsPages) * this.ctx.L.basePn;
  }

  /** The L1 page behind a random L2 page of this vCPU's guest (or -1 for MMIO). */
  private randomL1Page(): number {
    const slot = this.cpu.regs.slot;
    l1Target(this.ctx, slot, this.randomL2Pn(), this.target);
    const page = pageOfPn(this.ctx, this.target.gpaPn);
    return page < this.ctx.L.l1Pages ? page : -1;
  }

  private perform(k: number): void {
    current?.point('actor-step');
    const ctx = this.ctx;
    const slot = this.cpu.regs.slot;
    switch (k) {
      case KIND.l1Unmap:
        l1Unmap(ctx, slot, this.randomL2Pn());
        break;
      case KIND.l1Protect:
        l1Protect(ctx, slot, this.randomL2Pn());
        break;
      case KIND.l1Clean:
        l1Clean(ctx, slot, this.randomL2Pn());
        break;
      case KIND.l1RangeFlush:
        l1UnmapRange(ctx, slot, this.randomL2Pn(), 8);
        break;
      case KIND.l1LpidFlush:
        l1FlushLpid(ctx, slot, 0);
        break;
      case KIND.l1Destroy:
        // Another L1 vCPU tears down the guest this vCPU (and maybe others) is running.
        l1DestroyGuest(ctx, slot);
        break;
      case KIND.migrate: {
        const p = this.randomL1Page();
        if (p >= 0) hostMigrate(ctx, p);
        break;
      }
      case KIND.swap: {
        const p = this.randomL1Page();
        if (p >= 0) hostSwapOut(ctx, p);
        break;
      }
      case KIND.age: {
        const p = this.randomL1Page();
        if (p >= 0) kvmAgeRadix(ctx, p);
        break;
      }
      case KIND.harvest:
        this.harvest();
        break;
      case KIND.memslotFlush:
        radixFlushMemslot(ctx, SLOT_MAIN);
        break;
      case KIND.dirtyLogToggle:
        // Switched on, the dirty log starts afresh (userspace treats every page as dirty at that
        // point): the completeness check then covers the stores after the switch.
        toggleDirtyLogging(ctx, SLOT_MAIN, (on) => {
          if (on) this.restartDirtyLogRecord();
        });
        break;
      case KIND.audit:
        this.audit();
        break;
    }
  }

  /**
   * A dirty-log harvest over the L1 pages that back L2 memory, checking completeness (I6): a
   * page written since the last harvest must be reported dirty (by D or by the unmap bitmap).
   *
   * Which stores a harvest must cover, in a machine where stores keep completing while it runs:
   * - `before`, the page's store count read just before its test-and-clear, counts stores that
   *   completed before it; each of them found C set in its TLB entry or shadow leaf, so L0's leaf
   *   had D (shadow.D => L1-table.D) until this harvest clears it or an unmap moves it to the
   *   bitmap. L1's own stores (hw/l1-direct.ts) count in the same frame counters and found C in
   *   L0's leaf itself (set by the hardware or by L0's SET_RC before the store) or in a TLB entry
   *   filled from it, so the same holds for them; the pages L1 touches lie in the range harvested
   *   here (l1DataPage). If the count moved since the last snapshot and the page is reported clean, a dirty
   *   page was lost.
   * - A store completing after that read but before the clear's tlbie returns may have used the
   *   old translation (C still set). When the page is reported dirty, it is covered, so the new
   *   snapshot is the count read after the test; when it is reported clean, the snapshot is
   *   `before` and later stores must show up in the next harvest.
   * - An unmap (migration, swap) clears the leaf and marks the bitmap in one mmu_lock hold; the
   *   lockless first read of the test can see the cleared leaf before the bit is set (the kernel
   *   has the same order: the page is then reported by the next harvest). A page that looks lost
   *   is therefore re-examined after an mmu_lock barrier: a bitmap bit set by then is a late
   *   report, left for the next harvest, not a lost page.
   */
  /** The L1 pages the harvest covers: those that back L2 memory. */
  private harvestPages(): number {
    const L = this.ctx.L;
    const stride = Math.ceil(L.guestPages / L.l1AlignPages) * L.l1AlignPages;
    return Math.min(L.l1WindowPages, stride * L.guestCount);
  }

  /** Restart the completeness record: every page's snapshot is its store count now. Lock: slots_lock. */
  private restartDirtyLogRecord(): void {
    const ctx = this.ctx;
    for (let page = 0, n = this.harvestPages(); page < n; page++) ctx.w[ctx.L.harvestSnapWord + page] = pageWrites(ctx, page);
  }

  private harvest(): void {
    const ctx = this.ctx;
    const L = ctx.L;
    const w = ctx.w;
    const pages = this.harvestPages();
    let before = 0;
    // Window taints of the page's interval (the stores since its last harvest began), read with
    // the write count that closes the interval: a P1 taint set after that belongs to the next one.
    let taint = 0;
    harvestDirtyLog(
      ctx,
      0,
      pages,
      (page, dirty) => {
        const snapI = L.harvestSnapWord + page;
        if (dirty) {
          w[snapI] = pageWrites(ctx, page);
          return;
        }
        const snap = w[snapI];
        if (before !== snap) {
          ctx.mmuLock(); // barrier: an unmap that took this page's leaf has marked the bitmap
          const late = (Atomics.load(w, L.dirtyWord + (page >>> 5)) & (1 << (page & 31))) !== 0;
          ctx.mmuUnlock();
          if (!late) ctx.report.dirtyPageMissed(page, snap, before, (taint & TAINT_P1) !== 0 ? WINDOW.P1 : (taint & TAINT_P5) !== 0 ? WINDOW.P5 : (taint & TAINT_P6) !== 0 ? WINDOW.P6 : NO_WINDOW);
        }
        w[snapI] = before;
      },
      (page) => {
        // P1's taint is per interval; P5's stays: the dirty shadow leaf it marks outlives harvests
        // (they find the L0 leaf clean and clean nothing) until the page is dirtied or unmapped.
        taint = Atomics.and(w, L.windowTaintWord + page, ~TAINT_P1);
        before = pageWrites(ctx, page);
      },
    );
  }

  private audit(): void {
    const ctx = this.ctx;
    const m = ctx.m;
    stopTheWorld(m, () => audit(ctx, { writesCompleted: writesByL1(ctx) }));
  }
}
