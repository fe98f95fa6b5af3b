/**
 * The software walk of L1's table for an L2 (kvmppc_mmu_walk_radix_tree, docs/model.md §2.4)
 * over a fake guest memory, for 4K and 64K geometry and every failure reason; and the in-L0 tree
 * lookup and update primitives (findLeaf, pteUpdate, pteClear).
 */
import { describe, expect, it } from 'vitest';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_READ, PAGE_WRITE, makeDir, makeLeaf } from '../../src/mmu/pte.js';
import { GEOMETRY_4K, GEOMETRY_64K, RADIX_RTS_52 } from '../../src/mmu/geometry.js';
import {
  LeafRef,
  READ_FAILED_VALUE,
  UNIT_WORDS,
  WALK_NOT_PRESENT,
  WALK_OK,
  WALK_READ_FAILED,
  WALK_UNSUPPORTED,
  WalkResult,
  findLeaf,
  pteClear,
  pteUpdate,
  walkRadixTree,
  type GuestMemoryReader,
  type TableSpace,
} from '../../src/mmu/tree.js';

/** Guest memory as a sparse map of 8-byte entries; addresses at or above `readableBelow` fail. */
class FakeMemory implements GuestMemoryReader {
  readonly entries = new Map<number, number>();
  readableBelow = Number.MAX_SAFE_INTEGER;
  reads: number[] = [];
  set(tablePn: number, index: number, word: number): void {
    this.entries.set(tablePn * 4096 + index * 8, word);
  }
  readEntry(tablePn: number, index: number): number {
    const addrBytes = tablePn * 4096 + index * 8;
    this.reads.push(addrBytes);
    if (addrBytes >= this.readableBelow) return READ_FAILED_VALUE;
    return this.entries.get(addrBytes) ?? 0;
  }
}

// Table placement (4 KiB page numbers in guest memory). The PGD is 64 KiB (13 bits) and aligned.
const PGD = 0x100;
const PUD = 0x200;
const PMD = 0x201;
const PTE = 0x202;
const RWX = PAGE_READ | PAGE_WRITE | PAGE_EXEC;

/** An address with a different, non-zero index at every level: PGD 3, PUD 5, PMD 7, PTE 11 (4K). */
const PN_4K = (3 << 27) + (5 << 18) + (7 << 9) + 11;
/** For 64K: PTE index (pn >> 4) & 31 = 11, and 4 KiB sub-page 6 inside the 64K page. */
const PN_64K = (3 << 27) + (5 << 18) + (7 << 9) + (11 << 4) + 6;

interface Tree {
  mem: FakeMemory;
  root: number;
}

/** A 4-level tree for `pn` down to `leafLevel` (0 = base), the leaf mapping real page `raPn`. */
function buildTree(pn: number, leafLevel: number, raPn: number, flags: number, pteNls = 9): Tree {
  const mem = new FakeMemory();
  const g = pteNls === 5 ? GEOMETRY_64K : GEOMETRY_4K;
  const idx = (level: number): number => (pn >>> g.pnShift[level]) & ((1 << g.bits[level]) - 1);
  const tables = [PTE, PMD, PUD, PGD];
  const nls = [pteNls, 9, 9, 13];
  for (let level = 3; level > leafLevel; level--) mem.set(tables[level], idx(level), makeDir(tables[level - 1], nls[level - 1]));
  mem.set(tables[leafLevel], idx(leafLevel), makeLeaf(raPn, flags));
  return { mem, root: makeDir(PGD, 13) };
}

function walk(t: Tree, pn: number, rts = RADIX_RTS_52, root = t.root): WalkResult {
  const out = new WalkResult();
  walkRadixTree(t.mem, root, rts, pn, out);
  return out;
}

describe('walkRadixTree, 4K geometry (13/9/9/9)', () => {
  it('base leaf -> OK, page_shift 12, gpa = leaf RPN, leaf word returned', () => {
    const t = buildTree(PN_4K, 0, 0x5_4321, RWX | PAGE_ACCESSED);
    const r = walk(t, PN_4K);
    expect(r.status).toBe(WALK_OK);
    expect(r.pageShift).toBe(12);
    expect(r.raPn).toBe(0x5_4321);
    expect(r.leaf).toBe(makeLeaf(0x5_4321, RWX | PAGE_ACCESSED));
    // Four dependent reads, one per level, at base + 8 * index.
    expect(t.mem.reads).toEqual([PGD * 4096 + 3 * 8, PUD * 4096 + 5 * 8, PMD * 4096 + 7 * 8, PTE * 4096 + 11 * 8]);
  });

  it('2M leaf at PMD -> OK, page_shift 21, gpa = RPN | offset bits of n_gpa', () => {
    const t = buildTree(PN_4K, 1, 0x4_0000, PAGE_READ);
    const r = walk(t, PN_4K);
    expect(r.status).toBe(WALK_OK);
    expect(r.pageShift).toBe(21);
    expect(r.raPn).toBe(0x4_0000 + 11);
  });

  it('1G leaf at PUD -> OK, page_shift 30, gpa = RPN | 30-bit offset', () => {
    const t = buildTree(PN_4K, 2, 0x8_0000, RWX | PAGE_DIRTY);
    const r = walk(t, PN_4K);
    expect(r.status).toBe(WALK_OK);
    expect(r.pageShift).toBe(30);
    expect(r.raPn).toBe(0x8_0000 + (7 << 9) + 11);
    expect(r.leaf & (PAGE_ACCESSED | PAGE_DIRTY)).toBe(PAGE_DIRTY); // rc = entry & (A|D)
  });

  it('wrong RTS (tree not 52 bits) -> UNSUPPORTED before any read', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    expect(walk(t, PN_4K, RADIX_RTS_52 - 1).status).toBe(WALK_UNSUPPORTED);
    expect(walk(t, PN_4K, RADIX_RTS_52 + 1).status).toBe(WALK_UNSUPPORTED);
    expect(t.mem.reads).toEqual([]);
  });

  it('wrong NLS at PGD (root RPDS 12) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    expect(walk(t, PN_4K, RADIX_RTS_52, makeDir(PGD, 12)).status).toBe(WALK_UNSUPPORTED);
  });

  it('wrong NLS at PUD (8) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.set(PGD, 3, makeDir(PUD, 8));
    expect(walk(t, PN_4K).status).toBe(WALK_UNSUPPORTED);
  });

  it('wrong NLS at PMD (10) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.set(PUD, 5, makeDir(PMD, 10));
    expect(walk(t, PN_4K).status).toBe(WALK_UNSUPPORTED);
  });

  it('wrong NLS at PTE level (7; only 5 or 9 allowed) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.set(PMD, 7, makeDir(PTE, 7));
    expect(walk(t, PN_4K).status).toBe(WALK_UNSUPPORTED);
  });

  it('misaligned table (64 KiB PGD at a 4 KiB-aligned base) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    expect(walk(t, PN_4K, RADIX_RTS_52, makeDir(PGD + 1, 13)).status).toBe(WALK_UNSUPPORTED);
    expect(t.mem.reads).toEqual([]);
  });

  it('misaligned leaf (2M leaf whose RPN is not 2M aligned) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 1, 0x4_0000 + 1, RWX);
    expect(walk(t, PN_4K).status).toBe(WALK_UNSUPPORTED);
    const t1g = buildTree(PN_4K, 2, 0x8_0000 + 0x200, RWX); // 2M- but not 1G-aligned
    expect(walk(t1g, PN_4K).status).toBe(WALK_UNSUPPORTED);
  });

  it('leaf at PGD (512G) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.set(PGD, 3, makeLeaf(0, RWX));
    expect(walk(t, PN_4K).status).toBe(WALK_UNSUPPORTED);
  });

  it('directory at level 0 (no leaf even at the last level) -> UNSUPPORTED', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.set(PTE, 11, makeDir(0x300, 9));
    expect(walk(t, PN_4K).status).toBe(WALK_UNSUPPORTED);
  });

  it('empty entry at each level -> NOT_PRESENT', () => {
    for (const [table, index] of [
      [PGD, 3],
      [PUD, 5],
      [PMD, 7],
      [PTE, 11],
    ] as const) {
      const t = buildTree(PN_4K, 0, 0x1000, RWX);
      t.mem.set(table, index, 0);
      expect(walk(t, PN_4K).status).toBe(WALK_NOT_PRESENT);
    }
  });

  it('non-present entry with stray R/C bits -> NOT_PRESENT (counts as none)', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.set(PTE, 11, PAGE_ACCESSED | PAGE_DIRTY | PAGE_READ | 0x1000);
    expect(walk(t, PN_4K).status).toBe(WALK_NOT_PRESENT);
  });

  it('unreadable table (PMD outside L1 memory) -> READ_FAILED, failAddr = byte address of the entry', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.readableBelow = PMD * 4096;
    const r = walk(t, PN_4K);
    expect(r.status).toBe(WALK_READ_FAILED);
    expect(r.failAddr).toBe(PMD * 4096 + 7 * 8);
  });

  it('unreadable root -> READ_FAILED at the PGD entry', () => {
    const t = buildTree(PN_4K, 0, 0x1000, RWX);
    t.mem.readableBelow = 0;
    const r = walk(t, PN_4K);
    expect(r.status).toBe(WALK_READ_FAILED);
    expect(r.failAddr).toBe(PGD * 4096 + 3 * 8);
  });
});

describe('walkRadixTree, 64K geometry (13/9/9/5)', () => {
  it('64K leaf in a 32-entry PTE table -> OK, page_shift 16, gpa keeps the 4K sub-page', () => {
    const t = buildTree(PN_64K, 0, 0x7_0000, RWX, 5);
    const r = walk(t, PN_64K);
    expect(r.status).toBe(WALK_OK);
    expect(r.pageShift).toBe(16);
    expect(r.raPn).toBe(0x7_0000 + 6);
    expect(t.mem.reads[3]).toBe(PTE * 4096 + 11 * 8);
  });

  it('2M leaf -> OK, page_shift 21', () => {
    const t = buildTree(PN_64K, 1, 0x7_0000, RWX, 5);
    const r = walk(t, PN_64K);
    expect(r.status).toBe(WALK_OK);
    expect(r.pageShift).toBe(21);
    expect(r.raPn).toBe(0x7_0000 + (11 << 4) + 6);
  });

  it('misaligned 64K leaf (RPN not 64K aligned) -> UNSUPPORTED', () => {
    const t = buildTree(PN_64K, 0, 0x7_0000 + 4, RWX, 5);
    expect(walk(t, PN_64K).status).toBe(WALK_UNSUPPORTED);
  });

  it('wrong NLS at the PTE level (6) -> UNSUPPORTED', () => {
    const t = buildTree(PN_64K, 0, 0x7_0000, RWX, 5);
    t.mem.set(PMD, 7, makeDir(PTE, 6));
    expect(walk(t, PN_64K).status).toBe(WALK_UNSUPPORTED);
  });

  it('empty 64K PTE entry -> NOT_PRESENT', () => {
    const t = buildTree(PN_64K, 0, 0x7_0000, RWX, 5);
    t.mem.set(PTE, 11, 0);
    expect(walk(t, PN_64K).status).toBe(WALK_NOT_PRESENT);
  });

  it('NLS 9 at level 0 under a 64K host is a valid 4K L1 tree -> OK with page_shift 12', () => {
    // The walk accepts it; the nested fault then rejects L1 pages below L0's base page (step E).
    const t = buildTree(PN_4K, 0, 0x1000, RWX, 9);
    expect(walk(t, PN_4K).pageShift).toBe(12);
  });
});

describe('findLeaf / pteUpdate / pteClear on an L0 table space', () => {
  // A table space at host page 0x10 with 20 units; PGD = units 0..15, then PUD 16, PMD 17, PTE 18.
  const BASE = 0x10;
  function space(): { w: Int32Array; sp: TableSpace } {
    const w = new Int32Array(20 * UNIT_WORDS);
    const sp: TableSpace = { word: 0, basePn: BASE, units: 20, nextWord: 0, bumpCtrl: 0, freeCtrl: 0, lock: 0, firstUnit: 16 };
    const g = GEOMETRY_4K;
    w[(PN_4K >>> g.pnShift[3]) & 0x1fff] = makeDir(BASE + 16, 9);
    w[16 * UNIT_WORDS + 5] = makeDir(BASE + 17, 9);
    w[17 * UNIT_WORDS + 7] = makeDir(BASE + 18, 9);
    return { w, sp };
  }

  it('base leaf -> word index, level 0, shift 12', () => {
    const { w, sp } = space();
    w[18 * UNIT_WORDS + 11] = makeLeaf(0x99, PAGE_READ);
    const ref = new LeafRef();
    expect(findLeaf(w, sp, 0, PN_4K, GEOMETRY_4K, ref)).toBe(18 * UNIT_WORDS + 11);
    expect([ref.level, ref.shift]).toEqual([0, 12]);
  });

  it('2M leaf at PMD -> level 1, shift 21; covers every 4K page of the block', () => {
    const { w, sp } = space();
    w[17 * UNIT_WORDS + 7] = makeLeaf(0x200, PAGE_READ);
    const ref = new LeafRef();
    expect(findLeaf(w, sp, 0, PN_4K - 11 + 511, GEOMETRY_4K, ref)).toBe(17 * UNIT_WORDS + 7);
    expect([ref.level, ref.shift]).toEqual([1, 21]);
  });

  it('empty entry or stray R/C -> -1, ref names where the walk stopped', () => {
    const { w, sp } = space();
    w[18 * UNIT_WORDS + 11] = PAGE_ACCESSED | PAGE_DIRTY;
    const ref = new LeafRef();
    expect(findLeaf(w, sp, 0, PN_4K, GEOMETRY_4K, ref)).toBe(-1);
    expect([ref.word, ref.level]).toEqual([18 * UNIT_WORDS + 11, 0]);
  });

  it('leaf at PGD -> -1 (unsupported size)', () => {
    const { w, sp } = space();
    w[(PN_4K >>> 27) & 0x1fff] = makeLeaf(0, PAGE_READ);
    expect(findLeaf(w, sp, 0, PN_4K, GEOMETRY_4K, new LeafRef())).toBe(-1);
  });

  it('pteUpdate: (old | set) & ~clr in one CAS, returns old; pteClear exchanges to 0', () => {
    const w = new Int32Array(1);
    w[0] = makeLeaf(0x42, PAGE_READ | PAGE_WRITE | PAGE_DIRTY);
    const old = pteUpdate(w, 0, PAGE_DIRTY, PAGE_ACCESSED);
    expect(old).toBe(makeLeaf(0x42, PAGE_READ | PAGE_WRITE | PAGE_DIRTY));
    expect(w[0]).toBe(makeLeaf(0x42, PAGE_READ | PAGE_WRITE | PAGE_ACCESSED));
    expect(pteClear(w, 0)).toBe(makeLeaf(0x42, PAGE_READ | PAGE_WRITE | PAGE_ACCESSED));
    expect(w[0]).toBe(0);
  });
});
