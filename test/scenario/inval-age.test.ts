/**
 * Aging (kvm_age_radix, docs/model.md §5.4): if L0's leaf for L1 is young, clear A in it (no
 * tlbie for the L1 table) and in every shadow leaf matching through the rmap (pfn-checked, with
 * a tlbie), leaving every leaf present; mmu_invalidate_seq is not bumped. The rc-list tlbie uses
 * the rmap entry's lpid (window P1): as written a vCPU's TLB entry for the shadow lpid survives
 * and keeps using the cleared A; with `fixes: [p1]` it is dropped and the next access takes a
 * SET_RC fault that sets A again.
 */
import { describe, expect, it } from 'vitest';
import { kvmAgeRadix } from '../../src/hv/notifier.js';
import { PAGE_ACCESSED } from '../../src/mmu/pte.js';
import {
  LOAD,
  counters,
  delta,
  guestField,
  l1PageOf,
  makeInvalRig,
  mmuSeq,
  runAudit,
  tlbEntry,
  touch,
  violationsOf,
} from './inval-helpers.js';
import { hostLeafOfPage, rmapOf, shadowOf } from './helpers.js';

const A = 0x600;

describe('kvm_age_radix', () => {
  it('young page -> A cleared in L0 leaf for L1 and in the shadow leaf via the rmap, both stay present, seq unchanged', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    const hp = hostLeafOfPage(r, page).value;
    const sp = shadowOf(r, A).value;
    expect(hp & PAGE_ACCESSED).not.toBe(0);
    expect(sp & PAGE_ACCESSED).not.toBe(0);
    const seq = mmuSeq(r);
    const before = counters(r);

    expect(kvmAgeRadix(r.host, page)).toBe(true);

    expect(hostLeafOfPage(r, page).value).toBe(hp & ~PAGE_ACCESSED);
    expect(shadowOf(r, A).value).toBe(sp & ~PAGE_ACCESSED);
    expect(rmapOf(r, page)).toEqual([[1, A]]);
    expect(mmuSeq(r)).toBe(seq);
    expect(delta(r, before, 'ages')).toBe(1);
    expect(delta(r, before, 'rmapEntriesWalked')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });

  it('page already old -> false, nothing changes', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(kvmAgeRadix(r.host, page)).toBe(true);
    const hp = hostLeafOfPage(r, page).value;
    const sp = shadowOf(r, A).value;
    const before = counters(r);
    expect(kvmAgeRadix(r.host, page)).toBe(false);
    expect(hostLeafOfPage(r, page).value).toBe(hp);
    expect(shadowOf(r, A).value).toBe(sp);
    expect(delta(r, before, 'rmapEntriesWalked')).toBe(0);
  });

  it('page with no L0 leaf for L1 -> false', () => {
    const r = makeInvalRig();
    expect(kvmAgeRadix(r.host, l1PageOf(r, A))).toBe(false);
  });

  it('window P1 as written: the rc-list tlbie uses the L1 lpid -> the TLB entry of the shadow lpid survives with A, the next load hits it, auditor flags I4', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A, LOAD)).toBe(true);
    const lpid = guestField(r, 'shadowLpid');
    expect(kvmAgeRadix(r.host, page)).toBe(true);

    expect(tlbEntry(r, 0, A, lpid) & PAGE_ACCESSED).not.toBe(0);
    const before = counters(r);
    expect(touch(r, A, LOAD)).toBe(true);
    expect(delta(r, before, 'tlbHits')).toBe(1);
    expect(shadowOf(r, A).value & PAGE_ACCESSED).toBe(0); // the reference is never recorded
    runAudit(r);
    expect(violationsOf(r, 'I4-tlb')).toBe(1);
  });

  it('with fixes [p1]: the TLB entry is dropped -> the next load takes a SET_RC fault fixed by L0, A set again in both leaves', () => {
    const r = makeInvalRig({ fixes: ['p1'] });
    const page = l1PageOf(r, A);
    expect(touch(r, A, LOAD)).toBe(true);
    const lpid = guestField(r, 'shadowLpid');
    expect(kvmAgeRadix(r.host, page)).toBe(true);

    expect(tlbEntry(r, 0, A, lpid)).toBe(0);
    const before = counters(r);
    expect(touch(r, A, LOAD)).toBe(true);
    expect(delta(r, before, 'faultRcFixed')).toBe(1);
    expect(shadowOf(r, A).value & PAGE_ACCESSED).not.toBe(0);
    expect(hostLeafOfPage(r, page).value & PAGE_ACCESSED).not.toBe(0);
    expect(runAudit(r).violations).toBe(0);
  });

  it('L0 maps L1 with a 2M leaf -> aging a page inside it clears A in the shadow leaves registered at the aligned gfn', () => {
    const r = makeInvalRig({ host: { backing: { '4K': 0, '2M': 1 } }, fixes: ['p1'] });
    expect(touch(r, 0x201)).toBe(true);
    expect(touch(r, 0x3ff)).toBe(true);
    const first = l1PageOf(r, 0x200);
    expect(hostLeafOfPage(r, first).shift).toBe(21);

    expect(kvmAgeRadix(r.host, first + 0x1ff)).toBe(true);

    expect(hostLeafOfPage(r, first).value & PAGE_ACCESSED).toBe(0);
    expect(shadowOf(r, 0x201).value & PAGE_ACCESSED).toBe(0);
    expect(shadowOf(r, 0x3ff).value & PAGE_ACCESSED).toBe(0);
    expect(shadowOf(r, 0x201).value).not.toBe(0);
    expect(runAudit(r).violations).toBe(0);
  });
});
