/**
 * Dirty-log harvest (kvm_radix_test_clear_dirty per gfn, KVM_GET_DIRTY_LOG, docs/model.md
 * §5.5): D cleared in L0's leaf for L1 (tlbie with the L1 lpid) and in every matching shadow leaf
 * through the rmap, the page reported dirty once, then clean; an unmap of a dirty leaf marks the
 * dirty bitmap, which the next harvest reports. Window P1 (the rc-list tlbie uses the L1 lpid, so
 * a vCPU's TLB entry of the shadow lpid survives with "C already set") and window P5 (the harvest
 * does not bump mmu_invalidate_seq), each as written and with its fix.
 */
import { describe, expect, it } from 'vitest';
import { radixFlushMemslot, harvestDirtyLog, hostMigrate, radixTestClearDirty } from '../../src/hv/notifier.js';
import { SLOT_MAIN } from '../../src/memory/machine.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_WRITE } from '../../src/mmu/pte.js';
import {
  LOAD,
  STORE,
  counters,
  delta,
  dirtyBit,
  frameOf,
  frameWrites,
  guestField,
  l1PageOf,
  makeInvalRig,
  mmuSeq,
  runAudit,
  tlbEntry,
  touch,
  violationsOf,
  type InvalRig,
} from './inval-helpers.js';
import { hostLeafOfPage, rmapOf, shadowOf } from './helpers.js';
import { tlbGen } from './inval-helpers.js';
import { TLB_GEN_P1_STALE } from '../../src/hw/tlb.js';
import { TAINT_P1, WINDOW } from '../../src/invariants/windows.js';
import { CTRL } from '../../src/memory/records.js';

const A = 0x600;
const B = 0x601;
const LOGGING = { l1: { dirtyLog: true } };

function harvest(r: InvalRig, page: number): number {
  return harvestDirtyLog(r.host, page, 1);
}

describe('dirty-log harvest: test and clear D', () => {
  it('stored page -> reported dirty once: D cleared in L0 leaf and shadow leaf, both stay present and writable; then clean', () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    const hp = hostLeafOfPage(r, page).value;
    const sp = shadowOf(r, A).value;
    expect(hp & PAGE_DIRTY).not.toBe(0);
    expect(sp & PAGE_DIRTY).not.toBe(0);
    const seq = mmuSeq(r);
    const before = counters(r);

    expect(harvest(r, page)).toBe(1);

    expect(hostLeafOfPage(r, page).value).toBe(hp & ~PAGE_DIRTY);
    expect(shadowOf(r, A).value).toBe(sp & ~PAGE_DIRTY);
    expect(shadowOf(r, A).value & PAGE_WRITE).not.toBe(0);
    expect(rmapOf(r, page)).toEqual([[1, A]]);
    expect(mmuSeq(r)).toBe(seq); // as written: no seq bump (window P5)
    expect(delta(r, before, 'harvests')).toBe(1);
    expect(delta(r, before, 'harvestDirtyPages')).toBe(1);

    expect(harvest(r, page)).toBe(0);
    expect(radixTestClearDirty(r.host, page)).toBe(0);
  });

  it('radixTestClearDirty on a dirty page -> 1, then 0; on a page with no L0 leaf -> 0', () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    expect(radixTestClearDirty(r.host, page)).toBe(0);
    expect(touch(r, A)).toBe(true);
    expect(radixTestClearDirty(r.host, page)).toBe(1);
    expect(radixTestClearDirty(r.host, page)).toBe(0);
  });

  it('dirty logging on -> L0 maps L1 with base pages only, even over a 2M host block', () => {
    const r = makeInvalRig({ ...LOGGING, host: { backing: { '4K': 0, '2M': 1 } } });
    expect(touch(r, A)).toBe(true);
    expect(hostLeafOfPage(r, l1PageOf(r, A)).shift).toBe(12);
  });

  it('dirty logging off -> the harvest reports nothing, D stays set', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(harvest(r, page)).toBe(0);
    expect(hostLeafOfPage(r, page).value & PAGE_DIRTY).not.toBe(0);
    expect(shadowOf(r, A).value & PAGE_DIRTY).not.toBe(0);
  });

  it('harvest over a range -> exactly the stored pages reported (a load-faulted page is clean in the shadow but L0 upgraded it to W+D)', () => {
    const r = makeInvalRig(LOGGING);
    expect(touch(r, A)).toBe(true);
    expect(touch(r, B, LOAD)).toBe(true);
    const pa = l1PageOf(r, A);
    const pb = l1PageOf(r, B);
    expect(pb).toBe(pa + 1);
    expect(shadowOf(r, B).value & PAGE_DIRTY).toBe(0);
    // instantiate_l1_page's "upgrade write": L0's leaf is writable and dirty after a load (§3.4).
    expect(hostLeafOfPage(r, pb).value & PAGE_DIRTY).not.toBe(0);
    const seen: Array<[number, boolean]> = [];
    expect(harvestDirtyLog(r.host, pa, 3, (p, d) => seen.push([p, d]))).toBe(2);
    expect(seen).toEqual([
      [pa, true],
      [pb, true],
      [pa + 2, false],
    ]);
    expect(harvestDirtyLog(r.host, pa, 3)).toBe(0);
  });
});

describe('dirty-log harvest: unmap of a dirty leaf marks the bitmap', () => {
  it('migration of a dirty page -> bitmap bit set; the next harvest reports it once though the leaf is gone, then clean', () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(hostMigrate(r.host, page)).toBe(true);
    expect(hostLeafOfPage(r, page).value).toBe(0);
    expect(dirtyBit(r, page)).toBe(true);

    expect(harvest(r, page)).toBe(1);
    expect(dirtyBit(r, page)).toBe(false);
    expect(harvest(r, page)).toBe(0);
  });

  it('migration of a page already harvested clean -> no bitmap bit', () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(harvest(r, page)).toBe(1);
    expect(hostMigrate(r.host, page)).toBe(true);
    expect(dirtyBit(r, page)).toBe(false);
    expect(harvest(r, page)).toBe(0);
  });

  it('memslot flush of a dirty page with logging on -> bitmap bit set and reported by the next harvest', () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    radixFlushMemslot(r.host, SLOT_MAIN);
    expect(dirtyBit(r, page)).toBe(true);
    expect(harvest(r, page)).toBe(1);
  });

  it('unmap of a dirty page with logging off -> no bitmap bit', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(hostMigrate(r.host, page)).toBe(true);
    expect(dirtyBit(r, page)).toBe(false);
  });
});

describe('dirty-log harvest: window P1 (rc-list tlbie lpid)', () => {
  it('as written: TLB entry of the shadow lpid survives the harvest with D -> the next store hits it, the page is missed by the next harvest (I6), auditor flags I4', () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    const lpid = guestField(r, 'shadowLpid');
    expect(touch(r, A)).toBe(true); // fills vCPU 0's TLB with a writable, dirty entry
    expect(tlbEntry(r, 0, A, lpid) & PAGE_DIRTY).not.toBe(0);

    expect(harvest(r, page)).toBe(1);

    expect(shadowOf(r, A).value & PAGE_DIRTY).toBe(0);
    expect(tlbEntry(r, 0, A, lpid) & PAGE_DIRTY).not.toBe(0);
    const writes = frameWrites(r, frameOf(r, page));
    const before = counters(r);
    expect(touch(r, A, STORE)).toBe(true);
    expect(delta(r, before, 'tlbHits')).toBe(1);
    expect(frameWrites(r, frameOf(r, page))).toBe(writes + 1);
    expect(harvest(r, page)).toBe(0); // a completed store the dirty log never sees
    runAudit(r);
    expect(violationsOf(r, 'I4-tlb')).toBe(1);
  });

  it("as written, P1's own path tags what it leaves behind: the surviving entry is marked, the store through it taints the L1 page, and the audit's I4 counts as window P1", () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    const lpid = guestField(r, 'shadowLpid');
    expect(touch(r, A)).toBe(true);
    expect(harvest(r, page)).toBe(1); // P1's rc-list tlbie names L1's lpid: vCPU 0's entry survives
    expect(tlbGen(r, 0, A, lpid) & TLB_GEN_P1_STALE).not.toBe(0);
    expect(r.w[r.m.L.windowTaintWord + page] & TAINT_P1).toBe(0);
    expect(touch(r, A, STORE)).toBe(true); // through the marked entry
    expect(r.w[r.m.L.windowTaintWord + page] & TAINT_P1).toBe(TAINT_P1);
    expect(violationsOf(r, 'I5-no-lost-write')).toBe(0); // the mark is not a retired frame
    runAudit(r);
    expect(violationsOf(r, 'I4-tlb')).toBe(1);
    expect(r.w[r.m.ctrl(CTRL.violationByWindow + WINDOW.P1)]).toBe(1);
  });

  it('fixes [p1]: nothing is marked or tainted, and no violation is counted for a window', () => {
    const r = makeInvalRig({ ...LOGGING, fixes: ['p1'] });
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(harvest(r, page)).toBe(1);
    expect(touch(r, A, STORE)).toBe(true);
    expect(r.w[r.m.L.windowTaintWord + page]).toBe(0);
    runAudit(r);
    expect(r.w[r.m.ctrl(CTRL.violationByWindow + WINDOW.P1)]).toBe(0);
  });

  it('fixes [p1]: the tlbie uses the shadow lpid -> TLB entry dropped; the next store takes a SET_RC fault fixed by L0 and the next harvest reports the page', () => {
    const r = makeInvalRig({ ...LOGGING, fixes: ['p1'] });
    const page = l1PageOf(r, A);
    const lpid = guestField(r, 'shadowLpid');
    expect(touch(r, A)).toBe(true);
    expect(tlbEntry(r, 0, A, lpid)).not.toBe(0);

    expect(harvest(r, page)).toBe(1);

    expect(tlbEntry(r, 0, A, lpid)).toBe(0);
    const before = counters(r);
    expect(touch(r, A, STORE)).toBe(true);
    expect(delta(r, before, 'faultRcFixed')).toBe(1);
    expect(shadowOf(r, A).value & (PAGE_DIRTY | PAGE_ACCESSED)).toBe(PAGE_DIRTY | PAGE_ACCESSED);
    expect(hostLeafOfPage(r, page).value & PAGE_DIRTY).not.toBe(0);
    expect(harvest(r, page)).toBe(1);
    expect(runAudit(r).violations).toBe(0);
  });
});

describe('dirty-log harvest: window P5 (no seq bump)', () => {
  it('fixes [p5]: harvesting a dirty page bumps mmu_invalidate_seq by one; a clean page does not', () => {
    const r = makeInvalRig({ ...LOGGING, fixes: ['p5'] });
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    const seq = mmuSeq(r);
    expect(harvest(r, page)).toBe(1);
    expect(mmuSeq(r)).toBe(seq + 1);
    expect(harvest(r, page)).toBe(0);
    expect(mmuSeq(r)).toBe(seq + 1);
  });

  it('as written: harvesting a dirty page leaves mmu_invalidate_seq alone', () => {
    const r = makeInvalRig(LOGGING);
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    const seq = mmuSeq(r);
    expect(harvest(r, page)).toBe(1);
    expect(mmuSeq(r)).toBe(seq);
  });
});
