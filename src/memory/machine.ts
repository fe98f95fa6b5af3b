/**
 * The shared machine: views over the one SharedArrayBuffer, its initial state, and the two
 * allocators that live in it (page-table units and host data frames).
 *
 * `createMachine` (coordinator) allocates and initialises; `attachMachine` (every worker) builds
 * the same views over the same buffer and checks the magic/version word.
 */
import type { ResolvedConfig } from '../workload/types.js';
import { assert } from '../util/assert.js';
import { PMD_SHIFT, PUD_SHIFT } from '../mmu/geometry.js';
import type { TableSpace } from '../mmu/tree.js';
import { lockWord, unlockWord, MMU_LOCK_SPINS } from '../sync/lock.js';
import { LAYOUT_MAGIC, LAYOUT_VERSION, computeLayout, type Layout } from './layout.js';
import { layoutOfL1 } from './l1-layout.js';
import { CTRL, L1CTRL, LINE_WORDS, LOCK, L1_LOCKS, MEMSLOT_WORDS, PGD_UNITS, TABLE_UNIT_WORDS } from './records.js';

/** Memslot flags (kernel KVM_MEM_READONLY, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEMSLOT_INVALID). */
export const MEMSLOT_READONLY = 1;
export const MEMSLOT_LOG_DIRTY = 2;
export const MEMSLOT_INVALID = 4;
/** Memslot record fields. */
export const SLOT = { basePage: 0, npages: 1, flags: 2, used: 3 } as const;
export const SLOT_MAIN = 0;
export const SLOT_READONLY = 1;

/** Backing word: (order << 28) | (frame + 1). Orders: 0 base page, 1 = 2 MiB, 2 = 1 GiB. */
export const BACKING_ORDER_SHIFT = 28;
export const BACKING_FRAME_MASK = 0x0fff_ffff;
/** Set on every backing word of a block while the host migrates or swaps it (GUP-fast backs off). */
export const BACKING_BUSY = 1 << 30;

export class Machine {
  readonly w: Int32Array;
  readonly f64: Float64Array;
  readonly hostSpace: TableSpace;
  readonly l1Space: TableSpace;
  /** Page shifts for orders 0..2 of host backing: base, 2 MiB, 1 GiB. */
  readonly orderShift: readonly [number, number, number];
  /** Frames (base pages) per order. */
  readonly orderFrames: readonly [number, number, number];
  /** Highest order the host can hand out (2 if memory is a multiple of 1 GiB, else 1). */
  readonly topOrder: number;
  /** Which L1 this view is of (`L.l1Index`); the shared regions are the same in every view. */
  readonly l1: number;
  /** Every L1's view of the machine, this one included (shared by all the views of one buffer). */
  private readonly views: Machine[];

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly L: Layout,
    sibling?: Machine,
  ) {
    this.w = sibling?.w ?? new Int32Array(sab);
    this.f64 = sibling?.f64 ?? new Float64Array(sab);
    this.l1 = L.l1Index;
    this.views = sibling?.views ?? [];
    this.views[this.l1] = this;
    const ps = L.pageShift;
    this.orderShift = [ps, PMD_SHIFT, PUD_SHIFT];
    this.orderFrames = [1, 2 ** (PMD_SHIFT - ps), 2 ** (PUD_SHIFT - ps)];
    this.topOrder = L.hostFrames >= this.orderFrames[2] && L.hostFrames % this.orderFrames[2] === 0 ? 2 : 1;
    this.hostSpace = Object.freeze({
      word: L.hostTablesWord,
      basePn: 0,
      units: L.hostTableUnits,
      nextWord: L.hostTableNextWord,
      bumpCtrl: L.l1CtrlWord + L1CTRL.hostTableBump,
      freeCtrl: L.l1CtrlWord + L1CTRL.hostTableFree,
      lock: LOCK.hostTable,
      firstUnit: PGD_UNITS * (L.guestCount + 1),
    });
    this.l1Space = Object.freeze({
      word: L.l1TablesWord,
      basePn: L.l1TableBasePn,
      units: L.l1TableUnits,
      nextWord: L.l1TableNextWord,
      bumpCtrl: L.l1CtrlWord + L1CTRL.l1TableBump,
      freeCtrl: L.l1CtrlWord + L1CTRL.l1TableFree,
      lock: LOCK.l1Table,
      firstUnit: PGD_UNITS * L.guestCount,
    });
  }

  ctrl(i: number): number {
    return this.L.ctrlWord + i;
  }

  /** Word of this L1's control block entry `i` (L1CTRL). */
  l1ctrl(i: number): number {
    return this.L.l1CtrlWord + i;
  }

  /** L1 `k`'s view of this machine (the same buffer; built once, then shared). */
  forL1(k: number): Machine {
    return this.views[k] ?? new Machine(this.sab, layoutOfL1(this.L, k), this);
  }

  /**
   * The frame owner word (`frameOwnerWord`) for base page `page` of this L1: unique over every
   * L1, 0 meaning free.
   */
  ownerOf(page: number): number {
    return this.l1 * this.L.l1Pages + page + 1;
  }

  /**
   * Word `index` of the per-L1 array at `field` (a per-L1 Layout field of this view, such as
   * `backingWord`) for the page a frame owner word names, in whichever L1 owns it.
   */
  ownerWord(field: number, owner: number): number {
    const o = owner - 1;
    const k = Math.floor(o / this.L.l1Pages);
    return field + (k - this.l1) * this.L.l1Stride + (o - k * this.L.l1Pages);
  }

  /** The host lock's word (one for the whole host, whichever L1's view). */
  hostLockIndex(): number {
    return this.L.hostLockWord;
  }

  lockIndex(line: number): number {
    return this.L.locksWord + line * LINE_WORDS;
  }

  /** Lock line of nested guest slot `g`'s tlb_lock. */
  tlbLockIndex(g: number): number {
    return this.L.locksWord + (L1_LOCKS + g) * LINE_WORDS;
  }

  /** Float64 index of counter `c` in worker block `worker`. */
  counterIndex(worker: number, c: number): number {
    return this.L.countersByte / 8 + worker * this.L.counterWords64 + c;
  }

  counterBlock(worker: number): Float64Array {
    return new Float64Array(this.sab, this.L.countersByte + worker * this.L.counterWords64 * 8, this.L.counterWords64);
  }

  // ---- page-table units ------------------------------------------------------------------

  /** Word index of entry `index` of table unit `unit` in `space`. */
  tableWord(space: TableSpace, unit: number, index: number): number {
    return space.word + unit * TABLE_UNIT_WORDS + index;
  }

  /** Allocate one zeroed table unit, or -1 when the space is exhausted. Takes the space's lock. */
  allocTableUnit(space: TableSpace): number {
    const w = this.w;
    const lk = this.lockIndex(space.lock);
    lockWord(w, lk, MMU_LOCK_SPINS);
    let unit: number;
    const head = w[space.freeCtrl];
    if (head !== 0) {
      unit = head - 1;
      w[space.freeCtrl] = w[space.nextWord + unit];
    } else {
      unit = w[space.bumpCtrl];
      if (unit >= space.units) unit = -1;
      else w[space.bumpCtrl] = unit + 1;
    }
    unlockWord(w, lk);
    if (unit < 0) {
      Atomics.add(w, this.ctrl(CTRL.tableExhausted), 1);
      return -1;
    }
    // A freed unit was cleared entry by entry as its leaves were unmapped; clear again in case a
    // racing hardware R/C write-back left stray bits (docs/model.md §2.1).
    w.fill(0, space.word + unit * TABLE_UNIT_WORDS, space.word + (unit + 1) * TABLE_UNIT_WORDS);
    return unit;
  }

  /**
   * Return a table unit to its pool. Bumps the invalidation epoch first: a hardware walker's
   * page-walk cache (hw/walker.ts) may point at this unit, and is trusted only under the epoch it
   * was filled at; a walk that used it concurrently drops its TLB fill on the epoch re-check.
   */
  freeTableUnit(space: TableSpace, unit: number): void {
    assert(unit >= space.firstUnit && unit < space.units, `free of table unit ${unit} outside the pool`);
    const w = this.w;
    Atomics.add(w, this.ctrl(CTRL.tlbEpoch), 1);
    const lk = this.lockIndex(space.lock);
    lockWord(w, lk, MMU_LOCK_SPINS);
    w[space.nextWord + unit] = w[space.freeCtrl];
    w[space.freeCtrl] = unit + 1;
    unlockWord(w, lk);
  }

  /** Table unit of a directory's next-level base (4 KiB page number). */
  unitOfPn(space: TableSpace, pn: number): number {
    return pn - space.basePn;
  }

  // ---- host data frames ------------------------------------------------------------------

  /**
   * Allocate a naturally aligned block of 2^order-sized frames; returns the first frame or -1.
   * Takes a freed block first, then the next piece of the last larger block split for this order
   * (carved one piece per call), then splits a larger block or takes one from the bump pointer.
   * Never coalesces (freed huge blocks stay split: no compaction). Caller holds the host lock.
   */
  allocFramesLocked(order: number): number {
    const w = this.w;
    const L = this.L;
    const size = this.orderFrames[order];
    const headIdx = this.ctrl(CTRL.hostFree0 + order);
    const head = w[headIdx];
    if (head !== 0) {
      const f = head - 1;
      w[headIdx] = w[L.frameNextWord + f];
      w[this.ctrl(CTRL.hostFramesFree)] -= size;
      return f;
    }
    if (order < this.topOrder) {
      const nextIdx = this.ctrl(CTRL.hostCarve0Next + 2 * order);
      const endIdx = nextIdx + 1;
      let f = w[nextIdx];
      if (f >= w[endIdx]) {
        // Split a larger block: its first piece now, the rest as this order's carve.
        const big = this.allocFramesLocked(order + 1);
        if (big < 0) return -1;
        w[this.ctrl(CTRL.hostFramesFree)] += this.orderFrames[order + 1];
        f = big;
        w[endIdx] = big + this.orderFrames[order + 1];
      }
      w[nextIdx] = f + size;
      w[this.ctrl(CTRL.hostFramesFree)] -= size;
      return f;
    }
    const bump = w[this.ctrl(CTRL.hostBump)];
    if (bump + size > L.hostFrames) return -1;
    w[this.ctrl(CTRL.hostBump)] = bump + size;
    w[this.ctrl(CTRL.hostFramesFree)] -= size;
    return bump;
  }

  /**
   * Frames [from, to) of the host's data that no block has been handed out of yet: past the bump
   * pointer, or in the uncarved rest of a split block (an audit skips them). Caller holds the host
   * lock or the machine is quiescent.
   */
  uncarvedFrames(order: number): { from: number; to: number } {
    const nextIdx = this.ctrl(CTRL.hostCarve0Next + 2 * order);
    return { from: this.w[nextIdx], to: Math.max(this.w[nextIdx], this.w[nextIdx + 1]) };
  }

  /** Return a block to its order's free list. Caller holds the host lock. */
  freeFramesLocked(frame: number, order: number): void {
    const w = this.w;
    const headIdx = this.ctrl(CTRL.hostFree0 + order);
    w[this.L.frameNextWord + frame] = w[headIdx];
    w[headIdx] = frame + 1;
    w[this.ctrl(CTRL.hostFramesFree)] += this.orderFrames[order];
  }

  /** Host page number (4 KiB units) of a frame. */
  frameToHostPn(frame: number): number {
    return this.L.hostDataBasePn + frame * this.L.basePn;
  }

  /** Frame of a host page number (any 4 KiB page inside it). */
  hostPnToFrame(pn: number): number {
    return Math.floor((pn - this.L.hostDataBasePn) / this.L.basePn);
  }

  // ---- memslots ----------------------------------------------------------------------------

  slotWord(slot: number, field: number): number {
    return this.L.memslotsWord + slot * MEMSLOT_WORDS + field;
  }

  /**
   * The memslot holding L1 base page `page`, or -1 (an MMIO hole). Reads flags atomically;
   * the slot table itself is fixed after init (slots are flagged, never re-laid out).
   */
  memslotOf(page: number): number {
    const w = this.w;
    for (let s = 0; s < 2; s++) {
      const i = this.L.memslotsWord + s * MEMSLOT_WORDS;
      if (w[i + SLOT.used] === 0) continue;
      const base = w[i + SLOT.basePage];
      if (page >= base && page < base + w[i + SLOT.npages]) return s;
    }
    return -1;
  }

  slotFlags(slot: number): number {
    return Atomics.load(this.w, this.slotWord(slot, SLOT.flags));
  }
}

/** Allocate and initialise a machine for `cfg` (coordinator side). */
export function createMachine(cfg: ResolvedConfig, workersOverride?: number): Machine {
  const L = computeLayout(cfg, workersOverride);
  const sab = new SharedArrayBuffer(L.totalBytes);
  const m0 = new Machine(sab, L);
  const w = m0.w;
  w[m0.ctrl(CTRL.magic)] = LAYOUT_MAGIC;
  w[m0.ctrl(CTRL.version)] = LAYOUT_VERSION;
  w[m0.ctrl(CTRL.nextShadowLpid)] = 1;
  w[m0.ctrl(CTRL.hostFramesFree)] = L.hostFrames;
  // Each L1: its pools, its memslots, its dirty logging.
  for (let k = 0; k < L.l1Count; k++) {
    const m = m0.forL1(k);
    w[m.hostSpace.bumpCtrl] = m.hostSpace.firstUnit;
    w[m.l1Space.bumpCtrl] = m.l1Space.firstUnit;
    w[m.l1ctrl(L1CTRL.rmapBump)] = 1; // node 0 is never used: 0 means "none"
    const main = SLOT_MAIN;
    w[m.slotWord(main, SLOT.basePage)] = 0;
    w[m.slotWord(main, SLOT.npages)] = L.l1MainPages;
    w[m.slotWord(main, SLOT.flags)] = cfg.l1.dirtyLog ? MEMSLOT_LOG_DIRTY : 0;
    w[m.slotWord(main, SLOT.used)] = 1;
    w[m.l1ctrl(L1CTRL.dirtyLog)] = cfg.l1.dirtyLog ? 1 : 0;
    if (L.l1Pages > L.l1MainPages) {
      w[m.slotWord(SLOT_READONLY, SLOT.basePage)] = L.l1MainPages;
      w[m.slotWord(SLOT_READONLY, SLOT.npages)] = L.l1Pages - L.l1MainPages;
      w[m.slotWord(SLOT_READONLY, SLOT.flags)] = MEMSLOT_READONLY;
      w[m.slotWord(SLOT_READONLY, SLOT.used)] = 1;
    }
  }
  return m0;
}

/** Attach to a machine created elsewhere (worker side); fails loudly on a mismatch. */
export function attachMachine(sab: SharedArrayBuffer, L: Layout): Machine {
  assert(sab.byteLength === L.totalBytes, `machine is ${sab.byteLength} bytes, layout says ${L.totalBytes}`);
  const m = new Machine(sab, L);
  assert(m.w[m.ctrl(CTRL.magic)] === LAYOUT_MAGIC, 'not a nestsim machine (bad magic)');
  assert(m.w[m.ctrl(CTRL.version)] === LAYOUT_VERSION, 'nestsim machine layout version mismatch');
  return m;
}
