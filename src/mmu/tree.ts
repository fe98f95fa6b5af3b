/**
 * Radix tree mechanism over table words in shared memory (the walk/lookup half of the kernel's
 * `book3s_64_mmu_radix.c`, and `find_kvm_secondary_pte`). Pure: no locks, no config; the caller
 * says which lock it holds. Updates that can race are single atomic operations (§2.5).
 */
import { PAGE_PRESENT, PAGE_PTE, PTE_NLB_MASK, dirNls } from './pte.js';
import { LEVEL_PGD, RADIX_ADDR_BITS, pnToBytes, type Geometry } from './geometry.js';

/** Words in one table unit (a 4 KiB ISA table of 512 eight-byte entries). */
export const UNIT_WORDS = 512;

/** A family of page tables living in one region of the machine. */
export interface TableSpace {
  /** Word offset of unit 0 in the machine's Int32Array. */
  readonly word: number;
  /** 4 KiB page number (host or L1 real address) of unit 0. */
  readonly basePn: number;
  readonly units: number;
  readonly nextWord: number;
  readonly bumpCtrl: number;
  readonly freeCtrl: number;
  /** Lock line index guarding the unit allocator. */
  readonly lock: number;
  /** First unit the bump allocator hands out (PGDs below it are fixed). */
  readonly firstUnit: number;
}

/** Where a lookup stopped: scratch object owned by one thread, reused (no allocation). */
export class LeafRef {
  /** Word index of the leaf (or of the empty/directory entry where the walk stopped). */
  word = -1;
  /** Level of that entry: 0 PTE, 1 PMD, 2 PUD, 3 PGD. */
  level = 0;
  /** Page shift (bytes) a leaf at that level maps. */
  shift = 12;
}

/** Word index of the entry for 4 KiB page `pn` in the table whose first word is `tableWord`. */
function entryWord(tableWord: number, pn: number, g: Geometry, level: number): number {
  return tableWord + ((pn >>> g.pnShift[level]) & ((1 << g.bits[level]) - 1));
}

/**
 * Find the leaf covering `pn` in a well-formed tree in L0 memory whose PGD is `pgdUnit`.
 * Returns the leaf's word index, or -1 when there is none; `ref` says where the walk stopped.
 * Lock: none needed to read (entries are read atomically); the result may be stale unless the
 * caller holds mmu_lock.
 */
export function findLeaf(w: Int32Array, space: TableSpace, pgdUnit: number, pn: number, g: Geometry, ref: LeafRef): number {
  let table = space.word + pgdUnit * UNIT_WORDS;
  for (let level = LEVEL_PGD; level >= 0; level--) {
    const idx = entryWord(table, pn, g, level);
    const e = Atomics.load(w, idx);
    ref.word = idx;
    ref.level = level;
    ref.shift = level < 3 ? g.leafShift[level] : 39;
    if (e >= 0) return -1; // not present (stray R/C bits without V count as none)
    if ((e & PAGE_PTE) !== 0) return level === LEVEL_PGD ? -1 : idx;
    table = space.word + ((e & PTE_NLB_MASK) - space.basePn) * UNIT_WORDS;
  }
  return -1;
}

/**
 * `findLeaf` for a caller holding mmu_lock: the entries on the way down are read with plain
 * loads. Why that is allowed (docs/architecture.md, "Shared-memory rules"): every write of a directory word,
 * and every write that makes an entry present, absent, a leaf or a directory, happens under
 * mmu_lock, which the caller holds; the only lockless writer of these words is hardware R/C
 * write-back (`hardware.rc: auto`), which ORs R or C into a present leaf and changes none of the
 * bits this walk looks at. A caller that uses the leaf's value reads it again atomically (each
 * Atomics call costs ~9 ns in Node 20, more than the rest of a level's work).
 */
export function findLeafLocked(w: Int32Array, space: TableSpace, pgdUnit: number, pn: number, g: Geometry, ref: LeafRef): number {
  let table = space.word + pgdUnit * UNIT_WORDS;
  for (let level = LEVEL_PGD; level >= 0; level--) {
    const idx = entryWord(table, pn, g, level);
    const e = w[idx];
    ref.word = idx;
    ref.level = level;
    ref.shift = level < 3 ? g.leafShift[level] : 39;
    if (e >= 0) return -1;
    if ((e & PAGE_PTE) !== 0) return level === LEVEL_PGD ? -1 : idx;
    table = space.word + ((e & PTE_NLB_MASK) - space.basePn) * UNIT_WORDS;
  }
  return -1;
}

/**
 * kernel `kvmppc_radix_update_pte` / `__radix_pte_update`: old -> (old | set) & ~clr by a
 * compare-exchange loop; returns the old value. Lock: mmu_lock (software exclusion); the CAS
 * guards against hardware R/C write-back and lockless readers.
 */
export function pteUpdate(w: Int32Array, i: number, clr: number, set: number): number {
  for (;;) {
    const old = Atomics.load(w, i);
    const nv = (old | set) & ~clr;
    if (Atomics.compareExchange(w, i, old, nv) === old) return old;
  }
}

/** Unmap: atomic exchange to 0, returning the old value (kernel: update with clr = all ones). */
export function pteClear(w: Int32Array, i: number): number {
  return Atomics.exchange(w, i, 0);
}

// ---- the software walk of a guest's tree (kvmppc_mmu_walk_radix_tree, §2.4) -----------------

export const WALK_OK = 0;
export const WALK_UNSUPPORTED = 1; // kernel -EINVAL from the walk
export const WALK_NOT_PRESENT = 2; // -ENOENT
export const WALK_READ_FAILED = 3; // -EFAULT reading guest memory

/**
 * Reads 8-byte entries of a guest's memory: entry `index` of the table at 4 KiB page `tablePn`
 * (byte address tablePn * 4096 + index * 8); `READ_FAILED_VALUE` when the address is unreadable.
 * Page and index rather than a byte address keep the hot walk in small-integer arithmetic.
 */
export interface GuestMemoryReader {
  readEntry(tablePn: number, index: number): number;
}
/** An impossible stored word (V with L clear and reserved NLS 31 and NLB all ones). */
export const READ_FAILED_VALUE = PAGE_PRESENT | (0x1f << 25) | PTE_NLB_MASK;

export class WalkResult {
  status = WALK_OK;
  /** The leaf word found. */
  leaf = 0;
  /** log2 bytes of the leaf (kernel gpte.page_shift). */
  pageShift = 12;
  /** Translated address in 4 KiB units (leaf RPN plus the offset bits of the input). */
  raPn = 0;
  /** READ_FAILED: the byte address of the unreadable entry. */
  failAddr = 0;
  /** Entries the walk read from guest memory (each costs a read of L1 memory). */
  reads = 0;
}

/**
 * Walk the tree rooted at `rootWord` (a partition-table dw0 root: RPDB in 4 KiB units and RPDS
 * in the NLS field, as a directory word) with tree size field `rts`, for 4 KiB page `pn`.
 * Every failure reason of §2.4 is reported; nothing is written.
 */
export function walkRadixTree(mem: GuestMemoryReader, rootWord: number, rts: number, pn: number, out: WalkResult): number {
  out.leaf = 0;
  out.reads = 0;
  if (rts + 31 !== RADIX_ADDR_BITS) return (out.status = WALK_UNSUPPORTED);
  let bits = dirNls(rootWord);
  let basePn = rootWord & PTE_NLB_MASK;
  // `shift` is the index's position in 4 KiB page numbers: 52 - 12 minus the bits consumed.
  // Page numbers stay below 2^32 (addresses below 16 TiB), so `>>>` is exact.
  let shift = RADIX_ADDR_BITS - 12;
  for (let level = 3; level >= 0; level--) {
    if (level === 3 ? bits !== 13 : level === 0 ? bits !== 5 && bits !== 9 : bits !== 9) {
      return (out.status = WALK_UNSUPPORTED);
    }
    // Table base must be aligned to its own size, 2^(bits+3) bytes.
    const alignBits = bits + 3 - 12;
    if (alignBits > 0 && (basePn & ((1 << alignBits) - 1)) !== 0) return (out.status = WALK_UNSUPPORTED);
    shift -= bits;
    const index = (pn >>> shift) & ((1 << bits) - 1);
    const e = mem.readEntry(basePn, index);
    out.reads++;
    if (e === READ_FAILED_VALUE) {
      out.failAddr = pnToBytes(basePn) + index * 8;
      return (out.status = WALK_READ_FAILED);
    }
    if (e >= 0) return (out.status = WALK_NOT_PRESENT);
    if ((e & PAGE_PTE) !== 0) {
      if (level === 3) return (out.status = WALK_UNSUPPORTED); // no 512 GiB leaves
      const leafPn = e & PTE_NLB_MASK;
      const sizeMask = (1 << shift) - 1;
      if ((leafPn & sizeMask) !== 0) return (out.status = WALK_UNSUPPORTED); // misaligned leaf
      out.leaf = e;
      out.pageShift = shift + 12;
      out.raPn = leafPn + ((pn & sizeMask) >>> 0);
      return (out.status = WALK_OK);
    }
    basePn = e & PTE_NLB_MASK;
    bits = dirNls(e);
  }
  return (out.status = WALK_UNSUPPORTED); // no leaf even at level 0
}
