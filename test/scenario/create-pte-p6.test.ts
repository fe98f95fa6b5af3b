/**
 * Window P6: kvmppc_create_pte putting a 2M leaf over a page-table page that still holds leaves
 * (the `full = false` path: kvmppc_unmap_free_pmd_entry_table -> kvmppc_unmap_free_pte) unmaps
 * each old leaf with kvmppc_unmap_pte(kvm, p, pte_pfn(*p) << PAGE_SHIFT, PAGE_SHIFT, NULL, lpid):
 * the leaf's HOST real address as the guest address. Reached as the kernel reaches it: dirty
 * logging switched off while base-page leaves it required are still mapped (the new memslot is
 * installed before the old one's mappings are flushed), then a fault maps a 2M leaf there.
 *
 * On L0's table for L1, with an L1 big enough that a memslot covers gfn = hpa >> PAGE_SHIFT:
 * the tlbie names the host address, the old leaf's own shadow leaves are not removed (its rmap
 * is not looked at), and the rmap list of the unrelated L1 page with that number is dropped
 * whole while the pfn check spares its shadow leaves: they stay mapped, untracked, and the move
 * of that page later leaves them mapping a retired frame. `fixes: [p6]` passes the guest address.
 */
import { describe, expect, it } from 'vitest';
import { InstantiateResult, book3sInstantiatePage } from '../../src/hv/radix.js';
import { l1TableOf } from '../../src/hv/l1-table.js';
import { L1_LPID } from '../../src/hv/context.js';
import { hostMigrate } from '../../src/hv/notifier.js';
import { audit } from '../../src/check/audit.js';
import { decodeViolations } from '../../src/check/violations.js';
import { MEMSLOT_LOG_DIRTY, SLOT, SLOT_MAIN } from '../../src/memory/machine.js';
import { TAINT_P6 } from '../../src/invariants/windows.js';
import { pteRpn } from '../../src/mmu/pte.js';
import { FAULT_KIND } from '../../src/stats/kinds.js';
import { dataGpaPn, dataL2Pn, fault, hostLeafOf, l1Map, makeRig, pageOf, rmapOf, shadowOf, type Rig } from './helpers.js';

/** An L1 big enough that host real addresses (from 1 GiB up) are also L1 guest addresses. */
const BIG_L1 = { l1: { memory: '4G', dirtyLog: true }, host: { memory: '256M', backing: { base: 0, '2M': 1 } } };

function instantiate(r: Rig, gpaPn: number): InstantiateResult {
  const out = new InstantiateResult();
  expect(book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpaPn, r.m.slotFlags(SLOT_MAIN), true, false, out)).toBe(0);
  return out;
}

/** Every tlbie this context issues: [lpid, 4 KiB page number, shift]. */
function recordTlbies(r: Rig): Array<[number, number, number]> {
  const seen: Array<[number, number, number]> = [];
  const real = r.ctx.shootdown;
  r.ctx.shootdown = (ctx, lpid, pn, shift) => {
    seen.push([lpid, pn, shift]);
    real(ctx, lpid, pn, shift);
  };
  return seen;
}

interface Setup {
  r: Rig;
  /** L1 page number of the base-page leaf logging left behind, and the host page it maps. */
  gpaA: number;
  hostPnA: number;
  /** L2 page whose shadow leaf is built on that base-page leaf. */
  l2OnA: number;
  /** The unrelated L1 page numbered like A's host address, and the L2 page L1 maps onto it. */
  victimPage: number;
  l2OnVictim: number;
}

/**
 * Dirty logging on: L1 page A gets a base-page leaf and a shadow leaf on it; the L1 page whose
 * number is A's host address gets a shadow leaf too. Then logging is switched off (new memslot in,
 * old mappings not yet flushed).
 */
function setup(over: Record<string, unknown> = {}): Setup {
  const r = makeRig({ ...BIG_L1, ...over });
  const gpaA = dataGpaPn(r);
  const l2OnA = dataL2Pn(r);
  l1Map(r, l2OnA, gpaA);
  expect(fault(r, l2OnA, { store: true }).v.kind).toBe(FAULT_KIND.hostInstantiate);
  const leafA = hostLeafOf(r, gpaA);
  expect(leafA.level).toBe(0); // logging: base pages only, though the host block is 2M
  const hostPnA = pteRpn(leafA.value);
  const victimPage = pageOf(r, hostPnA);
  expect(victimPage).toBeLessThan(r.m.L.l1DataPages); // a memslot covers gfn = hpa >> PAGE_SHIFT
  expect(pageOf(r, hostPnA)).not.toBe(pageOf(r, gpaA));
  const l2OnVictim = dataL2Pn(r, 1);
  l1Map(r, l2OnVictim, victimPage * r.m.L.basePn);
  expect(fault(r, l2OnVictim, { store: true }).v.kind).toBe(FAULT_KIND.hostInstantiate);
  expect(rmapOf(r, victimPage)).toEqual([[1, l2OnVictim]]);
  expect(rmapOf(r, pageOf(r, gpaA))).toEqual([[1, l2OnA]]);
  // KVM_SET_USER_MEMORY_REGION clearing LOG_DIRTY_PAGES: the new memslot is installed first.
  Atomics.and(r.w, r.m.slotWord(SLOT_MAIN, SLOT.flags), ~MEMSLOT_LOG_DIRTY);
  return { r, gpaA, hostPnA, l2OnA, victimPage, l2OnVictim };
}

/** Audit (stop-the-world check) and the violations it recorded, as [invariant, window] pairs. */
function audited(r: Rig): Array<[string, string | undefined]> {
  audit(r.actor, { writesCompleted: [0] });
  return decodeViolations(r.m).records.filter((v) => v.invariant.startsWith('I1') || v.invariant.startsWith('I5')).map((v) => [v.invariant, v.window]);
}

describe('P6 as written: the partial sub-tree free keys on the host address', () => {
  it('a 2M leaf over the base-page leaf logging left: tlbie at the host address, the old leaf\'s shadow leaf kept, the victim page\'s rmap list dropped, its shadow leaf kept untracked', () => {
    const { r, gpaA, hostPnA, l2OnA, victimPage, l2OnVictim } = setup();
    const tlbies = recordTlbies(r);
    // A fault on another page of A's 2M region, with logging now off: a 2M leaf.
    const out = instantiate(r, gpaA + r.m.L.basePn);
    expect(out.level).toBe(1);
    expect(hostLeafOf(r, gpaA)).toMatchObject({ level: 1, value: out.hp });
    // kvmppc_unmap_pte(kvm, p, pte_pfn(*p) << PAGE_SHIFT, PAGE_SHIFT, NULL, lpid): the host address.
    expect(tlbies).toContainEqual([L1_LPID, hostPnA, r.ctx.g.pageShift]);
    expect(tlbies.some(([, pn]) => pn === gpaA)).toBe(false);
    // The old leaf's page: its rmap was not looked at, its shadow leaf stays.
    expect(rmapOf(r, pageOf(r, gpaA))).toEqual([[1, l2OnA]]);
    expect(shadowOf(r, l2OnA).value).not.toBe(0);
    // The page numbered like the host address: its rmap list dropped, its shadow leaf spared by
    // the pfn check (it maps another host page), so mapped and untracked; the page is tainted.
    expect(rmapOf(r, victimPage)).toEqual([]);
    expect(shadowOf(r, l2OnVictim).value).not.toBe(0);
    expect(r.w[r.m.L.windowTaintWord + victimPage] & TAINT_P6).toBe(TAINT_P6);
    // The audit finds the untracked leaf, and tells it apart as P6's.
    expect(audited(r)).toEqual([['I1-no-stale-shadow', 'P6']]);
  });

  it('then the host moves the victim page: nothing finds the untracked shadow leaf, which keeps mapping the retired frame (I1, P6)', () => {
    const { r, gpaA, victimPage, l2OnVictim } = setup();
    instantiate(r, gpaA + r.m.L.basePn);
    const before = shadowOf(r, l2OnVictim).value;
    expect(hostMigrate(r.actor, victimPage)).toBe(true);
    expect(hostLeafOf(r, victimPage * r.m.L.basePn).value).toBe(0);
    expect(shadowOf(r, l2OnVictim).value).toBe(before); // still mapped: L2 keeps a host page it no longer owns
    const seen = audited(r);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every(([inv, win]) => inv === 'I1-no-stale-shadow' && win === 'P6')).toBe(true);
  });
});

describe('P6 with fixes [p6]: the guest address', () => {
  it('the same sequence: tlbie at the guest address, the old leaf\'s shadow leaf removed through its rmap, the victim page untouched, the audit clean', () => {
    const { r, gpaA, l2OnA, victimPage, l2OnVictim } = setup({ fixes: ['p6'] });
    const tlbies = recordTlbies(r);
    const out = instantiate(r, gpaA + r.m.L.basePn);
    expect(out.level).toBe(1);
    expect(tlbies).toContainEqual([L1_LPID, gpaA, r.ctx.g.pageShift]);
    expect(rmapOf(r, pageOf(r, gpaA))).toEqual([]);
    expect(shadowOf(r, l2OnA).value).toBe(0);
    expect(rmapOf(r, victimPage)).toEqual([[1, l2OnVictim]]);
    expect(r.w[r.m.L.windowTaintWord + victimPage] & TAINT_P6).toBe(0);
    expect(audited(r)).toEqual([]);
    // And the move of the victim page removes its shadow leaf through the rmap.
    expect(hostMigrate(r.actor, victimPage)).toBe(true);
    expect(shadowOf(r, l2OnVictim).value).toBe(0);
    expect(audited(r)).toEqual([]);
  });

  it('protocol: fixed closes P6 too', () => {
    const { r, victimPage, l2OnVictim, gpaA } = setup({ protocol: 'fixed' });
    instantiate(r, gpaA + r.m.L.basePn);
    expect(rmapOf(r, victimPage)).toEqual([[1, l2OnVictim]]);
  });
});

describe('switching dirty logging, as KVM_SET_USER_MEMORY_REGION does', () => {
  it('toggleDirtyLogging: the flag flips, then the old mappings are flushed (every L1-table leaf gone, seq bumped)', async () => {
    const { toggleDirtyLogging } = await import('../../src/hv/notifier.js');
    const { L1CTRL } = await import('../../src/memory/records.js');
    const r = makeRig(BIG_L1);
    const gpa = dataGpaPn(r);
    instantiate(r, gpa);
    expect(hostLeafOf(r, gpa).level).toBe(0);
    const seq = r.w[r.m.l1ctrl(L1CTRL.mmuSeq)];
    let flagsAtInstall = -1;
    expect(toggleDirtyLogging(r.actor, SLOT_MAIN, () => (flagsAtInstall = r.m.slotFlags(SLOT_MAIN)))).toBe(false);
    expect(flagsAtInstall & MEMSLOT_LOG_DIRTY).toBe(0); // the new flags were in before the flush
    expect(hostLeafOf(r, gpa).value).toBe(0);
    expect(r.w[r.m.l1ctrl(L1CTRL.mmuSeq)]).toBeGreaterThan(seq);
    // Off: the next fault maps the 2M block with one leaf; switched back on: flushed again.
    expect(instantiate(r, gpa).level).toBe(1);
    expect(toggleDirtyLogging(r.actor, SLOT_MAIN)).toBe(true);
    expect(hostLeafOf(r, gpa).value).toBe(0);
    expect(instantiate(r, gpa).level).toBe(0);
  });
});
