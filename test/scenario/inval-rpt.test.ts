/**
 * H_RPT_INVALIDATE with the NESTED type (kvmppc_h_rpt_invalidate, do_h_rpt_invalidate_pat,
 * do_tlb_invalidate_nested_tlb; docs/model.md §5.2): end < start is H_P5 and a target other than
 * the CMMU alone H_P2; unknown lpids ignored, NESTED_ALL acts like RIC 2, the whole address space
 * like RIC 0, a TLB range of at most 33 pages (tlb_range_flush_page_ceiling) removes exactly those
 * pages, page by page (a do-while: start == end removes the page at start), each page under its
 * own tlb_lock hold, and a longer one flushes the whole LPID; every size of the mask is walked,
 * 4K included on a 64K base page (POWER9's radix AP encodings list it); PWC alone does nothing;
 * a mask with no size is H_P4.
 */
import { PTBL } from '../../src/memory/records.js';
import { describe, expect, it } from 'vitest';
import {
  H_RPTI_END_ALL,
  H_RPTI_PAGE_1G,
  H_RPTI_PAGE_2M,
  H_RPTI_PAGE_4K,
  H_RPTI_PAGE_64K,
  H_RPTI_PAGE_ALL,
  H_RPTI_TYPE_NESTED,
  H_RPTI_TYPE_NESTED_ALL,
  H_RPTI_TYPE_PAT,
  H_RPTI_TYPE_PWC,
  H_RPTI_TYPE_TLB,
  H_RPTI_TARGET_CMMU,
  H_RPTI_TARGET_CMMU_LOCAL,
  H_RPTI_TARGET_NMMU,
  TLB_RANGE_FLUSH_PAGE_CEILING,
  doHRptInvalidatePat,
  hRptInvalidate,
} from '../../src/hv/tlbie.js';
import { GUEST, GUEST_FREE, GUEST_LIVE, guestWord, l1SetPartitionEntry, ptblWord } from '../../src/hv/guests.js';
import { H_P2, H_P4, H_P5, H_SUCCESS } from '../../src/hv/outcome.js';
import {
  counters,
  delta,
  guestField,
  idrSlot,
  makeInvalRig,
  shadowLeaves,
  tlbEntriesOf,
  touch,
  violationTotal,
  type InvalRig,
} from './inval-helpers.js';
import { shadowOf } from './helpers.js';

const NESTED_TLB = H_RPTI_TYPE_NESTED | H_RPTI_TYPE_TLB;
/** First L2 page (4 KiB units) of the range tests; 2M aligned. */
const S = 0x400;

function rpt(r: InvalRig, lpid: number, type: number, sizes: number, startPn: number, endPn: number): number {
  return doHRptInvalidatePat(r.host, lpid, type, sizes, startPn * 4096, endPn * 4096);
}

function populate(r: InvalRig, pages: readonly number[]): void {
  for (const p of pages) expect(touch(r, p)).toBe(true);
  expect(shadowLeaves(r)).toHaveLength(pages.length);
}

const present = (r: InvalRig, pns: readonly number[]): boolean[] => pns.map((p) => shadowOf(r, p).value !== 0);

describe('H_RPT_INVALIDATE: lpid lookup and whole-LPID forms', () => {
  it('unknown lpid -> H_SUCCESS and ignored, even with an unsupported page-size mask', () => {
    const r = makeInvalRig();
    populate(r, [S]);
    const before = counters(r);
    expect(rpt(r, 2, H_RPTI_TYPE_NESTED | H_RPTI_TYPE_NESTED_ALL, H_RPTI_PAGE_ALL, 0, 0)).toBe(H_SUCCESS);
    expect(rpt(r, 99, NESTED_TLB, 0, S, S + 1)).toBe(H_SUCCESS);
    expect(idrSlot(r, 2)).toBe(-1);
    expect(shadowLeaves(r)).toHaveLength(1);
    expect(delta(r, before, 'rptRange')).toBe(2);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });

  it('NESTED_ALL (TLB|PWC|PAT) with a valid partition entry -> like RIC 2: tree freed, cache reloaded, guest kept', () => {
    const r = makeInvalRig();
    populate(r, [S, S + 0x4_0000]);
    Atomics.store(r.w, guestWord(r.host, r.slot, GUEST.l1Root), 0);
    expect(rpt(r, 1, H_RPTI_TYPE_NESTED | H_RPTI_TYPE_NESTED_ALL, H_RPTI_PAGE_ALL, 0, 1)).toBe(H_SUCCESS);
    expect(shadowLeaves(r)).toHaveLength(0);
    expect(guestField(r, 'l1Root')).toBe(Atomics.load(r.w, ptblWord(r.host, 1, PTBL.root)));
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
    expect(idrSlot(r, 1)).toBe(r.slot);
  });

  it('NESTED_ALL with L1 partition entry zeroed -> like RIC 2: guest removed from the IDR, FREE after the last reference', () => {
    const r = makeInvalRig();
    populate(r, [S]);
    l1SetPartitionEntry(r.host, r.slot, false);
    expect(rpt(r, 1, H_RPTI_TYPE_NESTED | H_RPTI_TYPE_NESTED_ALL, H_RPTI_PAGE_ALL, 0, 1)).toBe(H_SUCCESS);
    expect(idrSlot(r, 1)).toBe(-1);
    expect(guestField(r, 'refcnt')).toBe(1);
    r.cpu.exit();
    expect(guestField(r, 'state')).toBe(GUEST_FREE);
    expect(violationTotal(r)).toBe(0);
  });

  it('start 0, end H_RPTI_END_ALL -> like RIC 0: whole tree freed, guest kept even with a zeroed partition entry', () => {
    const r = makeInvalRig();
    populate(r, [S, S + 0x4_0000, 0x1_0000]);
    l1SetPartitionEntry(r.host, r.slot, false);
    const lpid = guestField(r, 'shadowLpid');
    expect(doHRptInvalidatePat(r.host, 1, NESTED_TLB, H_RPTI_PAGE_4K, 0, H_RPTI_END_ALL)).toBe(H_SUCCESS);
    expect(shadowLeaves(r)).toHaveLength(0);
    expect(tlbEntriesOf(r, 0, lpid)).toBe(0);
    expect(idrSlot(r, 1)).toBe(r.slot);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
  });
});

describe('H_RPT_INVALIDATE: TLB ranges', () => {
  it(`range of ${TLB_RANGE_FLUSH_PAGE_CEILING} pages (the ceiling) -> exactly those pages removed, neighbours on both sides kept`, () => {
    const r = makeInvalRig();
    const N = TLB_RANGE_FLUSH_PAGE_CEILING;
    const inside = [S, S + 1, S + 17, S + N - 1];
    const outside = [S - 1, S + N, S + 0x4_0000];
    populate(r, [...inside, ...outside]);
    const before = counters(r);

    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_4K, S, S + N)).toBe(H_SUCCESS);

    expect(present(r, inside)).toEqual(inside.map(() => false));
    expect(present(r, outside)).toEqual(outside.map(() => true));
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(inside.length);
    expect(tlbEntriesOf(r, 0, guestField(r, 'shadowLpid'))).toBe(outside.length);
  });

  it(`range of ${TLB_RANGE_FLUSH_PAGE_CEILING + 1} pages (over the ceiling) -> the whole LPID is flushed, pages far outside included`, () => {
    const r = makeInvalRig();
    const N = TLB_RANGE_FLUSH_PAGE_CEILING + 1;
    populate(r, [S, S + N, S + 0x4_0000]);
    const ref = guestField(r, 'refcnt');
    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_4K, S, S + N)).toBe(H_SUCCESS);
    expect(shadowLeaves(r)).toHaveLength(0);
    expect(guestField(r, 'refcnt')).toBe(ref);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
  });

  it('2M page size over a 4M range (2 pages) -> the 4K shadow leaves in both 2M blocks removed, the third block kept', () => {
    const r = makeInvalRig();
    populate(r, [S, S + 0x1ff, S + 0x200, S + 0x3ff, S + 0x400]);
    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_2M, S, S + 0x400)).toBe(H_SUCCESS);
    expect(present(r, [S, S + 0x1ff, S + 0x200, S + 0x3ff, S + 0x400])).toEqual([false, false, false, false, true]);
  });

  it('PWC only (no TLB bit) -> H_SUCCESS, nothing removed', () => {
    const r = makeInvalRig();
    populate(r, [S, S + 1]);
    const before = counters(r);
    expect(rpt(r, 1, H_RPTI_TYPE_NESTED | H_RPTI_TYPE_PWC, H_RPTI_PAGE_ALL, S, S + 2)).toBe(H_SUCCESS);
    expect(rpt(r, 1, H_RPTI_TYPE_NESTED | H_RPTI_TYPE_PWC | H_RPTI_TYPE_PAT, H_RPTI_PAGE_4K, S, S + 2)).toBe(H_SUCCESS);
    expect(shadowLeaves(r)).toHaveLength(2);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });

  it('page-size mask with no size bit set -> H_P4, nothing removed', () => {
    const r = makeInvalRig();
    populate(r, [S]);
    expect(rpt(r, 1, NESTED_TLB, 0, S, S + 1)).toBe(H_P4);
    expect(rpt(r, 1, NESTED_TLB, 0x10, S, S + 1)).toBe(H_P4); // an undefined size bit
    expect(shadowLeaves(r)).toHaveLength(1);
  });

  it('64K base page: a mask of only 4K still walks the range in 4K steps (mmu_psize_defs has 4K on POWER9) -> the 64K leaf removed (was: H_P4, nothing removed)', () => {
    const r = makeInvalRig({ basePageSize: '64K' });
    const p = S; // 64K aligned
    populate(r, [p, p + 16]);
    expect(shadowOf(r, p).shift).toBe(16);
    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_4K, p, p + 16)).toBe(H_SUCCESS);
    expect(present(r, [p, p + 16])).toEqual([false, true]);
    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_64K, p + 16, p + 32)).toBe(H_SUCCESS);
    expect(shadowLeaves(r)).toHaveLength(0);
  });

  it('start == end -> the page at start is invalidated (the kernel loop is a do-while; was: nothing)', () => {
    const r = makeInvalRig();
    populate(r, [S, S + 1]);
    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_4K, S, S)).toBe(H_SUCCESS);
    expect(present(r, [S, S + 1])).toEqual([false, true]);
  });

  it('tlb_lock is taken once per page, as kvmhv_emulate_tlbie_tlb_addr takes it (was: once across the range)', () => {
    const r = makeInvalRig();
    populate(r, [S, S + 1, S + 2, S + 3]);
    const before = counters(r);
    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_4K, S, S + 4)).toBe(H_SUCCESS);
    expect(delta(r, before, 'tlbLockAcq')).toBe(4);
    expect(shadowLeaves(r)).toHaveLength(0);
  });

  it('1G page size over a small range -> one 1G step covers the whole gigabyte of shadow leaves', () => {
    const r = makeInvalRig();
    populate(r, [S, S + 0x1_0000, 0x4_0000]);
    expect(rpt(r, 1, NESTED_TLB, H_RPTI_PAGE_1G, 0, 0x4_0000)).toBe(H_SUCCESS);
    expect(present(r, [S, S + 0x1_0000, 0x4_0000])).toEqual([false, false, true]);
  });
});

describe('kvmppc_h_rpt_invalidate: argument checks before the nested form', () => {
  it('end < start -> H_P5, nothing removed', () => {
    const r = makeInvalRig();
    populate(r, [S]);
    expect(hRptInvalidate(r.host, 1, H_RPTI_TARGET_CMMU, NESTED_TLB, H_RPTI_PAGE_4K, (S + 1) * 4096, S * 4096)).toBe(H_P5);
    expect(shadowLeaves(r)).toHaveLength(1);
  });

  it('a nested request for any target but the CMMU alone -> H_P2, nothing removed', () => {
    const r = makeInvalRig();
    populate(r, [S]);
    for (const target of [H_RPTI_TARGET_NMMU, H_RPTI_TARGET_CMMU_LOCAL, H_RPTI_TARGET_CMMU | H_RPTI_TARGET_NMMU, 0]) {
      expect(hRptInvalidate(r.host, 1, target, NESTED_TLB, H_RPTI_PAGE_4K, S * 4096, (S + 1) * 4096)).toBe(H_P2);
    }
    expect(shadowLeaves(r)).toHaveLength(1);
    expect(hRptInvalidate(r.host, 1, H_RPTI_TARGET_CMMU, NESTED_TLB, H_RPTI_PAGE_4K, S * 4096, (S + 1) * 4096)).toBe(H_SUCCESS);
    expect(shadowLeaves(r)).toHaveLength(0);
  });
});
