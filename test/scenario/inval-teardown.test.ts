/**
 * Nested-guest teardown (kvmhv_remove_nested / kvmhv_put_nested / kvmhv_release_nested,
 * docs/model.md §1.2 and §5.8): removal drops the IDR's reference; the last reference frees the
 * shadow tree (after flushing the shadow lpid) and the object. rmap entries that pointed into the
 * freed tree stay behind and are dropped lazily: the guest lookup fails, or (lpid reused) no leaf
 * is found or the entry dedups with the new guest's own.
 */
import { describe, expect, it } from 'vitest';
import { GUEST_FREE, GUEST_LIVE, removeNested } from '../../src/hv/guests.js';
import { hostMigrate } from '../../src/hv/notifier.js';
import {
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
  touch,
  violationTotal,
} from './inval-helpers.js';
import { freeHostTableUnits, rmapOf, shadowOf } from './helpers.js';

const A = 0x600;
const B = 0x2000;

describe('nested guest teardown', () => {
  it('remove an idle guest (last reference) -> FREE, shadow tree freed to the free list, shadow lpid flushed from the TLBs', () => {
    const r = makeInvalRig();
    expect(touch(r, A)).toBe(true);
    expect(touch(r, B)).toBe(true);
    const lpid = guestField(r, 'shadowLpid');
    const units = shadowTableUnits(r);
    expect(units).toBeGreaterThan(0);
    const free0 = freeHostTableUnits(r);
    r.cpu.exit(); // H_ENTER_NESTED returns: only the IDR holds it now
    expect(guestField(r, 'refcnt')).toBe(1);
    expect(tlbEntriesOf(r, 0, lpid)).toBe(2); // leaving the guest does not flush the TLB

    removeNested(r.host, r.slot);

    expect(guestField(r, 'refcnt')).toBe(0);
    expect(guestField(r, 'state')).toBe(GUEST_FREE);
    expect(idrSlot(r, 1)).toBe(-1);
    expect(shadowPgdEntries(r)).toBe(0);
    expect(freeHostTableUnits(r) - free0).toBe(units);
    expect(tlbEntriesOf(r, 0, lpid)).toBe(0);
    expect(guestField(r, 'l1Root')).toBe(0);
    expect(violationTotal(r)).toBe(0);
  });

  it('remove while a vCPU is inside -> out of the IDR but the tree stays until the vCPU exits, then freed', () => {
    const r = makeInvalRig();
    expect(touch(r, A)).toBe(true);
    removeNested(r.host, r.slot);
    expect(idrSlot(r, 1)).toBe(-1);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
    expect(guestField(r, 'refcnt')).toBe(1);
    expect(shadowLeaves(r)).toHaveLength(1);

    r.cpu.exit();

    expect(guestField(r, 'state')).toBe(GUEST_FREE);
    expect(shadowLeaves(r)).toHaveLength(0);
    expect(shadowPgdEntries(r)).toBe(0);
    expect(violationTotal(r)).toBe(0);
  });

  it('removed twice -> the second removal finds nothing in the IDR and drops no reference', () => {
    const r = makeInvalRig();
    removeNested(r.host, r.slot);
    removeNested(r.host, r.slot);
    expect(guestField(r, 'refcnt')).toBe(1);
    expect(guestField(r, 'state')).toBe(GUEST_LIVE);
    r.cpu.exit();
    expect(guestField(r, 'state')).toBe(GUEST_FREE);
    expect(violationTotal(r)).toBe(0);
  });

  it('after teardown, a host unmap walks the freed guest rmap entry -> guest not found, entry dropped, nothing unmapped', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    r.cpu.exit();
    removeNested(r.host, r.slot);
    expect(rmapOf(r, page)).toEqual([[1, A]]);
    const before = counters(r);

    expect(hostMigrate(r.host, page)).toBe(true);

    expect(rmapOf(r, page)).toEqual([]);
    expect(delta(r, before, 'rmapEntriesWalked')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });

  it('lpid reused by a new guest -> the old entry finds no leaf at its n_gpa and is dropped; the new guest leaves elsewhere are kept', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    r.cpu.exit();
    removeNested(r.host, r.slot);
    expect(r.cpu.enter()).toBe(true); // L1 runs lpid 1 again: a new guest object
    r.cpu.park();
    expect(touch(r, B)).toBe(true);
    const before = counters(r);

    expect(hostMigrate(r.host, page)).toBe(true);

    expect(rmapOf(r, page)).toEqual([]);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
    expect(shadowOf(r, B).value).not.toBe(0);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });

  it('lpid reused and the new guest maps the same n_gpa -> the insert dedups with the old entry, which then correctly finds the new leaf', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    r.cpu.exit();
    removeNested(r.host, r.slot);
    expect(r.cpu.enter()).toBe(true);
    r.cpu.park();
    expect(touch(r, A)).toBe(true);
    expect(rmapOf(r, page)).toEqual([[1, A]]);
    const before = counters(r);

    expect(hostMigrate(r.host, page)).toBe(true);

    expect(shadowOf(r, A).value).toBe(0);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(1);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });
});
