/**
 * create_pte (kvmppc_create_pte, docs/model.md §3.7), called directly on a shadow table and on
 * L0's table for L1: the seq re-check under mmu_lock, pre-allocation, the identical / merge /
 * replace-smaller rules at each level, rmap insertion in the same critical section, and window
 * P4 (a merge of two different RPNs) with and without `fixes: [p4]`.
 */
import { describe, expect, it } from 'vitest';
import { L1CTRL } from '../../src/memory/records.js';
import { createPte } from '../../src/hv/radix.js';
import { EAGAIN, ENOMEM } from '../../src/hv/outcome.js';
import { l1TableOf } from '../../src/hv/l1-table.js';
import { shadowTableOf } from '../../src/hv/shadow.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_PTE, PAGE_READ, PAGE_WRITE, isDir, makeLeaf, pteRpn, pteToIsa } from '../../src/mmu/pte.js';
import { LEVEL_PMD, LEVEL_PTE, LEVEL_PUD } from '../../src/mmu/geometry.js';
import {
  counter,
  freeHostTableUnits,
  hostLeafOf,
  makeRig,
  rmapOf,
  shadowEntryWord,
  shadowOf,
  violations,
  type Rig,
} from './helpers.js';

const R_X_A = PAGE_READ | PAGE_EXEC | PAGE_ACCESSED;
const RWXAD = R_X_A | PAGE_WRITE | PAGE_DIRTY;
/** An L2 address inside a 1G-aligned region, not itself aligned to 2M. */
const L2 = 0x4_0000 + 0x3_4567;
const L2_2M = L2 & ~511;
const L2_1G = L2 & ~0x3_ffff;
/** The L1 page whose rmap gets the shadow entries. */
const PAGE = 0x2345;

function hostPn(r: Rig, k = 0): number {
  return r.m.L.hostDataBasePn + k;
}

function shadowCreate(r: Rig, pn: number, pte: number, level: number, rmapPage = PAGE, seq = r.ctx.readSeq()): number {
  return createPte(r.ctx, shadowTableOf(r.ctx, r.slot, r.fs.shadow), pn, pte, level, seq, rmapPage, 1);
}

describe('create_pte: seq re-check and pre-allocation', () => {
  it('empty tree -> base leaf installed, PUD/PMD/PTE tables allocated, rmap (lpid, n_gpa) inserted', () => {
    const r = makeRig();
    const bump0 = r.w[r.m.hostSpace.bumpCtrl];
    const pte = makeLeaf(hostPn(r), RWXAD);
    expect(shadowCreate(r, L2, pte, LEVEL_PTE)).toBe(0);
    expect(shadowOf(r, L2)).toMatchObject({ value: pte, level: 0, shift: 12 });
    expect(r.w[r.m.hostSpace.bumpCtrl] - bump0).toBe(3);
    expect(isDir(r.w[shadowEntryWord(r, L2, LEVEL_PMD)])).toBe(true);
    expect(rmapOf(r, PAGE)).toEqual([[1, L2]]);
  });

  it('mmu_invalidate_seq moved since the fault read it -> -EAGAIN, nothing installed, pre-allocations freed', () => {
    const r = makeRig();
    const seq = r.ctx.readSeq();
    Atomics.add(r.w, r.m.l1ctrl(L1CTRL.mmuSeq), 1); // an invalidation completed
    expect(shadowCreate(r, L2, makeLeaf(hostPn(r), RWXAD), LEVEL_PTE, PAGE, seq)).toBe(EAGAIN);
    expect(shadowOf(r, L2).value).toBe(0);
    expect(rmapOf(r, PAGE)).toEqual([]);
    expect(freeHostTableUnits(r)).toBe(3);
  });

  it('invalidation in progress (in_progress > 0) -> -EAGAIN', () => {
    const r = makeRig();
    const seq = r.ctx.readSeq();
    Atomics.add(r.w, r.m.l1ctrl(L1CTRL.mmuInProgress), 1);
    expect(shadowCreate(r, L2, makeLeaf(hostPn(r), RWXAD), LEVEL_PTE, PAGE, seq)).toBe(EAGAIN);
    expect(shadowOf(r, L2).value).toBe(0);
  });

  it('PGD entry empty and no table page left -> -ENOMEM', () => {
    const r = makeRig();
    r.w[r.m.hostSpace.bumpCtrl] = r.m.hostSpace.units;
    expect(shadowCreate(r, L2, makeLeaf(hostPn(r), RWXAD), LEVEL_PTE)).toBe(ENOMEM);
    expect(shadowOf(r, L2).value).toBe(0);
    expect(rmapOf(r, PAGE)).toEqual([]);
  });
});

describe('create_pte: a leaf of the same size is already there', () => {
  it('identical value -> 0, nothing written, no rmap insert', () => {
    const r = makeRig();
    const pte = makeLeaf(hostPn(r), RWXAD);
    shadowCreate(r, L2, pte, LEVEL_PTE);
    expect(shadowCreate(r, L2, pte, LEVEL_PTE, PAGE + 1)).toBe(0);
    expect(shadowOf(r, L2).value).toBe(pte);
    expect(rmapOf(r, PAGE + 1)).toEqual([]);
  });

  it('differs only in W/C/R -> merged (old | new), no rmap insert, no violation', () => {
    const r = makeRig();
    shadowCreate(r, L2, makeLeaf(hostPn(r), R_X_A), LEVEL_PTE);
    expect(shadowCreate(r, L2, makeLeaf(hostPn(r), PAGE_READ | PAGE_WRITE | PAGE_DIRTY), LEVEL_PTE, PAGE + 1)).toBe(0);
    expect(shadowOf(r, L2).value).toBe(makeLeaf(hostPn(r), RWXAD));
    expect(rmapOf(r, PAGE + 1)).toEqual([]);
    expect(violations(r)).toEqual([]);
  });

  it('2M leaf differing in W/C -> merged at the PMD level', () => {
    const r = makeRig();
    shadowCreate(r, L2, makeLeaf(hostPn(r), R_X_A), LEVEL_PMD);
    expect(shadowCreate(r, L2 + 1, makeLeaf(hostPn(r), RWXAD), LEVEL_PMD)).toBe(0);
    expect(shadowOf(r, L2_2M + 511)).toMatchObject({ value: makeLeaf(hostPn(r), RWXAD), level: 1, shift: 21 });
    expect(rmapOf(r, PAGE)).toEqual([[1, L2_2M]]);
  });

  it('1G leaf, identical insert at level 2 -> 0, nothing changes', () => {
    const r = makeRig();
    const pte = makeLeaf(hostPn(r), RWXAD);
    expect(shadowCreate(r, L2, pte, LEVEL_PUD)).toBe(0);
    expect(shadowCreate(r, L2_1G, pte, LEVEL_PUD, PAGE + 1)).toBe(0);
    expect(shadowOf(r, L2)).toMatchObject({ value: pte, level: 2, shift: 30 });
    expect(rmapOf(r, PAGE)).toEqual([[1, L2_1G]]);
    expect(rmapOf(r, PAGE + 1)).toEqual([]);
  });

  it('P4 as written: different RPN -> merged anyway (OR of two RPNs) and flagged P4-rpn-merge', () => {
    const r = makeRig();
    const old = makeLeaf(hostPn(r, 0x10), R_X_A);
    const neu = makeLeaf(hostPn(r, 0x21), RWXAD);
    shadowCreate(r, L2, old, LEVEL_PTE);
    expect(shadowCreate(r, L2, neu, LEVEL_PTE, PAGE + 1)).toBe(0);
    expect(shadowOf(r, L2).value).toBe(old | neu);
    expect(pteRpn(shadowOf(r, L2).value)).toBe(hostPn(r, 0x31)); // neither page: somewhere else in host memory
    expect(pteToIsa(shadowOf(r, L2).value)).toBe(0xc000_0000_0000_0187n | (BigInt(hostPn(r, 0x31)) << 12n));
    expect(violations(r)).toEqual([{ invariant: 'P4-rpn-merge', vcpu: 0, a: 1, b: L2, c: old, d: neu, e: 0 }]);
    expect(rmapOf(r, PAGE + 1)).toEqual([]);
  });

  it('P4 with fixes [p4]: different RPN -> old leaf unmapped (tlbie), new leaf installed with its rmap entry', () => {
    const r = makeRig({ fixes: ['p4'] });
    const old = makeLeaf(hostPn(r, 0x10), R_X_A);
    const neu = makeLeaf(hostPn(r, 0x21), RWXAD);
    shadowCreate(r, L2, old, LEVEL_PTE);
    const removed = counter(r, 'shadowPtesRemoved');
    expect(shadowCreate(r, L2, neu, LEVEL_PTE, PAGE + 1)).toBe(0);
    expect(shadowOf(r, L2).value).toBe(neu);
    expect(counter(r, 'shadowPtesRemoved')).toBe(removed + 1);
    expect(rmapOf(r, PAGE + 1)).toEqual([[1, L2]]);
    expect(violations(r)).toEqual([]);
  });
});

describe('create_pte: replacing smaller mappings with a larger leaf', () => {
  it('want 2M, a PTE table with leaves below -> leaves unmapped (tlbie each), table freed, 2M leaf + rmap', () => {
    const r = makeRig();
    for (let k = 0; k < 3; k++) shadowCreate(r, L2_2M + k * 7, makeLeaf(hostPn(r, k), RWXAD), LEVEL_PTE, PAGE + 10 + k);
    const removed = counter(r, 'shadowPtesRemoved');
    const free0 = freeHostTableUnits(r);
    const huge = makeLeaf(hostPn(r, 0x200), RWXAD);
    expect(shadowCreate(r, L2, huge, LEVEL_PMD)).toBe(0);
    expect(counter(r, 'shadowPtesRemoved') - removed).toBe(3);
    expect(freeHostTableUnits(r) - free0).toBe(1);
    expect(shadowOf(r, L2_2M + 7)).toMatchObject({ value: huge, level: 1 });
    expect(rmapOf(r, PAGE)).toEqual([[1, L2_2M]]);
  });

  it('want 1G, a PMD table (with a PTE table) below -> whole sub-tree unmapped and freed, 1G leaf installed', () => {
    const r = makeRig();
    shadowCreate(r, L2_1G + 5, makeLeaf(hostPn(r, 1), RWXAD), LEVEL_PTE);
    shadowCreate(r, L2_1G + 0x600, makeLeaf(hostPn(r, 0x200), RWXAD), LEVEL_PMD);
    const removed = counter(r, 'shadowPtesRemoved');
    const free0 = freeHostTableUnits(r);
    const huge = makeLeaf(hostPn(r), RWXAD);
    expect(shadowCreate(r, L2, huge, LEVEL_PUD)).toBe(0);
    expect(counter(r, 'shadowPtesRemoved') - removed).toBe(2);
    expect(freeHostTableUnits(r) - free0).toBe(2); // the PMD table and the PTE table
    expect(shadowOf(r, L2_1G + 5)).toMatchObject({ value: huge, level: 2, shift: 30 });
  });
});

describe('create_pte: a larger leaf where a smaller one is wanted', () => {
  it('2M leaf present, want base -> 2M leaf unmapped, base leaf installed with rmap', () => {
    const r = makeRig();
    shadowCreate(r, L2, makeLeaf(hostPn(r, 0x200), R_X_A), LEVEL_PMD, PAGE + 1);
    const removed = counter(r, 'shadowPtesRemoved');
    const small = makeLeaf(hostPn(r, 0x200 + (L2 & 511)), RWXAD);
    expect(shadowCreate(r, L2, small, LEVEL_PTE)).toBe(0);
    expect(counter(r, 'shadowPtesRemoved')).toBe(removed + 1);
    expect(shadowOf(r, L2)).toMatchObject({ value: small, level: 0 });
    expect(shadowOf(r, L2 + 1).value).toBe(0); // the rest of the old 2M range is now unmapped
    expect(rmapOf(r, PAGE)).toEqual([[1, L2]]);
  });

  it('1G leaf present, want 2M -> 1G leaf unmapped, 2M leaf installed', () => {
    const r = makeRig();
    shadowCreate(r, L2, makeLeaf(hostPn(r), R_X_A), LEVEL_PUD, PAGE + 1);
    const mid = makeLeaf(hostPn(r, 0x200), RWXAD);
    expect(shadowCreate(r, L2, mid, LEVEL_PMD)).toBe(0);
    expect(shadowOf(r, L2)).toMatchObject({ value: mid, level: 1 });
    expect(shadowOf(r, L2_1G).value).toBe(0);
  });

  it('2M leaf appears after pre-allocation (no PTE table pre-allocated) -> -EAGAIN (raced with a 2M insert)', () => {
    const r = makeRig();
    shadowCreate(r, L2 + 1, makeLeaf(hostPn(r, 1), RWXAD), LEVEL_PTE, PAGE + 1); // PMD is a directory now
    const pmdWord = shadowEntryWord(r, L2, LEVEL_PMD);
    const huge = makeLeaf(hostPn(r, 0x200), RWXAD);
    const lock = r.ctx.mmuLock;
    r.ctx.mmuLock = function (this: typeof r.ctx): void {
      Atomics.store(r.w, pmdWord, huge); // another fault's 2M insert, between pre-allocation and the lock
      r.ctx.mmuLock = lock;
      lock.call(this);
    };
    expect(shadowCreate(r, L2, makeLeaf(hostPn(r, 2), RWXAD), LEVEL_PTE)).toBe(EAGAIN);
    expect(r.w[pmdWord]).toBe(huge);
    expect(rmapOf(r, PAGE)).toEqual([]);
  });
});

describe('create_pte on L0 table for L1 (full unmap semantics)', () => {
  it('replacing a 2M L1-table leaf with a base leaf removes the shadow leaves built on it (through the rmap)', () => {
    const r = makeRig();
    const gpa2m = 0x1000; // L1 page 0x1000, 2M aligned
    const host2m = hostPn(r, 0x400);
    expect(createPte(r.ctx, l1TableOf(r.ctx), gpa2m, makeLeaf(host2m, RWXAD), LEVEL_PMD, r.ctx.readSeq(), -1, 0)).toBe(0);
    expect(hostLeafOf(r, gpa2m + 9)).toMatchObject({ level: 1, shift: 21 });
    expect(rmapOf(r, gpa2m)).toEqual([]); // L1-table inserts add no rmap entries
    // A shadow leaf for L2 page L2 built on host page host2m + 9, rmap at the aligned gfn.
    shadowCreate(r, L2, makeLeaf(host2m + 9, RWXAD), LEVEL_PTE, gpa2m);
    const small = makeLeaf(hostPn(r, 0x1234), RWXAD);
    expect(createPte(r.ctx, l1TableOf(r.ctx), gpa2m + 9, small, LEVEL_PTE, r.ctx.readSeq(), -1, 0)).toBe(0);
    expect(hostLeafOf(r, gpa2m + 9)).toMatchObject({ value: small, level: 0 });
    expect(shadowOf(r, L2).value).toBe(0);
    expect(rmapOf(r, gpa2m)).toEqual([]); // the slot was taken whole
  });

  it('L1-table leaf unchanged when the shadow table of a guest is written (tables are separate)', () => {
    const r = makeRig();
    shadowCreate(r, 0x1000, makeLeaf(hostPn(r), RWXAD), LEVEL_PTE);
    expect(hostLeafOf(r, 0x1000).value).toBe(0);
    expect((shadowOf(r, 0x1000).value & PAGE_PTE) !== 0).toBe(true);
  });
});
