/**
 * Memslot flush (kvmppc_radix_flush_memslot, docs/model.md §5.6): under mmu_lock unmap every
 * present leaf of L0's table for L1 in the slot, with full unmap semantics (the rmap removal takes
 * the shadow leaves built on them), then seq++ (fix C2; mutation skip-memslot-seq, M14, leaves
 * the bump out). Leaves of other memslots are untouched.
 */
import { describe, expect, it } from 'vitest';
import { radixFlushMemslot } from '../../src/hv/notifier.js';
import { SLOT_MAIN, SLOT_READONLY } from '../../src/memory/machine.js';
import { PAGE_WRITE } from '../../src/mmu/pte.js';
import {
  LOAD,
  counters,
  delta,
  l1PageOf,
  makeInvalRig,
  mmuInProgress,
  mmuSeq,
  runAudit,
  shadowLeaves,
  touch,
  addCpu,
} from './inval-helpers.js';
import { hostLeafOfPage, rmapOf, shadowOf } from './helpers.js';

/** With `l1.readonly`, L1 puts the first L2 pages in its read-only memslot (l1-handler.ts). */
const RO_CONFIG = { l1: { readonly: '16M' } };
const RO = 0x5;
const DATA = [0x600, 0x601, 0x2000, 0x1_0000];

describe('memslot flush', () => {
  it('flush main slot -> every L1-table leaf of the slot and every shadow leaf built on them gone, rmap emptied, seq++; the read-only slot untouched', () => {
    const r = makeInvalRig(RO_CONFIG);
    const cpu1 = addCpu(r, 1, 2);
    for (const p of DATA) expect(touch(r, p)).toBe(true);
    expect(touch(r, 0x600, LOAD, cpu1)).toBe(true);
    expect(touch(r, RO, LOAD)).toBe(true);
    const roPage = l1PageOf(r, RO);
    expect(r.m.memslotOf(roPage)).toBe(SLOT_READONLY);
    expect(shadowOf(r, RO).value & PAGE_WRITE).toBe(0);
    const roHost = hostLeafOfPage(r, roPage).value;
    const roShadow = shadowOf(r, RO).value;
    const seq = mmuSeq(r);
    const before = counters(r);

    radixFlushMemslot(r.host, SLOT_MAIN);

    for (const p of DATA) {
      expect(hostLeafOfPage(r, l1PageOf(r, p)).value).toBe(0);
      expect(shadowOf(r, p).value).toBe(0);
      expect(rmapOf(r, l1PageOf(r, p))).toEqual([]);
    }
    expect(shadowLeaves(r, cpu1.regs.slot)).toHaveLength(0);
    expect(hostLeafOfPage(r, roPage).value).toBe(roHost);
    expect(shadowOf(r, RO).value).toBe(roShadow);
    expect(shadowLeaves(r)).toHaveLength(1);
    expect(mmuSeq(r)).toBe(seq + 1);
    expect(mmuInProgress(r)).toBe(0);
    expect(delta(r, before, 'memslotFlushes')).toBe(1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(DATA.length + 1);
    expect(runAudit(r)).toMatchObject({ lostWrites: 0, violations: 0 });
  });

  it('flush the read-only slot -> only its leaves go, seq++', () => {
    const r = makeInvalRig(RO_CONFIG);
    expect(touch(r, DATA[0])).toBe(true);
    expect(touch(r, RO, LOAD)).toBe(true);
    const seq = mmuSeq(r);
    radixFlushMemslot(r.host, SLOT_READONLY);
    expect(shadowOf(r, RO).value).toBe(0);
    expect(hostLeafOfPage(r, l1PageOf(r, RO)).value).toBe(0);
    expect(shadowOf(r, DATA[0]).value).not.toBe(0);
    expect(mmuSeq(r)).toBe(seq + 1);
  });

  it('mutation skip-memslot-seq (M14) -> leaves still unmapped, seq NOT bumped', () => {
    const r = makeInvalRig({ mutations: ['skip-memslot-seq'] });
    for (const p of DATA) expect(touch(r, p)).toBe(true);
    const seq = mmuSeq(r);
    radixFlushMemslot(r.host, SLOT_MAIN);
    expect(shadowLeaves(r)).toHaveLength(0);
    expect(hostLeafOfPage(r, l1PageOf(r, DATA[0])).value).toBe(0);
    expect(mmuSeq(r)).toBe(seq);
  });

  it('flush, then an access -> L0 instantiates the L1 page again (same frame: the host kept it), no reflection to L1', () => {
    const r = makeInvalRig();
    expect(touch(r, DATA[0])).toBe(true);
    const frameLeaf = hostLeafOfPage(r, l1PageOf(r, DATA[0])).value;
    radixFlushMemslot(r.host, SLOT_MAIN);
    const before = counters(r);
    expect(touch(r, DATA[0])).toBe(true);
    expect(delta(r, before, 'faultHostInstantiate')).toBe(1);
    expect(delta(r, before, 'faultReflected')).toBe(0);
    expect(hostLeafOfPage(r, l1PageOf(r, DATA[0])).value).toBe(frameLeaf);
    expect(rmapOf(r, l1PageOf(r, DATA[0]))).toEqual([[1, DATA[0]]]);
  });

  it('flush of an empty slot -> nothing removed, seq still bumped', () => {
    const r = makeInvalRig();
    const seq = mmuSeq(r);
    const before = counters(r);
    radixFlushMemslot(r.host, SLOT_MAIN);
    expect(mmuSeq(r)).toBe(seq + 1);
    expect(delta(r, before, 'shadowPtesRemoved')).toBe(0);
  });
});
