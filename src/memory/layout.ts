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
import type { ResolvedConfig } from '../workload/types.js';
import { COUNTER_COUNT } from '../stats/counters.js';
import { assert } from '../util/assert.js';
import { PAGE_BYTES_4K, PMD_SHIFT, PUD_SHIFT, bytesToPn } from '../mmu/geometry.js';

export const LAYOUT_MAGIC = 0x4e53_494d; // "NSIM"
export const LAYOUT_VERSION = 4;

/** Words per 64-byte line: each lock word sits on its own line. */
export const LINE_WORDS = 16;
/** Words in one page-table unit: a 4 KiB (ISA) table of 512 eight-byte entries, one word each. */
export const TABLE_UNIT_WORDS = 512;
/** A PGD (13 index bits) spans 16 units and is aligned to 64 KiB. */
export const PGD_UNITS = 16;
/** Largest number of nested guests per L1 (KVM_MAX_NESTED_GUESTS_SHIFT = 12). */
export const MAX_NESTED_LPID = 4096;
/** Words per nested-guest record. */
export const GUEST_WORDS = 16;
/**
 * Fields of an entry of L1's partition table for its guests (in L1 memory; L1 writes it, L0 reads
 * it on kvmhv_update_ptbl_cache): the radix tree size, the root (a directory word: base and size),
 * the process table, and L1's own count of its vCPUs running the guest (L1 bookkeeping, see
 * hv/l1-handler.ts; L0 never reads it). An ISA entry is 16 bytes: one word per field here.
 */
export const PTBL = { rts: 0, root: 1, processTable: 2, l1Running: 3 } as const;
export const PTBL_WORDS = Object.keys(PTBL).length;
/** Bytes of one partition-table entry in L1's memory (two doublewords). */
export const PTBL_ENTRY_BYTES = 16;
/** Words per rmap node: next, lpid, l2Pn. */
export const RMAP_NODE_WORDS = 4;
/** Words per memslot record. */
export const MEMSLOT_WORDS = 8;
export const MAX_MEMSLOTS = 4;
/** Words per TLB entry: tag (base-page number of the L2 address), lpid, data (leaf word), frame generation. */
export const TLB_ENTRY_WORDS = 4;
/**
 * Fields of an online violation record (written by invariants/violations.ts, decoded by
 * check/violations.ts): the invariant, which check fired (`VIOLATION_KIND`), the reporting vCPU,
 * the lpid and 4 KiB page number concerned, three values whose meaning the kind names (PTE words,
 * generations, counts), and the time since the reporter started, in ms.
 */
export const VIOLATION = { invariant: 0, kind: 1, vcpu: 2, lpid: 3, pn: 4, value0: 5, value1: 6, value2: 7, timeMs: 8 } as const;
export const VIOLATION_WORDS = Object.keys(VIOLATION).length;
export const VIOLATION_SLOTS = 64;

/**
 * Named indices in the control block (word offsets from `ctrlWord`). Grouped into 64-byte lines
 * (LINE_WORDS) by who writes them, so that a word written on every fault or table allocation
 * does not share a cache line with one every vCPU reads on every fault or access: false sharing
 * there turns each read into a cross-core cache miss and caps 2-vCPU scaling.
 */
export const CTRL = {
  // line 0: written once at creation, read-mostly afterwards
  magic: 0,
  version: 1,
  /** Next shadow lpid to hand out. */
  nextShadowLpid: 2,
  /** Dirty logging enabled on the main memslot (mirrors the slot flag, for actors). */
  dirtyLog: 3,
  // word 4: free
  /** Host backing choice: seed and thresholds (0..65535) for 1 GiB and 2 MiB blocks. */
  backingSeed: 5,
  backingMix1G: 6,
  backingMix2M: 7,
  /** L1's leaf-size choice for L2 memory: thresholds (0..65535) for 1 GiB and 2 MiB leaves. */
  l1Mix1G: 8,
  l1Mix2M: 9,
  // line 1: read by every fault, written only by invalidations (under mmu_lock)
  /** kvm->mmu_invalidate_seq */
  mmuSeq: 16,
  /** kvm->mmu_invalidate_in_progress */
  mmuInProgress: 17,
  // line 2: written by every broadcast invalidation; read by every hardware walk and quiescence
  /** Bumped by every broadcast invalidation before it scans the TLBs (see hw/shootdown.ts). */
  tlbEpoch: 32,
  /** Bumped by every broadcast invalidation after it dropped TLB entries, before it waits. */
  tlbDone: 33,
  // line 3: host frame allocator (host lock): bump pointer (frames) and free-list heads per order (frame + 1)
  hostBump: 48,
  hostFree0: 49,
  hostFree1: 50,
  hostFree2: 51,
  hostFramesFree: 52,
  /** Host memory allocation failures (GUP -EFAULT). */
  hostOom: 53,
  // line 4: host table unit allocator: bump and free-list head (unit + 1)
  hostTableBump: 64,
  hostTableFree: 65,
  /** Table unit allocation failures. */
  tableExhausted: 66,
  // line 5: L1 table unit allocator
  l1TableBump: 80,
  l1TableFree: 81,
  // line 6: rmap node pool: bump and free head (node + 1); changed only under mmu_lock
  rmapBump: 96,
  rmapFree: 97,
  /** Rmap node allocation failures (pool exhausted). */
  rmapExhausted: 98,
  // line 7: run control, read by every vCPU every few accesses, written rarely
  /** Run control: 1 = stop requested. */
  stop: 112,
  /** Audit barrier: requested generation and resume generation. */
  auditRequest: 113,
  auditResume: 114,
  // line 8: written when vCPUs park, start or finish
  auditParked: 128,
  /** Workers attached (sanity). */
  attached: 129,
  /** Live vCPUs that have not yet finished. */
  running: 130,
  // line 9: online violation ring: total count, then per invariant (16 words, indexed like INVARIANTS)
  violationCount: 144,
  violationByInvariant: 160,
} as const;
export const CTRL_WORDS = 176;

/** Lock lines (index into the lock region). Per-guest tlb_locks follow these. */
export const LOCK = {
  mmu: 0,
  host: 1,
  hostTable: 2,
  l1Table: 3,
  l1: 4, // L1's own lock for its tables (L1 kernel's page-table lock)
  /** kvm->slots_lock (a mutex): memslot changes and KVM_GET_DIRTY_LOG never overlap. */
  slots: 5,
} as const;
export const GLOBAL_LOCKS = 6;

export interface Layout {
  readonly totalBytes: number;
  readonly pageShift: number; // L0 base page shift (12 or 16)
  readonly basePn: number; // base page in 4 KiB units
  readonly vcpus: number;
  readonly workers: number; // counter blocks: vCPUs + 1 for the coordinator
  readonly guestCount: number;

  readonly ctrlWord: number;
  readonly locksWord: number; // GLOBAL_LOCKS + guestCount lines

  /** Host table space (shadow tables and L0's table for L1), at host real address 0. */
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
  readonly frameOwnerWord: number; // l1 base-page index + 1 that the frame backs, 0 = free
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

/** VCPU_CTL.state bits: a shootdown waits (notify me); in guest mode (TLB live); quiescence count unit. */
export const VSTATE_WAITING = 1;
export const VSTATE_IN_GUEST = 2;
export const VSTATE_QUIESCE = 4;

/** Fields of a vCPU control line. */
export const VCPU_CTL = {
  /**
   * The vCPU's guest-mode and quiescence word (VSTATE_* bits). The vCPU changes it only by atomic
   * adds, a shootdown only by setting or clearing VSTATE_WAITING, so every transition is one
   * atomic operation: entering or leaving guest mode adds VSTATE_IN_GUEST (leaving carries into
   * the count, so a leave-then-enter is still a change), an access boundary adds VSTATE_QUIESCE.
   */
  state: 0,
} as const;

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

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
  assert(l1TableAreaPages < mainPages, 'L1 memory too small for its own page tables');
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
  assert(hostDataBasePn + hostFrames * basePn < 2 ** 25, 'host real addresses beyond 128 GiB do not fit a PTE');
  assert((l1Pages + Math.ceil(cfg.l1.mmioBytes / pageBytes)) * basePn < 2 ** 25, 'L1 real addresses beyond 128 GiB');

  const rmapNodes = Math.min(2 ** 24, guestCount * guestPages * 2 + 4096);
  const tlbWays = cfg.hardware.tlbWays;
  const tlbSets = cfg.hardware.tlbEntries / tlbWays;

  // Each region is taken once, here: its offset and its size in one place, recorded for the
  // layout test and `--debug-layout` (`regions`).
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
  const locksWord = take('locks', (GLOBAL_LOCKS + guestCount) * LINE_WORDS);
  const guestsWord = take('guests', guestCount * GUEST_WORDS);
  const idrWord = take('idr', MAX_NESTED_LPID);
  const memslotsWord = take('memslots', MAX_MEMSLOTS * MEMSLOT_WORDS);
  const vcpuCtlWord = take('vcpuCtl', vcpus * LINE_WORDS);
  const violationsWord = take('violations', VIOLATION_SLOTS * VIOLATION_WORDS);
  const hostTablesWord = take('hostTables', hostTableUnits * TABLE_UNIT_WORDS, TABLE_UNIT_WORDS);
  const hostTableNextWord = take('hostTableNext', hostTableUnits);
  const l1TablesWord = take('l1Tables', l1TableUnits * TABLE_UNIT_WORDS, TABLE_UNIT_WORDS);
  const l1TableNextWord = take('l1TableNext', l1TableUnits);
  const l1PtblWord = take('l1Ptbl', MAX_NESTED_LPID * PTBL_WORDS);
  const frameWritesWord = take('frameWrites', hostFrames);
  const frameGenWord = take('frameGen', hostFrames);
  const frameOwnerWord = take('frameOwner', hostFrames);
  const frameNextWord = take('frameNext', hostFrames);
  const backingWord = take('backing', l1Pages);
  const harvestSnapWord = take('harvestSnap', l1Pages);
  const l1GrantWord = take('l1Grant', guestCount * guestPages);
  const swapWritesWord = take('swapWrites', l1Pages);
  const rmapHeadWord = take('rmapHead', l1Pages);
  const dirtyWord = take('dirty', Math.ceil(l1Pages / 32));
  const rmapNodesWord = take('rmapNodes', rmapNodes * RMAP_NODE_WORDS);
  const tlbWord = take('tlb', vcpus * tlbSets * tlbWays * TLB_ENTRY_WORDS);
  const counterWords64 = roundUp(COUNTER_COUNT, 8);
  w = roundUp(w, LINE_WORDS);
  const countersByte = w * 4;
  const totalBytes = countersByte + workers * counterWords64 * 8;
  regions.push(['counters', countersByte, totalBytes]);
  assert(totalBytes < 2 ** 31, `machine needs ${totalBytes} bytes of shared memory, over 2 GiB`);

  return Object.freeze({
    totalBytes,
    pageShift,
    basePn,
    vcpus,
    workers,
    guestCount,
    ctrlWord,
    locksWord,
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
