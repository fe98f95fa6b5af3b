/**
 * Several vCPUs on one worker thread (`threads`, engine/vcpu-thread.ts): the thread switches
 * between them at access boundaries, in modeled-time order under a cost model and in turn
 * without one. Asserted on counts, invariants and modeled values only: every vCPU runs all its
 * accesses, audits and every actor (guest destruction above all, whose re-entry waits for the
 * other vCPUs of the guest, some of them on the same thread) run without deadlock and find
 * nothing, and a run of one thread is exactly repeatable in modeled time.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../src/workload/config.js';
import { runSimulation } from '../../src/engine/run.js';
import { makePool, threadsFor } from '../../src/engine/pool.js';
import { HERE_MAX_ACCESSES, paceMates, placeVcpus, runsHere, vcpusOfThread } from '../../src/engine/vcpu-map.js';
import { muxQuantum } from '../../src/engine/vcpu-thread.js';
import type { RunDocument } from '../../src/stats/document.js';
import { schemaProblems } from '../helpers/schema.js';
import { EVERY_ACTOR } from '../helpers/busy.js';
import { renderTable } from '../../src/report/table.js';
import { renderRunHtml } from '../../src/report/html.js';

/** Four vCPUs in two shared nested guests, every actor on (destroy too), audits often, protocol fixed. */
const BUSY = {
  ...EVERY_ACTOR,
  seed: 11,
  accesses: 12000,
  actors: { ...EVERY_ACTOR.actors, l1: { ...EVERY_ACTOR.actors.l1, destroy: 0.3 } },
  audit: { perMillion: 100 },
};

/** fault-storm in small: sequential reads over 16M while L1 flushes its guest's LPID now and then. */
const STORM = {
  accesses: 8000,
  l1: { memory: '1G' },
  workload: { pattern: 'sequential', writeRatio: 0, workingSet: '16M' },
  actors: { l1: { lpidFlush: 0.5 } },
};

async function run(over: Record<string, unknown>): Promise<RunDocument> {
  const { doc, exitCode } = await runSimulation(parseConfig(stringify(over), '<threads>'));
  expect(doc.violations).toEqual([]);
  expect(exitCode).toBe(0);
  return doc;
}

function expectClean(doc: RunDocument, vcpus: number, accesses: number): void {
  expect(schemaProblems(doc)).toEqual([]);
  expect(doc.checks.violations).toBe(0);
  expect(doc.checks.lostWrites).toBe(0);
  // Every vCPU ran to its end.
  expect(doc.perVcpu.map((p) => p.accesses)).toEqual(new Array(vcpus).fill(accesses));
}

describe('several vCPUs on one thread (threads)', () => {
  it('which vCPUs a thread runs: v mod threads; auto is one per processor for run, one per vCPU for stress and controlled runs', () => {
    const cfg = (over: Record<string, unknown>) => parseConfig(stringify({ vcpus: 16, ...over }), '<t>');
    const seven = placeVcpus(parseConfig(stringify({ vcpus: 7, threads: 3 }), '<t>'));
    expect(vcpusOfThread(seven, 0)).toEqual([0, 3, 6]);
    expect(vcpusOfThread(seven, 2)).toEqual([2, 5]);
    expect(threadsFor(cfg({ threads: 3 }))).toBe(3);
    expect(threadsFor(cfg({}), true)).toBe(16);
    expect(threadsFor(cfg({ schedule: { strategy: 'pct' }, accesses: 10 }))).toBe(16);
    expect(threadsFor(cfg({ cost: { model: 'none' } }))).toBe(Math.min(16, availableParallelism()));
    expect(() => cfg({ threads: 17 })).toThrow(ConfigError);
    expect(() => cfg({ threads: 17 })).toThrow(/threads.*at most vcpus \(16\)/s);
  });

  it('auto under a cost model: the vCPUs of one nested guest share a thread (of one L1 under host actors), the groups go round-robin over at most one thread per processor', () => {
    const cores = availableParallelism();
    const cfg = (over: Record<string, unknown>) => parseConfig(stringify({ vcpus: 8, ...over }), '<t>');
    // One guest: one thread, whatever the host.
    const one = placeVcpus(cfg({ guests: { count: 1 } }));
    expect(one.threads).toBe(1);
    expect(vcpusOfThread(one, 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Two guests of one L1: spread puts vCPU v in guest v mod 2, packed the first four in guest 0.
    const spread = placeVcpus(cfg({ guests: { count: 2, vcpuMap: 'spread' } }));
    expect(spread.threads).toBe(Math.min(2, cores));
    for (let v = 0; v < 8; v++) expect(spread.threadOf[v]).toBe(spread.threadOf[v % 2]);
    const packed = placeVcpus(cfg({ guests: { count: 2, vcpuMap: 'packed' } }));
    for (let v = 0; v < 8; v++) expect(packed.threadOf[v]).toBe(packed.threadOf[v < 4 ? 0 : 4]);
    // The vCPUs a vCPU keeps modeled pace with: the others of its guest.
    expect(paceMates(cfg({ guests: { count: 2, vcpuMap: 'spread' } }), 2)).toEqual([0, 4, 6]);
    expect(paceMates(cfg({ guests: { count: 8 } }), 3)).toEqual([]);
    // With the host's actors working on L1 memory, which every guest of the L1 maps: the whole L1,
    // on one thread, as a unit.
    const hosted = cfg({ guests: { count: 8 }, actors: { host: { migrate: 1 } } });
    expect(placeVcpus(hosted).threads).toBe(1);
    expect(paceMates(hosted, 3)).toEqual([0, 1, 2, 4, 5, 6, 7]);
    const hosted2 = cfg({ guests: { count: 4 }, l1: { count: 2 }, actors: { host: { age: 5 } } });
    expect(placeVcpus(hosted2).threads).toBe(Math.min(2, cores));
    expect(paceMates(hosted2, 2)).toEqual([0, 4, 6]);
    // Two L1s (vCPU v in L1 v mod 2), one guest each: each L1's vCPUs together.
    const two = placeVcpus(cfg({ guests: { count: 1 }, l1: { count: 2 } }));
    expect(two.threads).toBe(Math.min(2, cores));
    for (let v = 0; v < 8; v++) expect(two.threadOf[v]).toBe(two.threadOf[v % 2]);
    // A guest per vCPU (one L1 or eight): at most one thread per processor, the guests round-robin over them.
    for (const over of [{ guests: { count: 8 } }, { l1: { count: 8 } }]) {
      const eight = placeVcpus(cfg(over));
      expect(eight.threads).toBe(Math.min(8, cores));
      expect(eight.threadOf).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((v) => v % eight.threads));
    }
    // Not under cost.model none, nor when threads is set, nor for stress or a controlled schedule.
    expect(placeVcpus(cfg({ guests: { count: 1 }, cost: { model: 'none' } })).threads).toBe(Math.min(8, cores));
    expect(placeVcpus(cfg({ guests: { count: 1 }, threads: 2 })).threadOf).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(placeVcpus(cfg({ guests: { count: 1 } }), true).threads).toBe(8);
  });

  it('one L1 with a nested guest per vCPU, default threads: a thread per guest up to the processors, whole turns, no skew wait, mmu_lock charged but not queued, and the run repeats', async () => {
    const storm = { ...STORM, seed: 9, vcpus: 4, guests: { count: 4, memory: '64M' } };
    const a = await run(storm);
    const b = await run(storm);
    expectClean(a, 4, 8000);
    expect(a.run.threads).toBe(Math.min(4, availableParallelism()));
    // The guests' clocks run free of each other: nothing to wait for.
    expect(a.modeled!.skewCycles.waits).toBe(0);
    expect(a.modeled!.skewCycles.observedMax).toBe(0);
    // mmu_lock between guests: its cost charged, no modeled queueing (docs/cost-model.md).
    expect(a.modeled!.lockWait.mmuLock.waitNs).toBe(0);
    expect(a.modeled!.breakdown.lock).toBeGreaterThan(0);
    // The same events; modeled time the same but for the lax order of L1's flushes of another guest.
    expect(a.counts).toEqual(b.counts);
    expect(Math.abs(a.modeled!.faultsPerSec / b.modeled!.faultsPerSec - 1)).toBeLessThan(1e-4);
  }, 120_000);

  for (const model of ['power9', 'none'] as const) {
    it(`4 vCPUs on 1 thread and on 2, every actor on (cost.model ${model}): every access runs, audits and guest destruction do not deadlock, clean`, async () => {
      for (const threads of [1, 2]) {
        const doc = await run({ ...BUSY, threads, cost: { model } });
        expectClean(doc, 4, BUSY.accesses);
        expect(doc.actors.l1Destroys, `threads ${threads}`).toBeGreaterThan(0);
        expect(doc.checks.audits, `threads ${threads}`).toBeGreaterThan(0);
        // The document says how many threads ran them, and the reports say so when fewer than vCPUs.
        expect(doc.run.threads).toBe(threads);
        const on = threads === 1 ? 'on 1 thread' : `on ${threads} threads`;
        expect(renderTable(doc, { color: false }).split('\n')[0]).toContain(`vcpus 4 (${on})`);
        expect(renderRunHtml(doc)).toContain(`4 vCPUs ${on}`);
      }
    }, 120_000);
  }

  it('one thread keeps its vCPUs in modeled-time order: no skew wait, and the same seeded run gives identical modeled figures', async () => {
    const storm = { ...STORM, seed: 3, vcpus: 4, threads: 1, guests: { count: 1, memory: '64M' } };
    const a = await run(storm);
    const b = await run(storm);
    expectClean(a, 4, 8000);
    expect(a.modeled).not.toBeNull();
    // The skew bound looks only at other threads' vCPUs: there are none.
    expect(a.modeled!.skewCycles.waits).toBe(0);
    // The vCPUs of one guest queue on its tlb_lock in modeled time.
    expect(a.modeled!.lockWait.tlbLock.share).toBeGreaterThan(0.05);
    expect(a.modeled).toEqual(b.modeled);
    expect(a.counts).toEqual(b.counts);
  }, 120_000);

  it('vCPUs of different L1s take whole turns (no lock with a modeled wait between them): one thread gives the modeled figures of a thread each', async () => {
    // A thread switches at every fault only where two of its vCPUs share a nested guest, or one is paced by another thread.
    expect(muxQuantum(10_000, ['0/0', '1/0', '2/0', '3/0'], false)).toBe(Infinity);
    expect(muxQuantum(10_000, ['0/0', '0/1', '0/2'], false)).toBe(Infinity);
    expect(muxQuantum(10_000, ['0/0', '1/0', '0/0'], false)).toBe(5_000);
    expect(muxQuantum(10_000, ['0/0', '1/0'], true)).toBe(5_000);
    expect(muxQuantum(0, ['2/1', '2/1'], false)).toBe(5_000);
    const storm = { ...STORM, seed: 5, vcpus: 8, accesses: 6000, warmup: 0, guests: { count: 8, memory: '64M' }, l1: { count: 8, memory: '1G' }, host: { memory: '2G' } };
    const one = await run({ ...storm, threads: 1 });
    const each = await run({ ...storm, threads: 8 });
    expectClean(one, 8, 6000);
    expectClean(each, 8, 6000);
    expect([one.run.threads, each.run.threads]).toEqual([1, 8]);
    expect(one.counts.faults).toEqual(each.counts.faults);
    expect(one.modeled!.latencyNs).toEqual(each.modeled!.latencyNs);
    expect(Math.abs(one.modeled!.faultsPerSec / each.modeled!.faultsPerSec - 1)).toBeLessThan(1e-4);
    expect(one.modeled!.lockWait.mmuLock.waitNs + one.modeled!.lockWait.tlbLock.waitNs).toBe(0);
  }, 120_000);

  it('a small run runs its vCPUs on the coordinator\'s thread, exactly as one worker would', async () => {
    const small = { ...STORM, seed: 4, vcpus: 2, accesses: 1500, guests: { count: 2, memory: '64M' } };
    const here = (over: Record<string, unknown>): boolean => runsHere(parseConfig(stringify({ ...small, ...over }), '<here>'));
    expect(here({})).toBe(true);
    expect(here({ threads: 1 })).toBe(true);
    expect(here({ accesses: HERE_MAX_ACCESSES / 2 })).toBe(true);
    // Not: more work, threads asked for, a run bounded by time, a timed warm-up, a controlled schedule.
    expect(here({ accesses: HERE_MAX_ACCESSES / 2 + 1 })).toBe(false);
    expect(here({ threads: 2 })).toBe(false);
    expect(here({ accesses: 0, duration: '50ms' })).toBe(false);
    expect(here({ warmup: '10ms' })).toBe(false);
    expect(here({ schedule: { strategy: 'pct' } })).toBe(false);
    const onHere = await run(small);
    const pool = makePool(1);
    try {
      const { doc: onWorker } = await runSimulation(parseConfig(stringify({ ...small, threads: 1 }), '<threads>'), { pool });
      expectClean(onHere, 2, 1500);
      expect([onHere.run.threads, onWorker.run.threads]).toEqual([1, 1]);
      expect(onHere.counts).toEqual(onWorker.counts);
      expect(onHere.modeled).toEqual(onWorker.modeled);
    } finally {
      await pool.destroy();
    }
  }, 120_000);
});
