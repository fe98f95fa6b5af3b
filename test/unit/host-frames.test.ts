/**
 * The host's frame allocator: freed blocks first, then the next piece of the last split block,
 * then a split or the bump pointer. A split carves its block one piece per allocation, so the
 * first 4K frame of a run touches three words, not 511 list links in 1G of frame records, and the
 * I5 audit skips what was never handed out.
 */
import { describe, expect, it } from 'vitest';
import { setupMachine } from '../../src/engine/setup.js';
import { CTRL } from '../../src/memory/records.js';
import { scenarioConfig } from '../scenario/helpers.js';

function machine(hostMemory: string) {
  const m = setupMachine(scenarioConfig({ host: { memory: hostMemory } }));
  const free = (): number => m.w[m.ctrl(CTRL.hostFramesFree)];
  return { m, free, total: free() };
}

describe('host frame allocator', () => {
  it('carves a split block one aligned piece at a time and keeps the free count exact', () => {
    const { m, free, total } = machine('2G');
    expect(m.topOrder).toBe(2);
    const [f2M, f1G] = [m.orderFrames[1], m.orderFrames[2]];
    // The first 4K frame splits a 1G block, then its first 2M piece.
    expect(m.allocFramesLocked(0)).toBe(0);
    expect(m.uncarvedFrames(0)).toEqual({ from: 1, to: f2M });
    expect(m.uncarvedFrames(1)).toEqual({ from: f2M, to: f1G });
    expect(m.w[m.ctrl(CTRL.hostBump)]).toBe(f1G);
    // No piece went onto a free list: the rest is carved on demand.
    for (let o = 0; o < 3; o++) expect(m.w[m.ctrl(CTRL.hostFree0 + o)]).toBe(0);
    expect(m.allocFramesLocked(0)).toBe(1);
    expect(m.allocFramesLocked(1)).toBe(f2M);
    expect(m.allocFramesLocked(1)).toBe(2 * f2M);
    expect(free()).toBe(total - 2 - 2 * f2M);
    // A freed frame is reused before the carve goes on.
    m.freeFramesLocked(0, 0);
    expect(free()).toBe(total - 1 - 2 * f2M);
    expect(m.allocFramesLocked(0)).toBe(0);
    expect(m.allocFramesLocked(0)).toBe(2);
    // The 4K carve runs out at its 2M block's end, then the next 2M piece is split.
    for (let f = 3; f < f2M; f++) expect(m.allocFramesLocked(0)).toBe(f);
    expect(m.allocFramesLocked(0)).toBe(3 * f2M);
    expect(m.uncarvedFrames(0)).toEqual({ from: 3 * f2M + 1, to: 4 * f2M });
    expect(free()).toBe(total - 3 * f2M - 1);
  });

  it('hands out every frame exactly once before it reports the host exhausted', () => {
    const { m, free } = machine('64M');
    expect(m.topOrder).toBe(1);
    const seen = new Set<number>();
    for (let f = m.allocFramesLocked(0); f >= 0; f = m.allocFramesLocked(0)) {
      expect(seen.has(f)).toBe(false);
      seen.add(f);
    }
    expect(seen.size).toBe(m.L.hostFrames);
    expect(free()).toBe(0);
    expect(m.allocFramesLocked(1)).toBe(-1);
  });
});
