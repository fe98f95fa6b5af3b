/**
 * PTE words vs Power ISA 64-bit values (docs/model.md §2.1): every bit nestsim stores maps to
 * exactly the ISA bit of the same name, leaves and directories encode RPN/NLB/NLS where the ISA
 * puts them, and a word with only R/C but no V counts as "none".
 */
import { describe, expect, it } from 'vitest';
import {
  ISA,
  PAGE_ACCESSED,
  PAGE_DIRTY,
  PAGE_EXEC,
  PAGE_MERGE_OK,
  PAGE_PRESENT,
  PAGE_PTE,
  PAGE_READ,
  PAGE_WRITE,
  PTE_RPN_MASK,
  describePte,
  dirNlb,
  dirNls,
  hex64,
  isDir,
  isLeaf,
  isPresent,
  isaToPte,
  makeDir,
  makeLeaf,
  pteRpn,
  pteToIsa,
} from '../../src/mmu/pte.js';

describe('PTE bits -> Power ISA bit values', () => {
  const cases: Array<[string, number, bigint]> = [
    ['PRESENT (V)', PAGE_PRESENT, 0x8000_0000_0000_0000n],
    ['ACCESSED (R)', PAGE_ACCESSED, 0x100n],
    ['DIRTY (C)', PAGE_DIRTY, 0x080n],
    ['READ', PAGE_READ, 0x004n],
    ['WRITE', PAGE_WRITE, 0x002n],
    ['EXEC', PAGE_EXEC, 0x001n],
  ];
  for (const [name, bit, isa] of cases) {
    it(`${name} alone in a leaf -> V|L|${isa.toString(16)}`, () => {
      const w = makeLeaf(0, bit);
      expect(pteToIsa(w)).toBe(ISA.PRESENT | ISA.PTE | isa);
      expect(isaToPte(ISA.PRESENT | ISA.PTE | isa)).toBe(w);
    });
  }

  it('leaf V L R C rwx rpn=0x12345 -> 0xc000000012345187 and back', () => {
    const w = makeLeaf(0x12345, PAGE_ACCESSED | PAGE_DIRTY | PAGE_READ | PAGE_WRITE | PAGE_EXEC);
    expect(hex64(pteToIsa(w))).toBe('0xc000000012345187');
    expect(isaToPte(0xc000_0000_1234_5187n)).toBe(w);
    expect(isLeaf(w)).toBe(true);
    expect(isDir(w)).toBe(false);
    expect(pteRpn(w)).toBe(0x12345);
  });

  it('largest RPN (128 GiB - 4 KiB) stays inside the ISA RPN mask (bits 12..56)', () => {
    const v = pteToIsa(makeLeaf(PTE_RPN_MASK, PAGE_READ));
    expect(v & ISA.RPN_MASK).toBe(0x1f_ffff_f000n);
    expect(v & ~(ISA.PRESENT | ISA.PTE | ISA.RPN_MASK | ISA.READ)).toBe(0n);
  });

  it('RPN beyond 128 GiB -> isaToPte throws RangeError', () => {
    expect(() => isaToPte(ISA.PRESENT | ISA.PTE | (0x200_0000n << 12n))).toThrow(RangeError);
  });

  it('directory nlb=0x100 nls=9 -> 0x8000000000100009 (NLB at bit 12, NLS in low 5 bits)', () => {
    const d = makeDir(0x100, 9);
    expect(hex64(pteToIsa(d))).toBe('0x8000000000100009');
    expect(isDir(d)).toBe(true);
    expect(isLeaf(d)).toBe(false);
    expect(dirNlb(d)).toBe(0x100);
    expect(dirNls(d)).toBe(9);
    expect(isaToPte(0x8000_0000_0010_0009n)).toBe(d);
  });

  it('directory with NLS 13 (PGD) and 5 (64K PTE table) round-trip', () => {
    for (const nls of [13, 5]) {
      const d = makeDir(0x4_0010, nls);
      expect(isaToPte(pteToIsa(d))).toBe(d);
      expect(pteToIsa(d) & ISA.NLS_MASK).toBe(BigInt(nls));
    }
  });

  it('stray R/C without V -> not present (counts as none), ISA shows only 0x180', () => {
    const w = PAGE_ACCESSED | PAGE_DIRTY;
    expect(isPresent(w)).toBe(false);
    expect(isLeaf(w)).toBe(false);
    expect(isDir(w)).toBe(false);
    expect(pteToIsa(w)).toBe(0x180n);
    expect(describePte(w)).toContain('(none)');
  });

  it('present <=> the int32 word is negative (V is the sign bit)', () => {
    expect(makeLeaf(1, 0) < 0).toBe(true);
    expect(makeDir(1, 9) < 0).toBe(true);
    expect(isPresent(0)).toBe(false);
    expect(isPresent(PAGE_PTE | PAGE_READ | 5)).toBe(false);
  });

  it('zero word -> ISA 0; every flag combination of a leaf round-trips', () => {
    expect(pteToIsa(0)).toBe(0n);
    const flags = [PAGE_ACCESSED, PAGE_DIRTY, PAGE_READ, PAGE_WRITE, PAGE_EXEC];
    for (let mask = 0; mask < 1 << flags.length; mask++) {
      let f = 0;
      flags.forEach((b, i) => {
        if (mask & (1 << i)) f |= b;
      });
      const w = makeLeaf(0xabcde, f);
      expect(isaToPte(pteToIsa(w))).toBe(w);
    }
  });

  it('merge-ok bits are exactly W, C and R (kernel: W, D, A)', () => {
    expect(PAGE_MERGE_OK).toBe(PAGE_WRITE | PAGE_DIRTY | PAGE_ACCESSED);
  });

  it('describePte names leaf permissions, R/C and the real address', () => {
    expect(describePte(makeLeaf(0x40000, PAGE_READ | PAGE_ACCESSED))).toBe('0xc000000040000104 leaf r--R- ra=0x40000000');
    expect(describePte(makeDir(0x10, 9))).toBe('0x8000000000010009 dir nlb=0x10000 nls=9');
  });
});
