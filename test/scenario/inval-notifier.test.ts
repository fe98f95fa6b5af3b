/**
 * Host MMU-notifier invalidation of L1 memory (docs/model.md §5.3) as migration and swap use
 * it: notifier begin, unmap of L0's leaf for L1 (tlbie), nested rmap removal that unmaps every
 * shadow leaf built on the old host page (pfn-checked, §1.4), data copy, notifier end (seq++).
 * Swap-in happens on the next fault. Also the pfn check itself: a stale rmap entry whose shadow
 * leaf now maps another host page is left alone (and with mutation skip-pfn-check, M15, it is
 * unmapped, harmlessly).
 */
import { describe, expect, it } from 'vitest';
import { hostMigrate, hostSwapOut } from '../../src/hv/notifier.js';
import { emulatePrivTlbie, tlbieArgs } from '../../src/hv/tlbie.js';
import { pteRpn } from '../../src/mmu/pte.js';
import { SWAP_SLOT_USED } from '../../src/memory/host.js';
import {
  LOAD,
  STORE,
  addCpu,
  counters,
  delta,
  frameGen,
  frameOf,
  frameWrites,
  gpaPnOf,
  guestField,
  l1PageOf,
  l1Repoint,
  makeInvalRig,
  mmuInProgress,
  mmuSeq,
  runAudit,
  tlbEntry,
  touch,
  violationTotal,
  type InvalRig,
} from './inval-helpers.js';
import { backingHostPn, hostLeafOfPage, rmapOf, shadowOf } from './helpers.js';

const A = 0x600;
/** Another L2 page, unrelated to A. */
const B = 0x900;
/** An L2 page L1 aliases onto A's L1 page (KSM-like sharing inside L1). */
const X = 0x2345;

/** L1 points `l2Pn` of guest `slot` at L1 page number `gpaPn` and tlbies it, as a well-behaved L1 does. */
function l1Move(r: InvalRig, l2Pn: number, gpaPn: number, slot = r.slot): void {
  l1Repoint(r, l2Pn, gpaPn, slot);
  const [instr, rs, rb] = tlbieArgs(0, 0, slot + 1, l2Pn * 4096, 12);
  expect(emulatePrivTlbie(r.host, instr, rs, rb)).toBe(0);
}

describe('host migration of an L1 page (notifier begin/unmap/copy/end)', () => {
  it('migrate -> L1-table leaf and every shadow leaf found through the rmap removed (all guests), rmap emptied, seq++, writes copied, old frame retired', () => {
    const r = makeInvalRig();
    const cpu1 = addCpu(r, 1, 2);
    const slot1 = cpu1.regs.slot;
    const page = l1PageOf(r, A);
    // Guest 1: A, and X which L1 aliases onto A's page. Guest 2: its A, also aliased onto it.
    expect(touch(r, A)).toBe(true);
    expect(touch(r, A)).toBe(true); // a TLB hit: two writes in the frame
    expect(touch(r, X, LOAD)).toBe(true);
    l1Move(r, X, gpaPnOf(r, A));
    expect(touch(r, X, LOAD)).toBe(true);
    expect(touch(r, A, LOAD, cpu1)).toBe(true);
    l1Move(r, A, gpaPnOf(r, A), slot1);
    expect(touch(r, A, LOAD, cpu1)).toBe(true);
    expect(touch(r, B)).toBe(true);
    const hostPn = backingHostPn(r, page);
    expect(pteRpn(shadowOf(r, X).value)).toBe(hostPn);
    expect(pteRpn(shadowOf(r, A, slot1).value)).toBe(hostPn);
    expect(rmapOf(r, page)).toHaveLength(3);
    const oldFrame = frameOf(r, page);
    const writes = frameWrites(r, oldFrame);
    expect(writes).toBe(2);
    const gen = frameGen(r, oldFrame);
    const seq = mmuSeq(r);
    const shadowB = shadowOf(r, B).value;
    const before = counters(r);

    expect(hostMigrate(r.host, page)).toBe(true);

    expect(hostLeafOfPage(r, page).value).toBe(0);
    expect(shadowOf(r, A).value).toBe(0);
    expect(shadowOf(r, X).value).toBe(0);
    expect(shadowOf(r, A, slot1).value).toBe(0);
    expect(shadowOf(r, B).value).toBe(shadowB);
    expect(rmapOf(r, page)).toEqual([]);
    expect(tlbEntry(r, 0, A, guestField(r, 'shadowLpid'))).toBe(0);
    expect(tlbEntry(r, 0, X, guestField(r, 'shadowLpid'))).toBe(0);
    expect(tlbEntry(r, 1, A, guestField(r, 'shadowLpid', slot1))).toBe(0);
    expect(mmuSeq(r)).toBe(seq + 1);
    expect(mmuInProgress(r)).toBe(0);
    const newFrame = frameOf(r, page);
    expect(newFrame).not.toBe(oldFrame);
    expect(frameWrites(r, newFrame)).toBe(writes);
    expect(frameGen(r, oldFrame)).toBeGreaterThan(gen);
    expect(delta(r, before, 'hostNotifier')).toBe(1);
    expect(delta(r, before, 'migrations')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(3);
    expect(delta(r, before, 'rmapEntriesWalked')).toBe(3);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });

  it('migrate, then a store -> L0 re-instantiates on the new frame (no reflection), the store lands there, no lost write', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(hostMigrate(r.host, page)).toBe(true);
    const newFrame = frameOf(r, page);
    const before = counters(r);

    expect(touch(r, A)).toBe(true);

    expect(delta(r, before, 'faultHostInstantiate')).toBe(1);
    expect(delta(r, before, 'faultReflected')).toBe(0);
    expect(pteRpn(shadowOf(r, A).value)).toBe(r.m.frameToHostPn(newFrame));
    expect(rmapOf(r, page)).toEqual([[1, A]]);
    expect(frameWrites(r, newFrame)).toBe(2);
    expect(violationTotal(r)).toBe(0);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });

  it('migrate a page the host never backed -> false, nothing changes, seq unchanged', () => {
    const r = makeInvalRig();
    const seq = mmuSeq(r);
    const before = counters(r);
    expect(hostMigrate(r.host, l1PageOf(r, A))).toBe(false);
    expect(mmuSeq(r)).toBe(seq);
    expect(delta(r, before, 'hostNotifier')).toBe(0);
  });

  it('L0 maps L1 with a 2M leaf, L1 maps L2 with 4K -> rmap entries live at the aligned gfn; migrating any page of the block removes every shadow leaf in it (fix F2)', () => {
    const r = makeInvalRig({ host: { backing: { '4K': 0, '2M': 1 } } });
    const first = l1PageOf(r, 0x200);
    expect(first % 512).toBe(0);
    expect(touch(r, 0x201)).toBe(true);
    expect(touch(r, 0x3ff)).toBe(true);
    expect(hostLeafOfPage(r, first).shift).toBe(21);
    expect(shadowOf(r, 0x201).shift).toBe(12);
    expect(rmapOf(r, first)).toEqual([
      [1, 0x3ff],
      [1, 0x201],
    ]);
    expect(rmapOf(r, first + 1)).toEqual([]);
    const oldFrame = frameOf(r, first + 0x1ff);
    expect(frameWrites(r, oldFrame)).toBe(1);
    const seq = mmuSeq(r);

    expect(hostMigrate(r.host, first + 0x100)).toBe(true);

    expect(hostLeafOfPage(r, first).value).toBe(0);
    expect(shadowOf(r, 0x201).value).toBe(0);
    expect(shadowOf(r, 0x3ff).value).toBe(0);
    expect(rmapOf(r, first)).toEqual([]);
    expect(mmuSeq(r)).toBe(seq + 1);
    expect(frameOf(r, first + 0x1ff)).not.toBe(oldFrame);
    expect(frameWrites(r, frameOf(r, first + 0x1ff))).toBe(1); // every frame of the block copied
    expect(frameOf(r, first + 0x1ff) - frameOf(r, first)).toBe(0x1ff); // still one contiguous block
    expect(touch(r, 0x3ff, LOAD)).toBe(true);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });
});

describe('host swap-out and swap-in', () => {
  it('swap-out -> L1-table leaf and shadow leaf removed, rmap emptied, page unbacked with its write count saved, seq++, frame retired', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(touch(r, A)).toBe(true);
    const frame = frameOf(r, page);
    const gen = frameGen(r, frame);
    const seq = mmuSeq(r);
    const before = counters(r);

    expect(hostSwapOut(r.host, page)).toBe(true);

    expect(frameOf(r, page)).toBe(-1);
    expect(r.w[r.m.L.swapWritesWord + page]).toBe(2 | SWAP_SLOT_USED); // 2 writes, slot in use
    expect(hostLeafOfPage(r, page).value).toBe(0);
    expect(shadowOf(r, A).value).toBe(0);
    expect(rmapOf(r, page)).toEqual([]);
    expect(tlbEntry(r, 0, A, guestField(r, 'shadowLpid'))).toBe(0);
    expect(mmuSeq(r)).toBe(seq + 1);
    expect(frameGen(r, frame)).toBeGreaterThan(gen);
    expect(delta(r, before, 'swapOuts')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(1);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });

  it('swap-in on the next fault -> GUP backs the page again with its saved write count, L0 leaf, shadow leaf and rmap rebuilt', () => {
    const r = makeInvalRig();
    const page = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    expect(touch(r, A)).toBe(true);
    expect(hostSwapOut(r.host, page)).toBe(true);
    const before = counters(r);

    expect(touch(r, A, STORE)).toBe(true);

    const frame = frameOf(r, page);
    expect(frame).toBeGreaterThanOrEqual(0);
    expect(frameWrites(r, frame)).toBe(3);
    expect(r.w[r.m.L.swapWritesWord + page]).toBe(0);
    expect(pteRpn(hostLeafOfPage(r, page).value)).toBe(r.m.frameToHostPn(frame));
    expect(pteRpn(shadowOf(r, A).value)).toBe(r.m.frameToHostPn(frame));
    expect(rmapOf(r, page)).toEqual([[1, A]]);
    expect(delta(r, before, 'faultHostInstantiate')).toBe(1);
    expect(delta(r, before, 'swapIns')).toBe(1);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });

  it('a first touch backs a page without counting a swap-in', () => {
    const r = makeInvalRig();
    const before = counters(r);
    expect(touch(r, A)).toBe(true);
    expect(frameOf(r, l1PageOf(r, A))).toBeGreaterThanOrEqual(0);
    expect(delta(r, before, 'swapIns')).toBe(0);
  });
});

describe('nested rmap removal: the pfn check', () => {
  /**
   * L1 moves A from page P to page Q (with its tlbie), L2 touches A again: the shadow leaf for A
   * now maps Q's frame, and P's rmap still holds the stale entry (1, A).
   */
  function staleEntry(over = {}): { r: InvalRig; p: number; q: number } {
    const r = makeInvalRig(over);
    const p = l1PageOf(r, A);
    expect(touch(r, A)).toBe(true);
    const qGpaPn = gpaPnOf(r, 0x7000);
    l1Move(r, A, qGpaPn);
    expect(shadowOf(r, A).value).toBe(0);
    expect(touch(r, A)).toBe(true);
    const q = Math.floor(qGpaPn / r.m.L.basePn);
    expect(pteRpn(shadowOf(r, A).value)).toBe(backingHostPn(r, q));
    expect(rmapOf(r, p)).toEqual([[1, A]]);
    expect(rmapOf(r, q)).toEqual([[1, A]]);
    return { r, p, q };
  }

  it('stale rmap entry whose shadow leaf now maps another host page -> NOT unmapped by the old page migration; the entry is dropped', () => {
    const { r, p, q } = staleEntry();
    const leaf = shadowOf(r, A).value;
    const before = counters(r);

    expect(hostMigrate(r.host, p)).toBe(true);

    expect(shadowOf(r, A).value).toBe(leaf);
    expect(tlbEntry(r, 0, A, guestField(r, 'shadowLpid'))).not.toBe(0);
    expect(rmapOf(r, p)).toEqual([]);
    expect(rmapOf(r, q)).toEqual([[1, A]]);
    expect(delta(r, before, 'rmapEntriesWalked')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });

  it('same stale entry with mutation skip-pfn-check (M15) -> the unrelated shadow leaf IS unmapped; the next access re-faults, nothing breaks', () => {
    const { r, p, q } = staleEntry({ mutations: ['skip-pfn-check'] });
    const before = counters(r);

    expect(hostMigrate(r.host, p)).toBe(true);

    expect(shadowOf(r, A).value).toBe(0);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(1);
    expect(rmapOf(r, q)).toEqual([[1, A]]); // now stale itself: Q's leaf is gone from the shadow
    expect(touch(r, A)).toBe(true);
    expect(delta(r, before, 'faultShadowInsert')).toBe(1);
    expect(pteRpn(shadowOf(r, A).value)).toBe(backingHostPn(r, q));
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });
});
