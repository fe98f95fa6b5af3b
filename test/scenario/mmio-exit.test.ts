/**
 * A nested fault on an L1 address with no memslot (L1's MMIO hole), as the vCPU meets it:
 * __kvmhv_nested_page_fault -> kvmppc_hv_emulate_mmio returns RESUME_HOST_NV (an exit to L0's
 * userspace); kvmhv_enter_nested_guest answers H_TOO_HARD, which the hcall exit turns into r3 = 0
 * while userspace emulates the access. L1 sees H_ENTER_NESTED return 0: it runs no fault handler
 * and re-enters L2, whose access has completed.
 */
import { describe, expect, it } from 'vitest';
import { COUNTER } from '../../src/stats/counters.js';
import { counters, delta, makeInvalRig, shadowLeaves, touch, LOAD, STORE } from './inval-helpers.js';

describe('MMIO exit of a nested fault (kvmppc_hv_emulate_mmio, H_TOO_HARD -> r3 = 0)', () => {
  for (const [name, type] of [['load', LOAD], ['store', STORE]] as const) {
    it(`an L2 ${name} to a page L1 maps onto its MMIO hole completes; L1's handler never runs; no shadow leaf`, () => {
      const r = makeInvalRig({ l1: { mmio: '1M' }, workload: { mmioRatio: 0.1 } });
      const l2MmioPages = r.m.L.l2MmioPages;
      expect(l2MmioPages).toBeGreaterThan(0);
      const page = r.m.L.guestPages - l2MmioPages; // the first L2 page L1 puts in its MMIO hole
      // The first access finds no L1 PTE: reflected, and L1's handler maps the page onto its hole.
      expect(touch(r, page, type)).toBe(true);
      const before = counters(r);
      expect(touch(r, page, type)).toBe(true); // completed: emulated by L0's userspace
      expect(delta(r, before, 'faultMmio')).toBe(1);
      expect(delta(r, before, 'l1Handled')).toBe(0); // L1 saw trap 0: nothing to handle
      expect(delta(r, before, 'faultReflected')).toBe(0);
      expect(shadowLeaves(r)).toHaveLength(0);
      // MMIO is never mapped: every access exits.
      expect(touch(r, page, type)).toBe(true);
      expect(counters(r)[COUNTER.faultMmio] - before[COUNTER.faultMmio]).toBe(2);
    });
  }
});
