/**
 * The turnstile of controlled schedules (sync/turnstile.ts) on real worker threads, away from the
 * simulator: two threads taking two locks in opposite orders deadlock under some schedules and
 * not others, always the same way for the same seed, and the deadlock names where each thread
 * stopped; a thread polling for something no one will do is a livelock; a list of choices is
 * followed, and a point it does not expect is reported as a divergence. Needs the build (dist/).
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeScheduleBuffer, packChoice, POINTS, readScheduleResult, type ScheduleSpec } from '../../src/sync/schedule-layout.js';
import { PreemptionBoundedSearch } from '../../src/engine/explore.js';
import { Turnstile } from '../../src/sync/turnstile.js';
import { renderTimeline, scheduleSection } from '../../src/stats/schedule.js';
import { PAGE_DIRTY, PAGE_PRESENT, PAGE_PTE, PAGE_READ } from '../../src/mmu/pte.js';

const DIST = join(__dirname, '..', '..', 'dist', 'src', 'sync');
const url = (f: string): string => pathToFileURL(join(DIST, f)).href;

/**
 * Thread `me`: take lock `first`, pass a point, take lock `second`, release both. With
 * `poll`, thread 1 instead polls (yield points) for word 2 to become 1, which nobody sets.
 */
const SCRIPT = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  const t = await import(${JSON.stringify(url('turnstile.js'))});
  const lock = await import(${JSON.stringify(url('lock.js'))});
  const { sched, words, me, first, second, poll } = workerData;
  const w = new Int32Array(words);
  const ts = new t.Turnstile(sched, me, w);
  t.setCurrentTurnstile(ts);
  try {
    ts.begin();
    if (poll) {
      while (Atomics.load(w, 2) === 0) ts.yieldPoint();
    } else {
      lock.lockWord(w, first, 0);
      ts.point('before-commit');
      lock.lockWord(w, second, 0);
      w[3 + me] = 1;
      lock.unlockWord(w, second);
      lock.unlockWord(w, first);
    }
    ts.end();
    parentPort.postMessage('done');
  } catch (e) {
    parentPort.postMessage(e instanceof t.ScheduleAbandoned ? 'abandoned' : 'error: ' + e.message);
  } finally {
    t.setCurrentTurnstile(null);
  }
})();
`;

function spec(seed: number, extra: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return { strategy: 'random', seed, depth: 2, steps: 16, maxIdle: 1000, logCapacity: 4096, ...extra };
}

async function run(s: ScheduleSpec, poll = false): Promise<{ ends: string[]; result: ReturnType<typeof readScheduleResult> }> {
  const sched = makeScheduleBuffer(2, s);
  const words = new SharedArrayBuffer(64);
  const threads = [0, 1].map(
    (me) =>
      new Promise<string>((resolve, reject) => {
        const wk = new Worker(SCRIPT, { eval: true, workerData: { sched, words, me, first: me, second: 1 - me, poll: poll && me === 1 } });
        wk.once('message', (m: string) => {
          resolve(m);
          void wk.terminate();
        });
        wk.once('error', reject);
      }),
  );
  const ends = await Promise.all(threads);
  return { ends, result: readScheduleResult(sched) };
}

describe('turnstile', () => {
  it('two threads taking two locks in opposite orders: some seeds deadlock, each seed always the same way', async () => {
    const outcomes: string[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const a = await run(spec(seed));
      const b = await run(spec(seed));
      expect(b.result.outcome, `seed ${seed} replays its outcome`).toBe(a.result.outcome);
      expect(Array.from(b.result.choices), `seed ${seed} replays its choices`).toEqual(Array.from(a.result.choices));
      outcomes.push(a.result.outcome);
      if (a.result.outcome === 'deadlock') {
        expect(a.ends).toEqual(['abandoned', 'abandoned']);
        // Each holds one lock and waits for the other's.
        expect(a.result.lastPoints).toEqual(['lock-acquire', 'lock-acquire']);
      } else {
        expect(a.result.outcome).toBe('completed');
        expect(a.ends).toEqual(['done', 'done']);
      }
    }
    expect(outcomes).toContain('deadlock');
    expect(outcomes).toContain('completed');
  });

  it('a thread polling for what no thread will do is a livelock after maxIdle yield steps', async () => {
    const r = await run(spec(3, { maxIdle: 500 }), true);
    expect(r.result.outcome).toBe('livelock');
    expect(r.ends[1]).toBe('abandoned');
    expect(r.result.lastPoints[1]).toBe('yield');
  });

  it('follows a list of choices, and reports the first decision it could not follow', async () => {
    // Find a seed that completes, then replay its choices under another seed: same run.
    let base: Awaited<ReturnType<typeof run>> | undefined;
    for (let seed = 1; base === undefined; seed++) {
      const r = await run(spec(seed));
      if (r.result.outcome === 'completed') base = r;
    }
    const choices = base.result.choices;
    const again = await run(spec(999, { choices }));
    expect(again.result.diverged).toBeNull();
    expect(Array.from(again.result.choices)).toEqual(Array.from(choices));
    // A list whose third decision names a point the code does not reach there diverges at 2.
    const bent = choices.slice();
    const c = bent[2]!;
    bent[2] = packChoice((c >>> 8) & 0xff, POINTS.indexOf('tlbie'), c & 0xff);
    const off = await run(spec(999, { choices: bent }));
    expect(off.result.diverged?.decision).toBe(2);
    expect(off.result.diverged?.expected.point).toBe('tlbie');
  });

  it('PCT: the highest-priority thread runs until it blocks, so a run without change points switches only at blocks', async () => {
    const r = await run(spec(5, { strategy: 'pct', depth: 1 }));
    // Depth 1: no change point; one thread takes both locks first, then the other: no deadlock.
    expect(r.result.outcome).toBe('completed');
    expect(r.result.preemptions).toBe(0);
  });

  it('exhaustive: bound 0 (no preemption) never deadlocks; bound 1 finds the deadlock, and the search ends', async () => {
    const explore = async (bound: number): Promise<{ outcomes: string[]; schedules: number; exhausted: boolean }> => {
      const search = new PreemptionBoundedSearch(bound);
      const outcomes: string[] = [];
      for (let prefix = search.next(); prefix !== undefined && outcomes.length < 200; prefix = search.next()) {
        const r = await run(spec(1, { strategy: 'exhaustive', choices: prefix }));
        expect(r.result.diverged, 'a prefix replays exactly').toBeNull();
        outcomes.push(r.result.outcome);
        search.expand(prefix.length, r.result.choices, r.result.candidates);
      }
      return { outcomes, schedules: search.schedules, exhausted: search.exhausted };
    };
    const none = await explore(0);
    expect(none.exhausted).toBe(true);
    expect(none.outcomes).not.toContain('deadlock');
    const one = await explore(1);
    expect(one.exhausted).toBe(true);
    expect(one.schedules).toBeGreaterThan(none.schedules);
    expect(one.outcomes).toContain('deadlock');
    expect(one.outcomes).toContain('completed');
  });
});

describe('the timeline shows a PTE update as its word before and after', () => {
  it('pte-update and hw-rc-update steps carry the PTE as 64-bit ISA values; values for another point are dropped', () => {
    const sched = makeScheduleBuffer(1, spec(1));
    const t = new Turnstile(sched, 0, new Int32Array(new SharedArrayBuffer(16)));
    const leaf = PAGE_PRESENT | PAGE_PTE | PAGE_READ;
    t.begin();
    t.point('hw-rc-update');
    t.pteValues('hw-rc-update', leaf, leaf | PAGE_DIRTY);
    t.point('lock-acquire');
    // Not the point it names: nothing is recorded on the lock step.
    t.pteValues('pte-update', leaf, 0);
    t.point('pte-update');
    t.pteValues('pte-update', leaf | PAGE_DIRTY, 0);
    t.end();
    const r = readScheduleResult(sched);
    const steps = r.trail.filter((e) => e.point !== 'start' && e.point !== 'end');
    expect(steps.map((e) => [e.point, e.pte])).toEqual([
      ['hw-rc-update', { old: leaf, new: leaf | PAGE_DIRTY }],
      ['lock-acquire', null],
      ['pte-update', { old: leaf | PAGE_DIRTY, new: 0 }],
    ]);
    const section = scheduleSection(r, { strategy: 'random', seed: 1, depth: 2, steps: 16, vcpus: 1, argv: [], config: 'x', first: null });
    const details = section.timeline.filter((e) => e.point !== 'start' && e.point !== 'end').map((e) => e.detail);
    // Valid, present, readable leaf: bit 63 (V), bit 62 (leaf), R; then C (bit 7) set; then cleared.
    expect(details[0]).toMatch(/^0xc0000000000000[0-9a-f]{2} -> 0xc0000000000000[0-9a-f]{2}$/);
    const [before, after] = details[0]!.split(' -> ').map((h) => BigInt(h));
    expect(after! ^ before!).toBe(0x80n);
    expect(details[1]).toBeUndefined();
    expect(details[2]).toMatch(/ -> 0x0000000000000000$/);
    // The terminal timeline keeps the column narrow and prints the values after the row.
    const text = renderTimeline(section, 1);
    expect(text).toMatch(/^\s+\d+\s+pte-update\s+0x[0-9a-f]{16} -> 0x0{16}$/m);
  });
});
