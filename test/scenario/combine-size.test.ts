/**
 * Steps H and I of the nested fault: the shadow leaf's permissions and R/C (combine,
 * docs/model.md §3.5) and its size (§3.6), with the rmap slot at the gfn aligned to L0's
 * mapping of L1 (fix F2) and the RPN offset bits when the shadow leaf is smaller than L0's leaf.
 */
import { describe, expect, it } from 'vitest';
import { combine } from '../../src/hv/nested-fault.js';
import { FAULT_KIND } from '../../src/stats/kinds.js';
import { RESUME_GUEST } from '../../src/hv/outcome.js';
import { hostMigrate } from '../../src/hv/notifier.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_READ, PAGE_WRITE, makeLeaf, pteRpn, pteToIsa } from '../../src/mmu/pte.js';
import {
  L1_RWX_RC,
  backingHostPn,
  dataGpaPn,
  fault,
  hostLeafOf,
  l1Map,
  makeRig,
  pageOf,
  rmapOf,
  shadowOf,
  type Rig,
} from './helpers.js';

const RWX = PAGE_READ | PAGE_WRITE | PAGE_EXEC;
const RWXAD = RWX | PAGE_ACCESSED | PAGE_DIRTY;

describe('H. combine(hp, L1 pte, write)', () => {
  const r = makeRig();
  const HP_RPN = 0x4_5678;

  it('permissions are the intersection of L0 and L1 (each of R, W, X)', () => {
    for (let hpPerm = 0; hpPerm < 8; hpPerm++) {
      for (let glPerm = 0; glPerm < 8; glPerm++) {
        const bits = (p: number): number => (p & 1 ? PAGE_READ : 0) | (p & 2 ? PAGE_WRITE : 0) | (p & 4 ? PAGE_EXEC : 0);
        const s = combine(r.ctx, makeLeaf(HP_RPN, bits(hpPerm) | PAGE_ACCESSED), makeLeaf(0, bits(glPerm) | PAGE_ACCESSED), false);
        expect(s & RWX).toBe(bits(hpPerm & glPerm));
      }
    }
  });

  it('A kept iff hp has A and L1 pte has R', () => {
    for (const hpA of [false, true]) {
      for (const glR of [false, true]) {
        const s = combine(r.ctx, makeLeaf(HP_RPN, RWX | (hpA ? PAGE_ACCESSED : 0)), makeLeaf(0, RWX | (glR ? PAGE_ACCESSED : 0)), true);
        expect((s & PAGE_ACCESSED) !== 0).toBe(hpA && glR);
      }
    }
  });

  it('D kept iff hp has D, L1 pte has C and the access is a store (a load never makes a dirty leaf)', () => {
    for (const hpD of [false, true]) {
      for (const glC of [false, true]) {
        for (const write of [false, true]) {
          const s = combine(r.ctx, makeLeaf(HP_RPN, RWX | PAGE_ACCESSED | (hpD ? PAGE_DIRTY : 0)), makeLeaf(0, RWX | PAGE_ACCESSED | (glC ? PAGE_DIRTY : 0)), write);
          expect((s & PAGE_DIRTY) !== 0).toBe(hpD && glC && write);
        }
      }
    }
  });

  it('RPN, V and L come from hp (never from the L1 pte)', () => {
    const s = combine(r.ctx, makeLeaf(HP_RPN, RWXAD), makeLeaf(0x999, RWXAD), true);
    expect(s).toBe(makeLeaf(HP_RPN, RWXAD));
    expect(pteToIsa(s)).toBe(0xc000_0000_0000_0187n | (BigInt(HP_RPN) << 12n));
  });

  it('M12 ignore-l1-perm keeps hp R/W/X; M9 ignore-l1-rc keeps hp D', () => {
    const m12 = makeRig({ mutations: ['ignore-l1-perm'] });
    expect(combine(m12.ctx, makeLeaf(HP_RPN, RWXAD), makeLeaf(0, PAGE_READ | PAGE_ACCESSED), false) & RWX).toBe(RWX);
    const m9 = makeRig({ mutations: ['ignore-l1-rc'] });
    expect(combine(m9.ctx, makeLeaf(HP_RPN, RWXAD), makeLeaf(0, RWX | PAGE_ACCESSED), false) & PAGE_DIRTY).toBe(PAGE_DIRTY);
  });
});

/** L1 maps `l2` with a leaf of `l1Shift` onto `gpa`; one store fault. Returns host page of gpa. */
function storeFault(r: Rig, l2: number, gpa: number, l1Shift: number): number {
  l1Map(r, l2, gpa, L1_RWX_RC, l1Shift);
  const { ret, v } = fault(r, l2, { store: true });
  expect(ret).toBe(RESUME_GUEST);
  expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
  return backingHostPn(r, pageOf(r, gpa));
}

const HOST_2M = { host: { backing: { base: 0, '2M': 1 } } };
const HOST_1G = { l1: { memory: '2G' }, host: { memory: '2G', backing: { base: 0, '1G': 1 } } };
/** An L2 address inside a 1G-aligned (and 2M-aligned) block, at offset 0x237 pages. */
const L2_BLOCK = 0x4_0000;
const OFF = 0x237;

describe('I. shadow leaf size', () => {
  it('host 2M, L1 2M (hshift == l1 shift) -> 2M shadow leaf, n_gpa and rmap gfn rounded to 2M', () => {
    const r = makeRig(HOST_2M);
    const l2 = L2_BLOCK + 0x37;
    const gpa = dataGpaPn(r) + 0x37;
    storeFault(r, l2, gpa, 21);
    const hp = hostLeafOf(r, gpa);
    expect(hp.level).toBe(1);
    expect(shadowOf(r, l2)).toMatchObject({ value: hp.value, level: 1, shift: 21 });
    expect(shadowOf(r, L2_BLOCK + 511).value).toBe(hp.value); // one leaf covers the block
    expect(rmapOf(r, pageOf(r, dataGpaPn(r)))).toEqual([[1, L2_BLOCK]]);
  });

  it('host base, L1 2M (hshift < l1 shift) -> base-page shadow leaf for just that page', () => {
    const r = makeRig();
    const l2 = L2_BLOCK + 0x37;
    const gpa = dataGpaPn(r) + 0x37;
    const host = storeFault(r, l2, gpa, 21);
    expect(shadowOf(r, l2)).toMatchObject({ value: makeLeaf(host, RWXAD), level: 0 });
    expect(shadowOf(r, l2 + 1).value).toBe(0);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([[1, l2]]);
  });

  it('host 2M, L1 base (hshift > l1 shift) -> base shadow leaf, RPN = 2M leaf RPN | gpa offset bits; rmap at the 2M-aligned gfn', () => {
    const r = makeRig(HOST_2M);
    const l2 = L2_BLOCK + 5;
    const gpa = dataGpaPn(r) + 0x25;
    storeFault(r, l2, gpa, 12);
    const hp = hostLeafOf(r, gpa);
    expect(hp.level).toBe(1);
    const s = shadowOf(r, l2);
    expect(s.level).toBe(0);
    expect(pteRpn(s.value)).toBe(pteRpn(hp.value) + 0x25);
    expect(s.value).toBe(hp.value | 0x25);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([]);
    expect(rmapOf(r, pageOf(r, dataGpaPn(r)))).toEqual([[1, l2]]); // F2: aligned to L0's mapping
  });

  it('F2: rmap at the aligned gfn -> migrating the host 2M block finds and removes the shadow leaf', () => {
    const r = makeRig(HOST_2M);
    const l2 = L2_BLOCK + 5;
    const gpa = dataGpaPn(r) + 0x25;
    storeFault(r, l2, gpa, 12);
    expect(hostMigrate(r.actor, pageOf(r, gpa))).toBe(true);
    expect(hostLeafOf(r, gpa).value).toBe(0);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  it('host 1G, L1 2M -> base-page shadow leaf (the PMD_SHIFT < l1 shift rule never picks 2M here)', () => {
    const r = makeRig(HOST_1G);
    const l2 = L2_BLOCK + OFF;
    const gpa = dataGpaPn(r) + OFF;
    storeFault(r, l2, gpa, 21);
    const hp = hostLeafOf(r, gpa);
    expect(hp.level).toBe(2);
    const s = shadowOf(r, l2);
    expect(s.level).toBe(0);
    expect(pteRpn(s.value)).toBe(pteRpn(hp.value) + gpa); // gpa bits between 4K and 1G
    expect(rmapOf(r, 0)).toEqual([[1, l2]]); // rmap slot at the 1G-aligned gfn
  });

  it('host 1G, L1 1G -> 1G shadow leaf', () => {
    const r = makeRig(HOST_1G);
    const l2 = L2_BLOCK + OFF;
    const gpa = OFF;
    storeFault(r, l2, gpa, 30);
    const hp = hostLeafOf(r, gpa);
    expect(shadowOf(r, l2)).toMatchObject({ value: hp.value, level: 2, shift: 30 });
    expect(rmapOf(r, 0)).toEqual([[1, L2_BLOCK]]);
  });
});

describe('I. shadow leaf size with 64K base pages', () => {
  it('host 64K, L1 64K -> 64K shadow leaf in a 32-entry PTE table; n_gpa rounded to 64K', () => {
    const r = makeRig({ basePageSize: '64K' });
    const l2 = L2_BLOCK + 0x35; // 4K page 5 of the 64K L2 page at +0x30
    const gpa = dataGpaPn(r) + 0x30;
    const host = storeFault(r, l2, gpa, 16);
    const s = shadowOf(r, l2);
    expect(s).toMatchObject({ value: makeLeaf(host, RWXAD), level: 0, shift: 16 });
    expect(pteToIsa(s.value)).toBe(0xc000_0000_0000_0187n | (BigInt(host) << 12n));
    expect(host % 16).toBe(0);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([[1, L2_BLOCK + 0x30]]);
  });

  it('host 2M, L1 64K -> 64K shadow leaf, RPN = 2M leaf RPN | 64K-page offset bits', () => {
    const r = makeRig({ basePageSize: '64K', ...HOST_2M });
    const l2 = L2_BLOCK + 0x35;
    const gpa = dataGpaPn(r) + 0x120;
    storeFault(r, l2, gpa, 16);
    const hp = hostLeafOf(r, gpa);
    expect(hp.level).toBe(1);
    const s = shadowOf(r, l2);
    expect(s.shift).toBe(16);
    expect(pteRpn(s.value)).toBe(pteRpn(hp.value) + 0x120);
    expect(rmapOf(r, pageOf(r, dataGpaPn(r)))).toEqual([[1, L2_BLOCK + 0x30]]);
  });
});
