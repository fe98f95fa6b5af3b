/**
 * The hardware walker's page-walk cache (hw/walker.ts `walk`): a walk in the 2 MiB region of the
 * previous one reads the leaf through the cached PTE-level table, and a freed table is never
 * used again through the cache (table frees and flushes bump the epoch the cache is keyed on).
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/hw/cpu.js';
import { ACCESS_LOAD, ACCESS_STORE } from '../../src/hw/walker.js';
import { l1FlushLpid } from '../../src/hv/l1-handler.js';
import { CTRL } from '../../src/memory/records.js';
import { counter, dataL2Pn, freeHostTableUnits, makeRig, shadowEntryWord, shadowOf } from './helpers.js';

/** Faults of every kind so far (the per-branch counters sum to the faults taken). */
function faults(r: ReturnType<typeof makeRig>): number {
  return (
    counter(r, 'faultShadowInsert') + counter(r, 'faultHostInstantiate') + counter(r, 'faultReflected') +
    counter(r, 'faultRcFixed') + counter(r, 'faultRcReflected') + counter(r, 'faultRetried')
  );
}

describe('page-walk cache of the hardware walker', () => {
  it('the walk of a second page of the cached 2 MiB region finds that page\'s own leaf: a walk hit, no fault', () => {
    const r = makeRig();
    const cpu = new Cpu(r.ctx, 1);
    expect(cpu.enter()).toBe(true);
    const a = dataL2Pn(r);
    expect(cpu.access(a, ACCESS_STORE)).toBe(true);
    expect(cpu.access(a + r.m.L.basePn, ACCESS_STORE)).toBe(true);
    // Both leaves sit in one PTE table, and a fresh walk of the second page hits without a fault.
    const pte = (pn: number): number => shadowEntryWord(r, pn, 0) - ((pn >>> r.ctx.g.pnShift[0]) & ((1 << r.ctx.g.bits[0]) - 1));
    expect(pte(a)).toBe(pte(a + r.m.L.basePn));
    cpu.flushLocalTlb();
    const before = faults(r);
    expect(cpu.access(a + r.m.L.basePn, ACCESS_LOAD)).toBe(true);
    expect(faults(r)).toBe(before);
    cpu.publish();
    expect(counter(r, 'walkHits')).toBeGreaterThanOrEqual(1);
    cpu.exit();
  });

  it('after L1 flushes the lpid (tree freed, tables back in the pool), the cached table is not used: the access faults', () => {
    const r = makeRig();
    const cpu = new Cpu(r.ctx, 1);
    expect(cpu.enter()).toBe(true);
    const a = dataL2Pn(r);
    expect(cpu.access(a, ACCESS_STORE)).toBe(true); // walks and caches a's PTE table
    const freeBefore = freeHostTableUnits(r);
    const epoch = Atomics.load(r.w, r.m.ctrl(CTRL.tlbEpoch));
    cpu.park();
    l1FlushLpid(r.ctx, r.slot, 0);
    cpu.resume();
    expect(shadowOf(r, a).value).toBe(0);
    expect(freeHostTableUnits(r)).toBeGreaterThan(freeBefore);
    expect(Atomics.load(r.w, r.m.ctrl(CTRL.tlbEpoch))).toBeGreaterThan(epoch);
    // The freed table still holds a's old leaf word (units are zeroed when handed out again):
    // a walk through a stale cache would hit it. The access must fault and rebuild instead.
    const before = faults(r);
    expect(cpu.access(a, ACCESS_LOAD)).toBe(true);
    expect(faults(r)).toBeGreaterThan(before);
    cpu.exit();
  });
});
