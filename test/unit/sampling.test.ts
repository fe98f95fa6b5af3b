/**
 * Which accesses and faults are timed: chosen at random with the configured mean rate, so the
 * sample cannot alias with a periodic pattern (a fixed 1-in-16 fault stride once timed only
 * hostInstantiate faults of first touches that alternate reflected / hostInstantiate).
 */
import { describe, expect, it } from 'vitest';
import { makeRig } from '../scenario/helpers.js';
import { Cpu } from '../../src/hw/cpu.js';

describe('access sampling gaps', () => {
  it('vary, with mean stats.accessSample (1,024)', () => {
    const r = makeRig();
    const cpu = new Cpu(r.ctx, 1);
    const gap = (cpu as unknown as { nextSampleGap(): number }).nextSampleGap.bind(cpu);
    const n = r.ctx.accessSampleMask + 1;
    expect(n).toBe(1024);
    const gaps = Array.from({ length: 20_000 }, gap);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(Math.abs(mean - n) / n).toBeLessThan(0.03);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2 * n - 1);
    expect(new Set(gaps).size).toBeGreaterThan(1000);
  });
});
