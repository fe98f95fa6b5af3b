/**
 * The I5 audit counts every completed store where it lives now: in the frame backing its page,
 * or in the page's swap slot while it is swapped out. It sums the frames handed out that back a
 * page, plus the swap slots' running total the host keeps, instead of walking every L1 page;
 * this checks the two sums agree through stores, swap-outs, swap-ins and migrations.
 */
import { describe, expect, it } from 'vitest';
import { audit, pageWrites } from '../../src/check/audit.js';
import { hostMigrate, hostSwapOut } from '../../src/hv/notifier.js';
import { L1CTRL } from '../../src/memory/records.js';
import { l1PageOf, makeInvalRig, touch, LOAD, STORE } from './inval-helpers.js';

/** The sum the audit used to take: every L1 page's current count. */
function pageWalkSum(r: ReturnType<typeof makeInvalRig>): number {
  let s = 0;
  for (let p = 0; p < r.m.L.l1Pages; p++) s += pageWrites(r.host, p);
  return s;
}

describe('I5 audit: the frames and swap slots that exist, not the address space', () => {
  it('agrees with the per-page sum through stores, swap-out, swap-in and migration, and still finds a lost store', () => {
    const r = makeInvalRig({ actors: {} });
    const pages = [0x400, 0x401, 0x402, 0x403, 0x600];
    let stores = 0;
    const store = (pn: number): void => {
      expect(touch(r, pn, STORE)).toBe(true);
      stores++;
    };
    for (const pn of pages) for (let k = 0; k < 3; k++) store(pn);
    const check = (): void => {
      expect(pageWalkSum(r)).toBe(stores);
      expect(audit(r.host, { writesCompleted: [stores] }).lostWrites).toBe(0);
    };
    check();
    expect(hostSwapOut(r.host, l1PageOf(r, pages[0]))).toBe(true);
    expect(hostSwapOut(r.host, l1PageOf(r, pages[1]))).toBe(true);
    expect(r.w[r.m.l1ctrl(L1CTRL.swappedWrites)]).toBeGreaterThanOrEqual(6);
    check();
    // Swap-in by touching the page again (a load, then a store).
    expect(touch(r, pages[0], LOAD)).toBe(true);
    store(pages[0]);
    check();
    expect(hostMigrate(r.host, l1PageOf(r, pages[2]))).toBe(true);
    store(pages[2]);
    check();
    // One store the machine never saw in guest memory: reported lost.
    expect(audit(r.host, { writesCompleted: [stores + 1] }).lostWrites).toBe(1);
  });
});
