/**
 * What the rates divide by: the measured span, and with a warm-up the vCPUs' own measured time
 * after it (their counters restart there), never the warm-up as well.
 */
import { describe, expect, it } from 'vitest';
import { measuredDuration } from '../../src/engine/run.js';

describe('run.durationMs', () => {
  it('without a warm-up: the span from the start gate to the end', () => {
    expect(measuredDuration([{ measuredMs: 900, warmupDone: true }], false, false, 1000)).toBe(1000);
  });

  it('with a warm-up: the mean of the vCPUs\' measured times after it (was: the whole span, warm-up included)', () => {
    const r = [
      { measuredMs: 400, warmupDone: true },
      { measuredMs: 600, warmupDone: true },
      { measuredMs: 0, warmupDone: false },
    ];
    expect(measuredDuration(r, true, false, 1000)).toBe(500);
  });

  it('a warm-up no vCPU finished measures nothing: 0, so every rate is 0', () => {
    expect(measuredDuration([{ measuredMs: 0, warmupDone: false }], true, false, 1000)).toBe(0);
  });

  it('inline (vCPUs one after another on one thread): the span', () => {
    expect(measuredDuration([{ measuredMs: 300, warmupDone: true }], true, true, 700)).toBe(700);
  });
});
