/**
 * The shared machine's layout: the single source of every offset (docs/architecture.md, "Shared-memory rules").
 *
 * One SharedArrayBuffer holds the whole simulated machine. Every region is addressed in 32-bit
 * words through one Int32Array (`Machine.w`), except the per-worker counter blocks, which are
 * Float64 (they carry nanosecond sums). `computeLayout` derives all offsets from the resolved
 * config; `attachMachine` (machine.ts) builds identical views in the coordinator and every worker.
 *
 * Address vocabulary (docs/architecture.md, "Conventions"): `pn` = a page number in 4 KiB units; `l2Pn` (kernel n_gpa >> 12),
 * `l1Pn`/`gfn` (gpa >> 12, in 4 KiB units), `hostPn` (hpa >> 12). Frames of host memory are
 * counted in base pages (`frame`), base page = L0's PAGE_SIZE (4K or 64K).
 */
import { TLB_LOCK_HOLDS } from './records.js';
import type { ResolvedConfig } from '../workload/types.js';
import {
  CTRL_WORDS,
  L1CTRL_WORDS,
  L1_LOCKS,
  GUEST_WORDS,
  LINE_WORDS,
  MAX_MEMSLOTS,
  MAX_NESTED_LPID,
  MEMSLOT_WORDS,
  PGD_UNITS,
  PTBL_ENTRY_BYTES,
  PTBL_WORDS,
  RMAP_NODE_WORDS,
  TABLE_UNIT_WORDS,
  TLB_ENTRY_WORDS,
  VIOLATION_SLOTS,
  VIOLATION_WORDS,
} from './records.js';
import { COUNTER_COUNT } from '../stats/counters.js';
import { PAGE_BYTES_4K, PMD_SHIFT, PUD_SHIFT, bytesToPn } from '../mmu/geometry.js';
import { formatSize } from '../workload/units.js';

export const LAYOUT_MAGIC = 0x4e53_494d; // "NSIM"
export const LAYOUT_VERSION = 6;

export interface Layout {
  readonly totalBytes: number;
  readonly pageShift: number; // L0 base page shift (12 or 16)
  readonly basePn: number; // base page in 4 KiB units
  readonly vcpus: number;
  readonly workers: number; // counter blocks: vCPUs + 1 for the coordinator
  readonly guestCount: number; // per L1

  /**
   * Several L1s (`l1.count`): every region marked "per L1" below exists once per L1, the L1s'
   * copies `l1Stride` words apart; a Layout describes one L1's view (`l1Index`), in which those
   * fields point at that L1's copy and every other field at the one shared region
   * (`layoutOfL1`). Sizes (`l1Pages`, `guestCount`, ...) are per L1.
   */
  readonly l1Count: number;
  readonly l1Index: number;
  readonly l1Stride: number;

  readonly ctrlWord: number;
  /** The host lock's line (shared by every L1: host frames and swap). */
  readonly hostLockWord: number;
  /** Per L1: its control block (L1CTRL). */
  readonly l1CtrlWord: number;
  readonly locksWord: number; // per L1: L1_LOCKS + guestCount lines
  /**
   * Per nested guest: the modeled [acquire, release] intervals (Float64 pairs) of its tlb_lock's
   * last TLB_LOCK_HOLDS holders (modeled time, hv/context.ts). Written and read only under the lock.
   */
  readonly tlbHoldsWord: number;


  /**
   * Per L1: host table space (its shadow tables and L0's table for it), at host real address 0.
   * Each L1 has a pool of its own: the L1s' units share host real addresses (simplified: the
   * kernel takes table pages from one host allocator; nothing compares table addresses across L1s).
   */
  readonly hostTablesWord: number;
  readonly hostTableUnits: number;
  readonly hostTableNextWord: number; // free-list links, one per unit
  /** L1 table space: L1's tables for its L2s, living in L1 memory at `l1TableBasePn`. */
  readonly l1TablesWord: number;
  readonly l1TableUnits: number;
  readonly l1TableNextWord: number;
  readonly l1TableBasePn: number;
  /** L1's partition table (4 words per lpid), in L1 memory at `l1PtblPn`. */
  readonly l1PtblWord: number;
  readonly l1PtblPn: number;

  /** Host data frames: first host page number (4 KiB units) and count (base pages). */
  readonly hostDataBasePn: number;
  readonly hostFrames: number;
  readonly frameWritesWord: number; // write counter per frame
  readonly frameGenWord: number; // generation per frame: bumped when retired
  readonly frameOwnerWord: number; // owner of the frame: l1Index * l1Pages + L1 base page + 1, 0 = free
  readonly frameNextWord: number; // free-list link

  /** L1 memory in base pages: main slot, readonly slot, then the MMIO hole (no slot). */
  readonly l1Pages: number; // main + readonly, in base pages
  readonly l1MainPages: number;
  readonly l1MmioPages: number;
  readonly l1DataPages: number; // main pages usable for L2 data (below the table area)
  /** L2 memory per guest in base pages, and how L1 lays it out (see hv/l1-handler.ts). */
  readonly guestPages: number;
  readonly l2RoPages: number; // first pages of each L2: mapped onto L1's read-only memslot
  readonly l2MmioPages: number; // last pages of each L2: mapped onto L1's MMIO hole
  readonly l1WindowPages: number; // L1 data pages L2 memory is spread over (1G/2M multiple)
  readonly l1AlignPages: number; // largest L1 leaf size (pages) usable in the window
  readonly harvestSnapWord: number; // per L1 base page: its write count at the last harvest
  /** Per L1 base page: TAINT_* bits, set by a kernel window's code path (invariants/windows.ts). */
  readonly windowTaintWord: number;
  /**
   * Per L1 base page: harvests that cleared its D where the P5 fix would have bumped
   * mmu_invalidate_seq (kernel as written only; invariants/windows.ts).
   */
  readonly dirtyClearSeqWord: number;
  /**
   * Per nested guest and L2 base page: the W and C bits (PAGE_WRITE, PAGE_DIRTY) L1's table may
   * grant as of L1's last completed tlbie (checker state for the online I2/I3 check on stores;
   * see l1Grant/l1Revoke in hv/l1-handler.ts).
   */
  readonly l1GrantWord: number;
  readonly backingWord: number; // per L1 base page: (order << 28) | (frame + 1), 0 = none
  readonly swapWritesWord: number; // per L1 base page: write count while swapped out
  readonly rmapHeadWord: number; // per L1 base page: rmap list head (node + 1)
  readonly dirtyWord: number; // dirty bitmap, one bit per L1 base page
  readonly memslotsWord: number;

  readonly rmapNodesWord: number;
  readonly rmapNodes: number;

  readonly guestsWord: number; // guestCount records of GUEST_WORDS
  readonly idrWord: number; // MAX_NESTED_LPID words: l1 lpid -> guest slot + 1

  readonly tlbSets: number;
  readonly tlbWays: number;
  readonly tlbWord: number; // vcpus * sets * ways * TLB_ENTRY_WORDS
  readonly vcpuCtlWord: number; // one line per vCPU (state, quiesce generation, ...)

  readonly violationsWord: number;

  /** Float64 region: one counter block per worker. Offset in BYTES (8-aligned). */
  readonly countersByte: number;
  readonly counterWords64: number; // per block
  /** Every region as [name, startByte, endByte], in address order (computed with the offsets). */
  readonly regions: ReadonlyArray<readonly [string, number, number]>;
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * A config the machine cannot be laid out for (a user error, found by `validate` as by `run`): the
 * key to blame, and the text after "expected" and "found". The caller turns it into a
 * `ConfigError` at the key's position.
 */
export class LayoutError extends Error {
  override name = 'LayoutError';
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${key}: expected ${expected}, found ${found}`);
  }
}

/**
 * Largest shared machine: 4 GiB, so every word index (below 2^30) is a small integer and stays
 * exact through int32 arithmetic. The reservation is address space, not memory: a
 * SharedArrayBuffer's pages are committed when first written, and nothing is written up front
 * but the control words, so resident memory follows the pages, tables and rmap nodes a run
 * touches (a 4096-guest machine of 3.7G runs a short workload in under 100 MB).
 */
export const MAX_MACHINE_BYTES = 2 ** 32;
/** Real addresses (host and L1) a PTE's RPN field can hold: 2^25 pages of 4 KiB, 128 GiB. */
const MAX_REAL_PN = 2 ** 25;

/** Size of one page-size leaf in base pages. */
export function pagesPerShift(shift: number, pageShift: number): number {
  return 2 ** Math.max(0, shift - pageShift);
}

export function computeLayout(cfg: ResolvedConfig, workersOverride?: number): Layout {
  const pageShift = cfg.basePageSize === '64K' ? 16 : 12;
  const basePn = 1 << (pageShift - 12);
  const pageBytes = 2 ** pageShift;
  const vcpus = cfg.vcpus;
  const workers = workersOverride ?? vcpus + 1;
  const guestCount = cfg.guests.count;
  const guestPages = Math.ceil(cfg.guests.memoryBytes / pageBytes);

  // Table space sizing: worst case for every tree fully populated with base-page leaves,
  // plus slack for churn (freed units are recycled through a free list).
  const ptePerUnit = pageShift === 16 ? 32 : 512;
  const treeUnits = (pages: number): number =>
    Math.ceil(pages / ptePerUnit) + Math.ceil(pages / (ptePerUnit * 512)) + Math.ceil(pages / (ptePerUnit * 512 * 512)) + 4;
  const mainPages = Math.ceil((cfg.l1.memoryBytes - cfg.l1.readonlyBytes) / pageBytes);
  const l1Pages = Math.ceil(cfg.l1.memoryBytes / pageBytes);
  const shadowUnits = guestCount * treeUnits(Math.min(guestPages, Math.ceil(cfg.guests.memoryBytes / pageBytes)));
  const hostTableUnits = PGD_UNITS * (guestCount + 1) + treeUnits(l1Pages) + shadowUnits + 64;
  const l1TableUnits = PGD_UNITS * guestCount + guestCount * treeUnits(guestPages) + 64;

  // L1's table area: at the top of the main memslot, 4 KiB-unit aligned, then its partition table.
  const l1TableBytes = l1TableUnits * PAGE_BYTES_4K + MAX_NESTED_LPID * PTBL_ENTRY_BYTES;
  const l1TableAreaPages = Math.ceil(l1TableBytes / pageBytes);
  if (l1TableAreaPages >= mainPages) {
    throw new LayoutError(
      'l1.memory',
      `at least ${formatSize(roundUp((l1TableAreaPages + 1) * pageBytes + cfg.l1.readonlyBytes, 1 << 20))}: L1's page tables for ${guestCount} nested guest(s) of ${formatSize(cfg.guests.memoryBytes)} take ${formatSize(roundUp(l1TableAreaPages * pageBytes, 1 << 20))} of its main memory`,
      formatSize(cfg.l1.memoryBytes),
    );
  }
  // L1's tables start 64 KiB aligned (a PGD must be aligned to its own size).
  const pgdAlignPages = Math.max(1, 16 / basePn);
  const l1DataPages = Math.floor((mainPages - l1TableAreaPages) / pgdAlignPages) * pgdAlignPages;
  const l1TableBasePn = l1DataPages * basePn;
  // The window of L1 data pages L2 memory is spread over: a multiple of the largest leaf that fits.
  const pages1G = 2 ** (PUD_SHIFT - pageShift);
  const pages2M = 2 ** (PMD_SHIFT - pageShift);
  const l1AlignPages = l1DataPages >= pages1G ? pages1G : l1DataPages >= pages2M ? pages2M : 1;
  const l1WindowPages = Math.floor(l1DataPages / l1AlignPages) * l1AlignPages;
  const l1PtblPn = l1TableBasePn + l1TableUnits;

  const hostFrames = Math.floor(cfg.host.memoryBytes / pageBytes);
  // Host real address map: tables from 0, data frames from the next 1 GiB boundary.
  const hostTableBytes = hostTableUnits * PAGE_BYTES_4K;
  const hostDataBasePn = bytesToPn(roundUp(hostTableBytes, 2 ** PUD_SHIFT));
  if (hostDataBasePn + hostFrames * basePn >= MAX_REAL_PN) {
    throw new LayoutError('host.memory', `host real addresses below 128G (a PTE's real page number), with ${formatSize(hostTableBytes)} of L0 page tables below the data`, formatSize(cfg.host.memoryBytes));
  }
  if ((l1Pages + Math.ceil(cfg.l1.mmioBytes / pageBytes)) * basePn >= MAX_REAL_PN) {
    throw new LayoutError('l1.memory', "L1 real addresses below 128G (a PTE's real page number), MMIO hole included", formatSize(cfg.l1.memoryBytes));
  }

  const rmapNodes = Math.min(2 ** 24, guestCount * guestPages * 2 + 4096);
  const tlbWays = cfg.hardware.tlbWays;
  const tlbSets = cfg.hardware.tlbEntries / tlbWays;

  // Each region is taken once, here: its offset and its size in one place, recorded for the
  // layout test and `--debug-layout` (`regions`). The shared regions first, then L1 0's own
  // regions, then the other L1s' copies of them, `l1Stride` words apart.
  const l1Count = cfg.l1.count;
  let w = 0;
  const regions: Array<[string, number, number]> = [];
  const take = (name: string, words: number, alignWords = LINE_WORDS): number => {
    w = roundUp(w, alignWords);
    const at = w;
    w += words;
    regions.push([name, at * 4, w * 4]);
    return at;
  };
  const ctrlWord = take('ctrl', CTRL_WORDS);
  const hostLockWord = take('hostLock', LINE_WORDS);
  const vcpuCtlWord = take('vcpuCtl', vcpus * LINE_WORDS);
  const violationsWord = take('violations', VIOLATION_SLOTS * VIOLATION_WORDS);
  const frameWritesWord = take('frameWrites', hostFrames);
  const frameGenWord = take('frameGen', hostFrames);
  const frameOwnerWord = take('frameOwner', hostFrames);
  const frameNextWord = take('frameNext', hostFrames);
  const tlbWord = take('tlb', vcpus * tlbSets * tlbWays * TLB_ENTRY_WORDS);
  // Per L1. The block starts and ends on a table unit, so every L1's tables stay unit-aligned.
  w = roundUp(w, TABLE_UNIT_WORDS);
  const l1Block = w;
  const l1CtrlWord = take('l1Ctrl', L1CTRL_WORDS);
  const locksWord = take('locks', (L1_LOCKS + guestCount) * LINE_WORDS);
  const tlbHoldsWord = take('tlbHolds', guestCount * TLB_LOCK_HOLDS * 4);
  const guestsWord = take('guests', guestCount * GUEST_WORDS);
  const idrWord = take('idr', MAX_NESTED_LPID);
  const memslotsWord = take('memslots', MAX_MEMSLOTS * MEMSLOT_WORDS);
  const hostTablesWord = take('hostTables', hostTableUnits * TABLE_UNIT_WORDS, TABLE_UNIT_WORDS);
  const hostTableNextWord = take('hostTableNext', hostTableUnits);
  const l1TablesWord = take('l1Tables', l1TableUnits * TABLE_UNIT_WORDS, TABLE_UNIT_WORDS);
  const l1TableNextWord = take('l1TableNext', l1TableUnits);
  const l1PtblWord = take('l1Ptbl', MAX_NESTED_LPID * PTBL_WORDS);
  const backingWord = take('backing', l1Pages);
  const harvestSnapWord = take('harvestSnap', l1Pages);
  const windowTaintWord = take('windowTaint', l1Pages);
  const dirtyClearSeqWord = take('dirtyClearSeq', l1Pages);
  const l1GrantWord = take('l1Grant', guestCount * guestPages);
  const swapWritesWord = take('swapWrites', l1Pages);
  const rmapHeadWord = take('rmapHead', l1Pages);
  const dirtyWord = take('dirty', Math.ceil(l1Pages / 32));
  const rmapNodesWord = take('rmapNodes', rmapNodes * RMAP_NODE_WORDS);
  w = roundUp(w, TABLE_UNIT_WORDS);
  const l1Stride = w - l1Block;
  if (l1Count > 1) {
    regions.push([`L1 1..${l1Count - 1} (each as L1 0's, ${formatSize(l1Stride * 4)})`, w * 4, (w + (l1Count - 1) * l1Stride) * 4]);
    w += (l1Count - 1) * l1Stride;
  }
  const counterWords64 = roundUp(COUNTER_COUNT, 8);
  w = roundUp(w, LINE_WORDS);
  const countersByte = w * 4;
  const totalBytes = countersByte + workers * counterWords64 * 8;
  regions.push(['counters', countersByte, totalBytes]);
  if (totalBytes >= MAX_MACHINE_BYTES) {
    const what = `${l1Count > 1 ? `${l1Count} L1s, each with ` : ''}${guestCount} nested guest(s) of ${formatSize(cfg.guests.memoryBytes)}`;
    throw new LayoutError(
      l1Count > 1 ? 'l1.count' : 'guests.count',
      `a machine within ${formatSize(MAX_MACHINE_BYTES)} of shared memory (this one needs ${formatSize(roundUp(totalBytes, 1 << 20))}: ${what} each reserve their tables, grants and rmap nodes)`,
      String(l1Count > 1 ? l1Count : guestCount),
    );
  }

  return Object.freeze({
    totalBytes,
    pageShift,
    basePn,
    vcpus,
    workers,
    guestCount,
    l1Count,
    l1Index: 0,
    l1Stride,
    ctrlWord,
    hostLockWord,
    l1CtrlWord,
    locksWord,
    tlbHoldsWord,
    hostTablesWord,
    hostTableUnits,
    hostTableNextWord,
    l1TablesWord,
    l1TableUnits,
    l1TableNextWord,
    l1TableBasePn,
    l1PtblWord,
    l1PtblPn,
    hostDataBasePn,
    hostFrames,
    frameWritesWord,
    frameGenWord,
    frameOwnerWord,
    frameNextWord,
    l1Pages,
    l1MainPages: mainPages,
    l1MmioPages: Math.ceil(cfg.l1.mmioBytes / pageBytes),
    l1DataPages,
    guestPages,
    l2RoPages: Math.min(l1Pages - mainPages, Math.floor(guestPages / 256)),
    l2MmioPages: Math.min(Math.ceil(cfg.l1.mmioBytes / pageBytes), Math.floor(guestPages / 256)),
    l1WindowPages,
    l1AlignPages,
    harvestSnapWord,
    windowTaintWord,
    dirtyClearSeqWord,
    l1GrantWord,
    backingWord,
    swapWritesWord,
    rmapHeadWord,
    dirtyWord,
    memslotsWord,
    rmapNodesWord,
    rmapNodes,
    guestsWord,
    idrWord,
    tlbSets,
    tlbWays,
    tlbWord,
    vcpuCtlWord,
    violationsWord,
    countersByte,
    counterWords64,
    regions: Object.freeze(regions.map((r) => Object.freeze(r))),
  });
}

/** Every region as [name, startByte, endByte], for the layout test and `--debug-layout`. */
export function layoutRegions(L: Layout): ReadonlyArray<readonly [string, number, number]> {
  return L.regions;
}
