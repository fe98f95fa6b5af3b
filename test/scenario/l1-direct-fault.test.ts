/**
 * L1's own accesses to L1 memory (hw/l1-direct.ts) and L0's ordinary radix fault for them
 * (hv/l1-fault.ts, kernel kvmppc_book3s_radix_page_fault): TLB entries tagged with L1's lpid,
 * instantiate on a miss, SET_RC under mmu_lock with `hardware.l1Rc: fault`, the hardware's own
 * lockless R/C update with `hardware.l1Rc: auto`, and L0's unmaps dropping those entries. Then
 * the two mutations this lockless writer exposes, with the race forced at the 'nonatomic-rmw'
 * point: M5 (aging's clear of R) and M6 (the unmap) lose the C the hardware set meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { contextFor } from '../../src/engine/setup.js';
import { L1_LPID, type HookPoint } from '../../src/hv/context.js';
import { FIRST_SHADOW_LPID } from '../../src/hv/guests.js';
import { harvestDirtyLog, hostMigrate, kvmAgeRadix, radixTestClearDirty } from '../../src/hv/notifier.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_WRITE } from '../../src/mmu/pte.js';
import type { Mutation } from '../../src/workload/types.js';
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
  runAudit,
  tlbEntry,
  touch,
  violationsOf,
  type InvalRig,
} from './inval-helpers.js';
import { hostLeafOfPage } from './helpers.js';

const A = 0x600;

interface L1Rig extends InvalRig {
  /** L1 page behind L2 page A, and its 4 KiB page number. */
  page: number;
  gpaPn: number;
}

function makeL1Rig(l1Rc: 'fault' | 'auto', mutations: Mutation[] = []): L1Rig {
  const r = makeInvalRig({ hardware: { l1Rc }, l1: { dirtyLog: true }, mutations });
  const page = l1PageOf(r, A);
  return { ...r, page, gpaPn: page * r.m.L.basePn };
}

/** One access by L1 itself (vCPU 0 in guest mode for it, parked after). */
function l1Touch(r: L1Rig, type = STORE): boolean {
  r.cpu.resume();
  const ok = r.cpu.accessL1(r.gpaPn, type);
  r.cpu.park();
  return ok;
}

describe('L1 direct fault (kvmppc_book3s_radix_page_fault for L1)', () => {
  it('no L0 leaf -> instantiate: leaf W+R+C, one l1Direct fault, store counted in the frame, TLB entry under L1 lpid', () => {
    const r = makeL1Rig('fault');
    const before = counters(r);
    expect(l1Touch(r)).toBe(true);
    expect(delta(r, before, 'faultL1Direct')).toBe(1);
    expect(delta(r, before, 'l1Accesses')).toBe(1);
    expect(delta(r, before, 'writesCompleted')).toBe(1);
    const hp = hostLeafOfPage(r, r.page);
    expect(hp.word).toBeGreaterThanOrEqual(0);
    expect(hp.value & (PAGE_WRITE | PAGE_DIRTY | PAGE_ACCESSED)).toBe(PAGE_WRITE | PAGE_DIRTY | PAGE_ACCESSED);
    expect(frameWrites(r, frameOf(r, r.page))).toBe(1);
    expect(tlbEntry(r, 0, r.gpaPn, L1_LPID) & PAGE_DIRTY).toBe(PAGE_DIRTY);
    // A second store hits the TLB: no fault.
    expect(l1Touch(r)).toBe(true);
    expect(delta(r, before, 'faultL1Direct')).toBe(1);
    expect(runAudit(r).violations).toBe(0);
  });

  it('hardware.l1Rc fault: C cleared by the harvest -> the next store takes SET_RC, L0 sets C under mmu_lock, no instantiate', () => {
    const r = makeL1Rig('fault');
    expect(l1Touch(r)).toBe(true);
    const rpn = hostLeafOfPage(r, r.page).value;
    expect(radixTestClearDirty(r.host, r.page)).toBe(1); // clears C, tlbie(L1 lpid) drops the entry
    expect(tlbEntry(r, 0, r.gpaPn, L1_LPID)).toBe(0);
    const before = counters(r);
    expect(l1Touch(r)).toBe(true);
    expect(delta(r, before, 'faultL1Direct')).toBe(1);
    expect(delta(r, before, 'l1HwRcSets')).toBe(0);
    expect(delta(r, before, 'mmuLockAcq')).toBe(1); // set_rc's hold only: no instantiate
    expect(hostLeafOfPage(r, r.page).value).toBe(rpn); // the same leaf, C set again
    expect(runAudit(r).violations).toBe(0);
  });

  it('hardware.l1Rc auto: C cleared by the harvest -> the walk sets C itself (no fault, no lock), store counted', () => {
    const r = makeL1Rig('auto');
    expect(l1Touch(r)).toBe(true);
    expect(radixTestClearDirty(r.host, r.page)).toBe(1);
    expect(hostLeafOfPage(r, r.page).value & PAGE_DIRTY).toBe(0);
    const before = counters(r);
    expect(l1Touch(r)).toBe(true);
    expect(delta(r, before, 'faultL1Direct')).toBe(0);
    expect(delta(r, before, 'l1HwRcSets')).toBe(1);
    expect(delta(r, before, 'mmuLockAcq')).toBe(0);
    expect(hostLeafOfPage(r, r.page).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
    // ... and the next harvest reports the page dirty.
    expect(harvestDirtyLog(r.host, r.page, 1)).toBe(1);
    expect(runAudit(r).violations).toBe(0);
  });

  it("L0's unmap (host migration) tlbies L1's lpid -> L1's TLB entry dropped; the next store goes to the new frame, no lost write", () => {
    const r = makeL1Rig('auto');
    expect(l1Touch(r, LOAD)).toBe(true);
    expect(tlbEntry(r, 0, r.gpaPn, L1_LPID)).not.toBe(0);
    const oldFrame = frameOf(r, r.page);
    expect(hostMigrate(r.host, r.page)).toBe(true);
    expect(tlbEntry(r, 0, r.gpaPn, L1_LPID)).toBe(0);
    expect(l1Touch(r)).toBe(true);
    expect(frameOf(r, r.page)).not.toBe(oldFrame);
    expect(frameWrites(r, frameOf(r, r.page))).toBe(1);
    expect(violationsOf(r, 'I5-no-lost-write')).toBe(0);
    expect(runAudit(r).violations).toBe(0);
  });

  it('L1 and L2 share the TLB without mixing: shadow lpids start above L1 lpid, an L2 access and an L1 access of the same numbers are two entries', () => {
    const r = makeL1Rig('auto');
    expect(FIRST_SHADOW_LPID).toBeGreaterThan(L1_LPID);
    expect(guestField(r, 'shadowLpid')).toBeGreaterThanOrEqual(FIRST_SHADOW_LPID);
    expect(touch(r, r.gpaPn)).toBe(true); // L2 page number equal to L1's
    expect(l1Touch(r)).toBe(true);
    expect(tlbEntry(r, 0, r.gpaPn, L1_LPID)).not.toBe(0);
    expect(tlbEntry(r, 0, r.gpaPn, guestField(r, 'shadowLpid'))).not.toBe(0);
    expect(runAudit(r).violations).toBe(0);
  });

  it('I4 audit of L1 entries: C cleared in L0 leaf without a tlbie -> I4; R cleared by aging without a tlbie -> benign', () => {
    const r = makeL1Rig('auto');
    expect(l1Touch(r)).toBe(true);
    expect(kvmAgeRadix(r.host, r.page)).toBe(true); // clears R, no tlbie for L1 (kernel as written)
    expect(runAudit(r).violations).toBe(0);
    const i = hostLeafOfPage(r, r.page).word;
    Atomics.and(r.w, i, ~PAGE_DIRTY); // C lost behind the TLB's back
    expect(runAudit(r).violations).toBe(1);
    expect(violationsOf(r, 'I4-tlb')).toBe(1);
  });
});

/** A host context whose 'nonatomic-rmw' hook runs `during` once (the forced interleaving). */
function hostWithHook(r: L1Rig, during: () => void) {
  let ran = 0;
  const hook = (point: HookPoint): void => {
    if (point === 'nonatomic-rmw' && ran++ === 0) during();
  };
  return { ctx: contextFor(r.m, r.cfg, -1, r.m.L.workers - 1, { hook }), ran: () => ran };
}

/** L1's page clean (harvested), its TLB entry gone: the next L1 store makes the hardware set C. */
function cleanPage(r: L1Rig): void {
  expect(l1Touch(r)).toBe(true);
  expect(radixTestClearDirty(r.host, r.page)).toBe(1);
}

describe('M5/M6: the lockless hardware C write between a mutated read and write', () => {
  it('intact: aging clears R with a CAS -> a C set by the hardware meanwhile survives (no rmw point)', () => {
    const r = makeL1Rig('auto');
    cleanPage(r);
    const h = hostWithHook(r, () => l1Touch(r));
    expect(kvmAgeRadix(h.ctx, r.page)).toBe(true);
    expect(h.ran()).toBe(0);
  });

  it('M5 nonatomic-rc: L1 store during aging read..write -> C lost: I4 at the audit, page missing from the harvest', () => {
    const r = makeL1Rig('auto', ['nonatomic-rc']);
    cleanPage(r);
    const writes = frameWrites(r, frameOf(r, r.page));
    const h = hostWithHook(r, () => expect(l1Touch(r)).toBe(true));
    expect(kvmAgeRadix(h.ctx, r.page)).toBe(true);
    expect(h.ran()).toBe(1);
    expect(frameWrites(r, frameOf(r, r.page))).toBe(writes + 1);
    expect(hostLeafOfPage(r, r.page).value & PAGE_DIRTY).toBe(0); // the C the hardware set is gone
    expect(tlbEntry(r, 0, r.gpaPn, L1_LPID) & PAGE_DIRTY).toBe(PAGE_DIRTY);
    expect(runAudit(r).violations).toBeGreaterThan(0);
    expect(violationsOf(r, 'I4-tlb')).toBe(1);
    expect(harvestDirtyLog(r.host, r.page, 1)).toBe(0); // a written page reported clean (I6)
  });

  it('M6 nonatomic-unmap: L1 store during the unmap read..store 0 -> C lost, dirty bitmap not marked; intact marks it', () => {
    for (const mutations of [[], ['nonatomic-unmap']] as Mutation[][]) {
      const r = makeL1Rig('auto', mutations);
      cleanPage(r);
      let stored = false;
      const h = hostWithHook(r, () => (stored = l1Touch(r)));
      expect(hostMigrate(h.ctx, r.page)).toBe(true);
      if (mutations.length === 0) {
        // The exchange saw no C (the store came after the leaf was gone): nothing to mark.
        expect(h.ran()).toBe(0);
        expect(dirtyBit(r, r.page)).toBe(false);
        continue;
      }
      expect(h.ran()).toBe(1);
      expect(stored).toBe(true);
      expect(dirtyBit(r, r.page)).toBe(false); // the store's page escapes the dirty log (I6)
      expect(harvestDirtyLog(r.host, r.page, 1)).toBe(0);
    }
  });
});
