/**
 * L1's own accesses come in runs (engine/vcpu-loop.ts): the threshold that starts a run gives
 * the configured share `workload.l1Ratio` of all accesses, checked by replaying the loop's
 * decision on a seeded stream (count-bounded, deterministic).
 */
import { describe, expect, it } from 'vitest';
import { L1_BURST_ACCESSES, l1BurstThreshold } from '../../src/engine/vcpu-loop.js';
import { Prng } from '../../src/workload/prng.js';

/** The loop's choice over `n` accesses: how many are L1's. */
function l1Share(ratio: number, n: number): number {
  const t = l1BurstThreshold(ratio);
  const prng = new Prng(7, 1);
  let left = 0;
  let l1 = 0;
  for (let k = 0; k < n; k++) {
    if (t > 0 && (left > 0 || prng.nextU32() < t)) {
      left = (left > 0 ? left : L1_BURST_ACCESSES) - 1;
      l1++;
    }
  }
  return l1 / n;
}

describe('L1 access runs', () => {
  it('ratio 0 -> no L1 access and no draw; ratio 1 -> every access is L1', () => {
    expect(l1BurstThreshold(0)).toBe(0);
    expect(l1Share(0, 10_000)).toBe(0);
    expect(l1Share(1, 10_000)).toBeGreaterThan(0.999);
  });

  it('runs of L1_BURST_ACCESSES make up the configured share', () => {
    for (const ratio of [0.1, 0.25, 0.5, 0.9]) expect(Math.abs(l1Share(ratio, 400_000) - ratio)).toBeLessThan(0.02);
  });
});
