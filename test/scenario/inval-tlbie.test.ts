/**
 * H_TLB_INVALIDATE from L1 (kvmhv_emulate_priv_tlbie, docs/model.md §5.1): the parameter
 * checks, IS = 0 by address (one leaf size step at a time), IS = 2 by LPID with RIC 0/1/2 (free
 * the shadow tree; reload the partition-table cache; remove the guest when L1's entry is zero),
 * IS = 3 over every LPID, and window P2 (the all-LPID loop holds no reference) with and without
 * `fixes: [p2]`. Shadow leaves are built end to end by a simulated vCPU's accesses.
 */
import { PTBL } from '../../src/memory/records.js';
import { describe, expect, it } from 'vitest';
import { emulatePrivTlbie, tlbieArgs } from '../../src/hv/tlbie.js';
import { GUEST_FREE, GUEST_LIVE, l1SetPartitionEntry, ptblWord, guestWord, GUEST } from '../../src/hv/guests.js';
import { H_PARAMETER, H_SUCCESS } from '../../src/hv/outcome.js';
import { PAGE_DIRTY, pteRpn } from '../../src/mmu/pte.js';
import { hostMigrate } from '../../src/hv/notifier.js';
import {
  LOAD,
  addCpu,
  counters,
  delta,
  guestField,
  idrSlot,
  l1PageOf,
  makeInvalRig,
  runAudit,
  shadowLeaves,
  shadowPgdEntries,
  shadowTableUnits,
  tlbEntriesOf,
  tlbEntry,
  touch,
  violationTotal,
  violationsOf,
  type InvalRig,
} from './inval-helpers.js';
import { freeHostTableUnits, hostLeafOfPage, rmapOf, shadowOf } from './helpers.js';

/** A 2M-aligned L2 region (4 KiB page numbers) and pages inside and after it. */
const R = 0x200;
const IN_A = R;
const IN_B = R + 1;
const IN_C = R + 0x1ff;
const NEXT = R + 0x200;

function tlbie(r: InvalRig, ric: number, is: number, lpid: number, l2Pn = 0, shift = 12): number {
  const [instr, rs, rb] = tlbieArgs(ric, is, lpid, l2Pn * 4096, shift);
  return emulatePrivTlbie(r.host, instr, rs, rb);
}

function populate(r: InvalRig, pages: readonly number[]): void {
  for (const p of pages) expect(touch(r, p)).toBe(true);
  expect(shadowLeaves(r)).toHaveLength(pages.length);
}

const shadowLpid = (r: InvalRig, slot = r.slot): number => guestField(r, 'shadowLpid', slot);

describe('H_TLB_INVALIDATE IS=0 (by address)', () => {
  it('IS=0 RIC=0 4K -> H_SUCCESS, only that shadow leaf and its TLB entry go; L1-table leaf and rmap stay', () => {
    const r = makeInvalRig();
    populate(r, [IN_A, IN_B]);
    const lpid = shadowLpid(r);
    const before = counters(r);
    const hostA = hostLeafOfPage(r, l1PageOf(r, IN_A)).value;
    expect(tlbEntry(r, 0, IN_A, lpid)).not.toBe(0);

    expect(tlbie(r, 0, 0, 1, IN_A, 12)).toBe(H_SUCCESS);

    expect(shadowOf(r, IN_A).value).toBe(0);
    expect(shadowOf(r, IN_B).value).not.toBe(0);
    expect(tlbEntry(r, 0, IN_A, lpid)).toBe(0);
    expect(tlbEntry(r, 0, IN_B, lpid)).not.toBe(0);
    // L0's own mapping of L1 is not L1's business; the rmap entry goes stale and stays.
    expect(hostLeafOfPage(r, l1PageOf(r, IN_A)).value).toBe(hostA);
    expect(rmapOf(r, l1PageOf(r, IN_A))).toEqual([[1, IN_A]]);
    expect(delta(r, before, 'tlbiePage')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(1);
    expect(delta(r, before, 'tlbFlushes')).toBe(1);
    expect(runAudit(r).violations).toBe(0);
  });

  it('IS=0 4K at an address with no shadow leaf -> H_SUCCESS, nothing removed', () => {
    const r = makeInvalRig();
    populate(r, [IN_A]);
    const before = counters(r);
    expect(tlbie(r, 0, 0, 1, IN_B, 12)).toBe(H_SUCCESS);
    expect(shadowOf(r, IN_A).value).not.toBe(0);
    expect(delta(r, before, 'tlbiePage')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });

  it('IS=0 2M over 4K shadow leaves (L1 maps 2M, L0 maps 4K) -> every leaf of the 2M range removed, the next range kept', () => {
    const r = makeInvalRig({ l1: { pageSizes: { '4K': 0, '2M': 1 } } });
    populate(r, [IN_A, IN_B, IN_C, NEXT]);
    expect(shadowOf(r, IN_B).shift).toBe(12);
    const before = counters(r);

    // L1 addresses the range by any address inside it; L0 rounds down to the size.
    expect(tlbie(r, 0, 0, 1, IN_B, 21)).toBe(H_SUCCESS);

    expect(shadowOf(r, IN_A).value).toBe(0);
    expect(shadowOf(r, IN_B).value).toBe(0);
    expect(shadowOf(r, IN_C).value).toBe(0);
    expect(shadowOf(r, NEXT).value).not.toBe(0);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(3);
    expect(tlbEntriesOf(r, 0, shadowLpid(r))).toBe(1);
    expect(runAudit(r).violations).toBe(0);
  });

  it('IS=0 4K inside a 2M shadow leaf (L1 and L0 both map 2M) -> the whole 2M leaf removed (the step is the leaf size)', () => {
    const r = makeInvalRig({ l1: { pageSizes: { '4K': 0, '2M': 1 } }, host: { backing: { '4K': 0, '2M': 1 } } });
    populate(r, [IN_B]);
    expect(touch(r, IN_C)).toBe(true); // same 2M shadow leaf
    expect(shadowOf(r, IN_C).shift).toBe(21);
    const before = counters(r);

    expect(tlbie(r, 0, 0, 1, IN_C, 12)).toBe(H_SUCCESS);

    expect(shadowOf(r, IN_A).value).toBe(0);
    expect(shadowLeaves(r)).toHaveLength(0);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(1);
    expect(tlbEntriesOf(r, 0, shadowLpid(r))).toBe(0);
  });

  it('unknown lpid (IS=0 and IS=2) -> H_SUCCESS, nothing changes, no reference taken', () => {
    const r = makeInvalRig();
    populate(r, [IN_A]);
    const ref = guestField(r, 'refcnt');
    const before = counters(r);
    // lpid 2 is a valid slot never entered; lpid 99 has no slot at all.
    expect(tlbie(r, 0, 0, 2, IN_A, 12)).toBe(H_SUCCESS);
    expect(tlbie(r, 0, 0, 99, IN_A, 12)).toBe(H_SUCCESS);
    expect(tlbie(r, 2, 2, 2)).toBe(H_SUCCESS);
    expect(tlbie(r, 0, 2, 99)).toBe(H_SUCCESS);
    expect(shadowOf(r, IN_A).value).not.toBe(0);
    expect(idrSlot(r, 2)).toBe(-1);
    expect(guestField(r, 'refcnt')).toBe(ref);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });
});

describe('H_TLB_INVALIDATE parameter checks -> H_PARAMETER', () => {
  const cases: Array<[string, (a: [number, number, number]) => [number, number, number]]> = [
    ['R=0 (not radix)', ([i, s, b]) => [i & ~(1 << 16), s, b]],
    ['PRS=1 (process scoped)', ([i, s, b]) => [i | (1 << 17), s, b]],
    ['RIC=3', ([i, s, b]) => [(i & ~(3 << 18)) | (3 << 18), s, b]],
    ['IS=1', ([i, s, b]) => [i, s, b + 1 * 1024]],
    ['IS=0 with RIC=1', ([i, s, b]) => [i | (1 << 18), s, b]],
    ['IS=0 with RIC=2', ([i, s, b]) => [i | (2 << 18), s, b]],
    ['IS=0 with an unknown AP (3)', ([i, s, b]) => [i, s, b + 3 * 32]],
  ];
  for (const [name, mangle] of cases) {
    it(`${name} -> H_PARAMETER, nothing removed, no invalidation counted`, () => {
      const r = makeInvalRig();
      populate(r, [IN_A]);
      const before = counters(r);
      const [instr, rs, rb] = mangle(tlbieArgs(0, 0, 1, IN_A * 4096, 12));
      expect(emulatePrivTlbie(r.host, instr, rs, rb)).toBe(H_PARAMETER);
      expect(shadowOf(r, IN_A).value).not.toBe(0);
      expect(delta(r, before, 'tlbiePage') + delta(r, before, 'tlbieLpid') + delta(r, before, 'tlbieAll')).toBe(0);
      expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
    });
  }
});

describe('H_TLB_INVALIDATE IS=2 (one LPID)', () => {
  it('IS=2 RIC=0 -> whole shadow tree freed (tables back on the free list), LPID TLB entries dropped, guest kept, rmap left stale', () => {
    const r = makeInvalRig();
    populate(r, [IN_A, IN_C, NEXT, 0x4_0000]);
    const units = shadowTableUnits(r);
    const free0 = freeHostTableUnits(r);
    const ref = guestField(r, 'refcnt');
    const hostA = hostLeafOfPage(r, l1PageOf(r, IN_A)).value;
    const before = counters(r);

    expect(tlbie(r, 0, 2, 1)).toBe(H_SUCCESS);

    expect(shadowLeaves(r)).toHaveLength(0);
    expect(shadowPgdEntries(r)).toBe(0);
    expect(freeHostTableUnits(r) - free0).toBe(units);
    expect(tlbEntriesOf(r, 0, shadowLpid(r))).toBe(0);
    expect(delta(r, before, 'tlbieLpid')).toBe(1);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
    expect(guestField(r, 'refcnt')).toBe(ref);
    expect(idrSlot(r, 1)).toBe(r.slot);
    expect(hostLeafOfPage(r, l1PageOf(r, IN_A)).value).toBe(hostA);
    expect(rmapOf(r, l1PageOf(r, IN_A))).toEqual([[1, IN_A]]);
    expect(runAudit(r).violations).toBe(0);
  });

  it('stale rmap entry left by RIC=0 -> a later host unmap walks it, finds no shadow leaf, drops it', () => {
    const r = makeInvalRig();
    populate(r, [IN_A]);
    expect(tlbie(r, 0, 2, 1)).toBe(H_SUCCESS);
    const page = l1PageOf(r, IN_A);
    const before = counters(r);
    expect(hostMigrate(r.host, page)).toBe(true);
    expect(rmapOf(r, page)).toEqual([]);
    expect(delta(r, before, 'rmapEntriesWalked')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });

  it('IS=2 RIC=0 then an access -> the vCPU re-faults and rebuilds the leaf from the L1-table leaf (shadow insert, no reflection)', () => {
    const r = makeInvalRig();
    populate(r, [IN_A]);
    expect(tlbie(r, 0, 2, 1)).toBe(H_SUCCESS);
    const before = counters(r);
    expect(touch(r, IN_A, LOAD)).toBe(true);
    expect(shadowOf(r, IN_A).value).not.toBe(0);
    expect(delta(r, before, 'faultShadowInsert')).toBe(1);
    expect(delta(r, before, 'faultReflected')).toBe(0);
  });

  it('IS=2 RIC=1 (page-walk cache) -> nothing changes', () => {
    const r = makeInvalRig();
    populate(r, [IN_A, NEXT]);
    const free0 = freeHostTableUnits(r);
    const before = counters(r);
    expect(tlbie(r, 1, 2, 1)).toBe(H_SUCCESS);
    expect(shadowLeaves(r)).toHaveLength(2);
    expect(freeHostTableUnits(r)).toBe(free0);
    expect(tlbEntriesOf(r, 0, shadowLpid(r))).toBe(2);
    expect(delta(r, before, 'tlbieLpid')).toBe(1);
    expect(delta(r, before, 'tlbFlushes')).toBe(0);
  });

  it('IS=2 RIC=2 with a valid partition-table entry -> tree freed, cache reloaded from L1 partition table, guest kept', () => {
    const r = makeInvalRig();
    populate(r, [IN_A, NEXT]);
    const expectRoot = Atomics.load(r.w, ptblWord(r.host, 1, PTBL.root));
    const ref = guestField(r, 'refcnt');
    // Wipe the cache so the reload is visible.
    Atomics.store(r.w, guestWord(r.host, r.slot, GUEST.l1Root), 0);

    expect(tlbie(r, 2, 2, 1)).toBe(H_SUCCESS);

    expect(shadowLeaves(r)).toHaveLength(0);
    expect(guestField(r, 'l1Root')).toBe(expectRoot);
    expect(expectRoot).not.toBe(0);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
    expect(guestField(r, 'refcnt')).toBe(ref);
    expect(idrSlot(r, 1)).toBe(r.slot);
    expect(touch(r, IN_A)).toBe(true); // the reloaded root still translates
  });

  it('IS=2 RIC=2 with L1 partition-table entry zeroed -> tree freed, guest out of the IDR, state FREE once the last reference goes', () => {
    const r = makeInvalRig();
    populate(r, [IN_A, NEXT]);
    const gen = guestField(r, 'generation');
    const oldLpid = shadowLpid(r);
    expect(guestField(r, 'refcnt')).toBe(2); // the IDR and the running vCPU
    l1SetPartitionEntry(r.host, r.slot, false);

    expect(tlbie(r, 2, 2, 1)).toBe(H_SUCCESS);

    expect(shadowLeaves(r)).toHaveLength(0);
    expect(idrSlot(r, 1)).toBe(-1);
    expect(guestField(r, 'refcnt')).toBe(1);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE); // the vCPU still holds it
    expect(tlbEntriesOf(r, 0, oldLpid)).toBe(0);
    // Now unknown to L1's later hcalls.
    expect(tlbie(r, 0, 0, 1, IN_A, 12)).toBe(H_SUCCESS);

    r.cpu.exit(); // H_ENTER_NESTED returns: the last reference
    expect(guestField(r, 'refcnt')).toBe(0);
    expect(guestField(r, 'state')).toBe(GUEST_FREE);
    expect(violationTotal(r)).toBe(0);

    // L1 re-creates lpid 1: a new object with a new generation and a fresh shadow lpid.
    l1SetPartitionEntry(r.host, r.slot, true);
    expect(r.cpu.enter()).toBe(true);
    r.cpu.park();
    expect(guestField(r, 'generation')).toBe(gen + 1);
    expect(shadowLpid(r)).not.toBe(oldLpid);
    expect(touch(r, IN_A)).toBe(true);
    expect(runAudit(r).violations).toBe(0);
  });
});

describe('H_TLB_INVALIDATE IS=3 (all LPIDs)', () => {
  it('IS=3 RIC=0 -> every guest shadow tree freed, both guests kept', () => {
    const r = makeInvalRig();
    const cpu1 = addCpu(r, 1, 2);
    const slot1 = cpu1.regs.slot;
    populate(r, [IN_A, NEXT]);
    expect(touch(r, IN_A, LOAD, cpu1)).toBe(true);
    expect(shadowLeaves(r, slot1)).toHaveLength(1);
    const before = counters(r);

    expect(tlbie(r, 0, 3, 0)).toBe(H_SUCCESS);

    expect(shadowLeaves(r)).toHaveLength(0);
    expect(shadowLeaves(r, slot1)).toHaveLength(0);
    expect(tlbEntriesOf(r, 0, shadowLpid(r))).toBe(0);
    expect(tlbEntriesOf(r, 1, shadowLpid(r, slot1))).toBe(0);
    expect(delta(r, before, 'tlbieAll')).toBe(1);
    expect(guestField(r, 'state', slot1)).toBe(GUEST_LIVE);
    expect(idrSlot(r, 1)).toBe(r.slot);
    expect(idrSlot(r, 2)).toBe(slot1);
    expect(violationTotal(r)).toBe(0);
  });

  it('window P2 as written: IS=3 RIC=2 on an idle guest whose partition entry is zero -> freed under the loop, I7-lifetime recorded', () => {
    const r = makeInvalRig();
    populate(r, [IN_A]);
    r.cpu.exit(); // idle: only the IDR's reference is left
    expect(guestField(r, 'refcnt')).toBe(1);
    l1SetPartitionEntry(r.host, r.slot, false);

    expect(tlbie(r, 2, 3, 0)).toBe(H_SUCCESS);

    expect(violationsOf(r, 'I7-lifetime')).toBe(1);
    expect(violationTotal(r)).toBe(1);
    expect(guestField(r, 'state')).toBe(GUEST_FREE);
    expect(idrSlot(r, 1)).toBe(-1);
  });

  it('window P2 with fixes [p2]: the loop holds a reference -> guest freed by the loop own put, no violation', () => {
    const r = makeInvalRig({ fixes: ['p2'] });
    populate(r, [IN_A]);
    r.cpu.exit();
    l1SetPartitionEntry(r.host, r.slot, false);

    expect(tlbie(r, 2, 3, 0)).toBe(H_SUCCESS);

    expect(violationsOf(r, 'I7-lifetime')).toBe(0);
    expect(violationTotal(r)).toBe(0);
    expect(guestField(r, 'state')).toBe(GUEST_FREE);
    expect(guestField(r, 'refcnt')).toBe(0);
    expect(idrSlot(r, 1)).toBe(-1);
    expect(shadowLeaves(r)).toHaveLength(0);
  });

  it('IS=3 RIC=2 with zero entry while a vCPU is inside the guest (as written) -> removed from the IDR, kept alive by the vCPU, no violation', () => {
    const r = makeInvalRig();
    populate(r, [IN_A]);
    l1SetPartitionEntry(r.host, r.slot, false);
    expect(tlbie(r, 2, 3, 0)).toBe(H_SUCCESS);
    expect(violationTotal(r)).toBe(0);
    expect(idrSlot(r, 1)).toBe(-1);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
    r.cpu.exit();
    expect(guestField(r, 'state')).toBe(GUEST_FREE);
  });
});

describe('H_TLB_INVALIDATE keeps L0 state for L1 intact', () => {
  it('IS=0 on a dirty page -> L0 leaf for L1 keeps D and its RPN; no host-side bookkeeping changes', () => {
    const r = makeInvalRig();
    populate(r, [IN_A]);
    const page = l1PageOf(r, IN_A);
    const hp = hostLeafOfPage(r, page).value;
    expect(hp & PAGE_DIRTY).not.toBe(0);
    const before = counters(r);
    expect(tlbie(r, 0, 0, 1, IN_A, 12)).toBe(H_SUCCESS);
    expect(hostLeafOfPage(r, page).value).toBe(hp);
    expect(pteRpn(hostLeafOfPage(r, page).value)).toBe(pteRpn(hp));
    expect(delta(r, before, 'hostNotifier')).toBe(0);
  });
});
