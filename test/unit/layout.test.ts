/**
 * The shared machine layout (src/memory/layout.ts): regions do not overlap, are aligned (4-byte
 * words, each word region on its own 64-byte line, table regions on table units), add up to the
 * buffer with only alignment padding between them, and large configurations still fit under the
 * machine's 4 GiB bound (MAX_MACHINE_BYTES).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/workload/config.js';
import { computeLayout, layoutRegions, type Layout } from '../../src/memory/layout.js';
import { L1_LOCKS, LINE_WORDS, TABLE_UNIT_WORDS } from '../../src/memory/records.js';
import { createMachine } from '../../src/memory/machine.js';
import { layoutOfL1 } from '../../src/memory/l1-layout.js';

const LINE_BYTES = LINE_WORDS * 4;
const TABLE_UNIT_BYTES = TABLE_UNIT_WORDS * 4;

const CONFIGS: Record<string, string> = {
  defaults: '',
  'default.yaml-like': [
    'vcpus: 2',
    'guests: { count: 2, memory: 256M }',
    'l1: { memory: 2G, readonly: 64M, mmio: 16M, pageSizes: { 4K: 3, 2M: 1 } }',
    'host: { memory: 4G, backing: { 4K: 2, 2M: 1 } }',
  ].join('\n'),
  '64K base pages': 'basePageSize: 64K\nguests: { count: 3, memory: 512M }\nl1: { memory: 4G }',
  'many guests and vCPUs': 'vcpus: 16\nguests: { count: 64, memory: 16M }\nhardware: { tlb: { entries: 256, ways: 8 } }',
  'odd sizes': 'vcpus: 3\nguests: { count: 5, memory: 12K }\nl1: { memory: 100M, readonly: 4K, mmio: 4K }\nhost: { memory: 52K }',
  'three L1s': 'vcpus: 5\nl1: { count: 3, memory: 64M, readonly: 4K }\nguests: { count: 2, memory: 16M }',
};

function checkLayout(L: Layout): void {
  const regions = layoutRegions(L).slice().sort((a, b) => a[1] - b[1]);
  expect(regions.length).toBeGreaterThan(20);
  let prevEnd = 0;
  let prevName = '(start)';
  for (const [name, start, end] of regions) {
    // Aligned: every region starts on a word, word regions on a 64-byte line, tables on a unit.
    expect(start % 4, `${name} word-aligned`).toBe(0);
    expect(start % LINE_BYTES, `${name} line-aligned`).toBe(0);
    // Tables, and each L1's block of regions (which starts with l1Ctrl), on a table unit.
    const unitAligned = name === 'hostTables' || name === 'l1Tables' || name === 'l1Ctrl' || name.startsWith('L1 ');
    if (unitAligned) expect(start % TABLE_UNIT_BYTES, `${name} unit-aligned`).toBe(0);
    expect(end, `${name} non-negative size`).toBeGreaterThanOrEqual(start);
    // No overlap, and the gap is only alignment padding.
    expect(start, `${name} starts after ${prevName} ends`).toBeGreaterThanOrEqual(prevEnd);
    const align = unitAligned || prevName === 'rmapNodes' ? TABLE_UNIT_BYTES : LINE_BYTES;
    expect(start - prevEnd, `padding before ${name}`).toBeLessThan(align);
    prevEnd = end;
    prevName = name;
  }
  // Fits the buffer, and the last region (the counters) ends exactly at its end.
  expect(prevEnd).toBe(L.totalBytes);
  expect(regions.at(-1)![0]).toBe('counters');
  expect(L.countersByte % 8).toBe(0);
  expect(L.totalBytes).toBeLessThan(2 ** 31);
}

describe('computeLayout / layoutRegions', () => {
  for (const [name, yaml] of Object.entries(CONFIGS)) {
    it(`${name}: regions disjoint, aligned, and fill totalBytes`, () => {
      checkLayout(computeLayout(parseConfig(yaml)));
    });
  }

  it('each lock word sits on its own 64-byte line (global locks + one tlb_lock per guest)', () => {
    const L = computeLayout(parseConfig('guests: { count: 7 }'));
    const m = createMachine(parseConfig('guests: { count: 7 }'));
    const lines = new Set<number>();
    for (let i = 0; i < L1_LOCKS; i++) lines.add(Math.floor((m.lockIndex(i) * 4) / LINE_BYTES));
    for (let g = 0; g < L.guestCount; g++) lines.add(Math.floor((m.tlbLockIndex(g) * 4) / LINE_BYTES));
    expect(lines.size).toBe(L1_LOCKS + L.guestCount);
    const locks = layoutRegions(L).find(([n]) => n === 'locks')!;
    for (const line of lines) {
      expect(line * LINE_BYTES).toBeGreaterThanOrEqual(locks[1]);
      expect((line + 1) * LINE_BYTES).toBeLessThanOrEqual(locks[2]);
    }
  });

  it('createMachine allocates exactly totalBytes and the worker count sizes the counters', () => {
    const cfg = parseConfig('vcpus: 3');
    const m = createMachine(cfg);
    expect(m.sab.byteLength).toBe(m.L.totalBytes);
    expect(m.L.workers).toBe(4);
    const more = computeLayout(cfg, 9);
    expect(more.totalBytes - m.L.totalBytes).toBe(5 * m.L.counterWords64 * 8);
    checkLayout(more);
  });

  it('the table spaces hold a fully populated base-page tree for L1 and every shadow', () => {
    const L = computeLayout(parseConfig('guests: { count: 2, memory: 64M }\nl1: { memory: 256M }'));
    // 64M of L2 = 16384 base pages = 32 PTE tables per guest, plus PMD/PUD and 16-unit PGDs.
    expect(L.hostTableUnits).toBeGreaterThan(16 * 3 + 2 * 32 + 128);
    expect(L.l1TableUnits).toBeGreaterThan(16 * 2 + 2 * 32);
    // L1's own tables live at the top of its main memslot, 64 KiB aligned, below its partition table.
    expect(L.l1TableBasePn % 16).toBe(0);
    expect(L.l1TableBasePn + L.l1TableUnits).toBe(L.l1PtblPn);
    expect(L.l1DataPages * L.basePn).toBe(L.l1TableBasePn);
  });

  it('scale: 64 GiB L1 with four 16 GiB L2s fits under 2 GiB (4K and 64K base pages)', () => {
    for (const base of ['4K', '64K']) {
      const cfg = parseConfig(`basePageSize: ${base}\nl1: { memory: 64G }\nguests: { count: 4, memory: 16G }\nhost: { memory: 64G }\nvcpus: 8`);
      expect(cfg.l1.memoryBytes).toBe(64 * 2 ** 30);
      expect(cfg.guests.memoryBytes).toBe(16 * 2 ** 30);
      const L = computeLayout(cfg);
      checkLayout(L);
      expect(L.totalBytes).toBeLessThan(2 * 2 ** 30);
      // Host data starts on a 1 GiB boundary above the tables, and every host page number fits a PTE RPN.
      expect((L.hostDataBasePn * 4096) % 2 ** 30).toBe(0);
      expect(L.hostDataBasePn + L.hostFrames * L.basePn).toBeLessThan(2 ** 25);
    }
  });

  it('several L1s: each L1 view has its own copy of every per-L1 region, disjoint from the others and from the shared ones', () => {
    const cfg = parseConfig('vcpus: 4\nl1: { count: 3, memory: 64M }\nguests: { count: 2, memory: 16M }');
    const L = computeLayout(cfg);
    const m = createMachine(cfg);
    const shared = layoutRegions(L).filter(([n]) => ['ctrl', 'hostLock', 'vcpuCtl', 'violations', 'frameWrites', 'frameGen', 'frameOwner', 'frameNext', 'tlb', 'counters'].includes(n));
    const perL1 = layoutRegions(L).filter(([n]) => !shared.some(([s]) => s === n) && !n.startsWith('L1 '));
    const seen: Array<[string, number, number]> = [];
    for (let k = 0; k < 3; k++) {
      const V = layoutOfL1(L, k);
      expect(m.forL1(k).L).toEqual(V);
      expect(V.l1Index).toBe(k);
      for (const [name, start, end] of perL1) {
        const field = `${name}Word` as keyof typeof V;
        const d = (V[field] as number) * 4 - start;
        expect(d, `${name} of L1 ${k}`).toBe(k * L.l1Stride * 4);
        seen.push([`L1 ${k} ${name}`, start + d, end + d]);
      }
      // The shared regions are the same in every view.
      expect(V.ctrlWord).toBe(L.ctrlWord);
      expect(V.frameOwnerWord).toBe(L.frameOwnerWord);
      expect(V.tlbWord).toBe(L.tlbWord);
      expect(V.hostLockWord).toBe(L.hostLockWord);
    }
    const all = [...seen, ...shared.map(([n, a, b]) => [n, a, b] as [string, number, number])].sort((a, b) => a[1] - b[1]);
    for (let i = 1; i < all.length; i++) expect(all[i]![1], `${all[i]![0]} after ${all[i - 1]![0]}`).toBeGreaterThanOrEqual(all[i - 1]![2]);
    expect(all.at(-1)![2]).toBeLessThanOrEqual(L.totalBytes);
    // A frame owner names its L1: owner words of different L1s' pages never coincide.
    expect(m.forL1(1).ownerOf(0)).toBe(L.l1Pages + 1);
    expect(m.forL1(2).ownerWord(m.forL1(2).L.backingWord, m.forL1(0).ownerOf(5))).toBe(L.backingWord + 5);
  });
});
