/**
 * Modeled POWER9 time (cost/model.ts, docs/cost-model.md). Every assertion is on modeled values
 * or their ratios, never on wall time: the figures must describe the modeled machine, whatever
 * the host (2 busy cores here) does.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/workload/config.js';
import { runSimulation } from '../../src/engine/run.js';
import { createMachine } from '../../src/memory/machine.js';
import { contextFor } from '../../src/engine/setup.js';
import { COUNTER } from '../../src/stats/counters.js';
import { LOCK } from '../../src/memory/records.js';
import { COST_CATEGORIES, COST_ITEMS } from '../../src/cost/model.js';
import type { RunDocument } from '../../src/stats/document.js';
import { schemaProblems as validateDocument } from '../helpers/schema.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/cli.js';
import { renderTable } from '../../src/report/table.js';
import { renderRunHtml } from '../../src/report/html.js';

type Plain = { [k: string]: unknown };

/** fault-storm, as configs/fault-storm.yaml has it, sized for a test. */
const STORM = {
  seed: 1,
  accesses: 20000,
  protocol: 'mainline',
  guests: { count: 1, memory: '64M', vcpuMap: 'spread' },
  l1: { memory: '1G' },
  host: { memory: '2G' },
  workload: { pattern: 'sequential', writeRatio: 0, workingSet: '16M' },
  actors: { l1: { lpidFlush: 0.5 } },
};

/** Every actor on, so every costed event happens. */
const BUSY = {
  seed: 7,
  accesses: 20000,
  protocol: 'fixed',
  guests: { count: 1, memory: '16M' },
  l1: { memory: '128M', readonly: '8M', mmio: '4M', dirtyLog: true, pageSizes: { '4K': 3, '2M': 1 } },
  host: { memory: '256M' },
  workload: { pattern: 'uniform', writeRatio: 0.4, execRatio: 0.05, mmioRatio: 0.002, workingSet: '4M' },
  actors: {
    l1: { unmap: 2, protect: 2, clean: 2, rangeFlush: 0.5, lpidFlush: 0.1 },
    host: { migrate: 2, swap: 1, age: 2, harvest: 0.2, memslotFlush: 0.1 },
  },
};

async function run(over: Plain): Promise<RunDocument> {
  const { doc } = await runSimulation(parseConfig(stringify(over), '<modeled>'));
  return doc;
}

function modeled(doc: RunDocument): NonNullable<RunDocument['modeled']> {
  expect(doc.modeled).not.toBeNull();
  return doc.modeled!;
}

describe('modeled time: one vCPU is deterministic and fully accounted', () => {
  it('the same seeded 1-vCPU run gives identical modeled figures (they depend on events only)', async () => {
    const a = await run({ ...BUSY, vcpus: 1 });
    const b = await run({ ...BUSY, vcpus: 1 });
    expect(validateDocument(a)).toEqual([]);
    expect(a.actors.migrations).toBeGreaterThan(0);
    expect(modeled(a)).toEqual(modeled(b));
    expect(a.counts).toEqual(b.counts);
  });

  it('every modeled cycle of a lone vCPU is in exactly one category: the breakdown sums to its modeled time', async () => {
    const doc = await run({ ...BUSY, vcpus: 1 });
    const m = modeled(doc);
    const total = COST_CATEGORIES.reduce((s, c) => s + m.breakdown[c], 0);
    const cycles = m.durationNs * m.cpuGHz;
    expect(Math.abs(total - cycles) / cycles).toBeLessThan(1e-3);
    // Nothing waits alone.
    expect(m.lockWait.mmuLock.waitNs).toBe(0);
    expect(m.lockWait.tlbLock.waitNs).toBe(0);
    expect(m.skewCycles.waits).toBe(0);
    // Each category the run exercised was charged.
    for (const c of ['access', 'walk', 'exit', 'l1Walk', 'l0Walk', 'host', 'pte', 'rmap', 'tlbie', 'lock', 'l1', 'mmio', 'actors'] as const) {
      expect(m.breakdown[c], c).toBeGreaterThan(0);
    }
  });

  it('a cost is a key: doubling cost.exitCycles adds exactly one exit per fault to the modeled time', async () => {
    const base = await run({ ...STORM, vcpus: 1 });
    const exit = COST_ITEMS.find((c) => c.name === 'exitCycles')!.cycles;
    const more = await run({ ...STORM, vcpus: 1, cost: { exitCycles: 2 * exit } });
    const mb = modeled(base);
    const mm = modeled(more);
    expect(more.counts).toEqual(base.counts);
    // Exits: one per fault, one more per reflection (H_ENTER_NESTED back to L1 and in again).
    const exits = base.counts.faultsTotal;
    expect(mm.breakdown.exit - mb.breakdown.exit).toBe(exits * exit);
    expect(mm.breakdown.l1 - mb.breakdown.l1).toBe(base.counts.l1Handled * exit);
    expect(mm.latencyNs.shadowInsert!.p50).toBeGreaterThan(mb.latencyNs.shadowInsert!.p50);
  });

  it('every fault records its modeled latency; one fault in stageSample, by a fixed stride, its modeled stages', async () => {
    const a = await run({ ...STORM, vcpus: 1 });
    const m = modeled(a);
    expect(m.stageSample).toBe(8);
    // Every fault records its kind's modeled latency.
    const kinds = Object.entries(a.counts.faults).filter(([, n]) => n > 0);
    expect(kinds.length).toBeGreaterThan(1);
    for (const [k, n] of kinds) expect(m.latencyNs[k]!.count, k).toBe(n);
    // Every fault walks L1's table first: one in stageSample records that stage, by a fixed stride.
    expect(m.latencyNs.l1Walk!.count).toBe(Math.ceil(a.counts.faultsTotal / m.stageSample));
    expect(m.latencyNs.l0Lookup!.count).toBeGreaterThan(0);
    expect(m.latencyNs.l0Lookup!.count).toBeLessThan(m.latencyNs.l1Walk!.count);
  });

  it('the reports say how modeled stages were sampled, and a document from before 1.7.0 (every fault) renders as such', async () => {
    const doc = await run({ ...STORM, vcpus: 1, accesses: 2000 });
    expect(renderTable(doc, { color: false })).toContain('stages on 1 fault in 8');
    expect(renderRunHtml(doc)).toContain('one fault in 8 its stages');
    const old = { ...doc, modeled: { ...modeled(doc) } } as Plain;
    delete (old.modeled as Plain).stageSample;
    const oldDoc = old as unknown as RunDocument;
    expect(renderTable(oldDoc, { color: false })).toContain('stages on every fault');
    expect(renderRunHtml(oldDoc)).toContain('every fault its stages');
    expect(renderTable(oldDoc, { color: false })).not.toContain('undefined');
  });

  it('cost.model none: no modeled section, no clock charged', async () => {
    const doc = await run({ ...STORM, vcpus: 1, cost: { model: 'none' } });
    expect(doc.modeled).toBeNull();
    expect(validateDocument(doc)).toEqual([]);
  });
});

describe('modeled locks: queueing follows modeled time, not wall order', () => {
  /** `ctx` takes mmu_lock at modeled time `from` and releases it at `to`. */
  const hold = (ctx: ReturnType<typeof contextFor>, from: number, to: number): void => {
    ctx.cyc = from;
    ctx.mmuLock();
    ctx.cyc = to;
    ctx.mmuUnlock();
  };

  it('an arrival inside a hold waits for its end; an earlier arrival (an inversion) does not wait for a later hold', () => {
    const cfg = parseConfig(stringify({ vcpus: 3, guests: { count: 1 } }), '<locks>');
    const m = createMachine(cfg);
    const [a, b, c] = [0, 1, 2].map((v) => contextFor(m, cfg, v, v));
    hold(a, 1000, 2000);
    // b arrives at 1500, inside a's hold [1000, 2000]: it takes the lock at 2000.
    b.cyc = 1500;
    b.mmuLock();
    expect(b.counters[b.counterBase + COUNTER.mmuLockModeledWait]).toBe(500);
    b.cyc = 2500;
    b.mmuUnlock();
    // c arrives at 100: before a's and b's holds in modeled time, so no wait, but out of order.
    c.cyc = 100;
    c.mmuLock();
    expect(c.counters[c.counterBase + COUNTER.mmuLockModeledWait]).toBe(0);
    expect(c.counters[c.counterBase + COUNTER.lockInversions]).toBe(1);
    c.mmuUnlock();
    // a again at 1999: inside its own old hold, then b's: it queues to 2500 (the chain of holds).
    a.cyc = 1999;
    a.mmuLock();
    expect(a.counters[a.counterBase + COUNTER.mmuLockModeledWait]).toBe(501);
    a.mmuUnlock();
  });

  it('two holds never overlap in modeled time: a hold whose arrival fell in a gap too short for it moves past the next hold', () => {
    const cfg = parseConfig(stringify({ vcpus: 2, guests: { count: 1 } }), '<locks>');
    const m = createMachine(cfg);
    const [a, b] = [0, 1].map((v) => contextFor(m, cfg, v, v));
    const li = m.lockIndex(LOCK.mmu);
    // a holds [1000, 1100] and then [1300, 1400].
    hold(a, 1000, 1100);
    hold(a, 1300, 1400);
    // b arrives at 1100, in the gap: it takes the lock there, without a wait...
    b.cyc = 1100;
    b.mmuLock();
    expect(b.counters[b.counterBase + COUNTER.mmuLockModeledWait]).toBe(0);
    // ...but holds it 400 cycles, which [1100, 1500] cannot: its hold moves to [1400, 1800].
    b.cyc = 1500;
    b.mmuUnlock();
    expect(b.counters[b.counterBase + COUNTER.mmuLockModeledWait]).toBe(300);
    expect(b.cyc).toBe(1800);
    expect(b.m.f64[(li >>> 1) + 1]).toBe(1800); // the latest modeled release (hv/lock-time.ts)
    // A hold that fits its gap stays where it is.
    hold(a, 1810, 1900);
    expect(a.cyc).toBe(1900);
  });
});

describe('modeled locks: only where another vCPU can take them', () => {
  // The latest modeled release of the lock at word li (hv/lock-time.ts: Float64 1 of its line).
  const latestRelease = (ctx: ReturnType<typeof contextFor>, li: number): number => ctx.m.f64[(li >>> 1) + 1];

  for (const [what, over, shared] of [
    ['a lone vCPU', { vcpus: 1 }, false],
    ['one vCPU in each of 2 L1s', { vcpus: 2, l1: { count: 2 } }, false],
    ['2 vCPUs in one L1', { vcpus: 2 }, true],
  ] as const) {
    it(`${what}: the acquire is charged; holds are remembered ${shared ? 'for the other vCPU' : 'by no one (no one else can queue)'}`, () => {
      const cfg = parseConfig(stringify({ guests: { count: 1 }, ...over }), '<locks>');
      const m = createMachine(cfg);
      const a = contextFor(m, cfg, 0, 0);
      const li = m.lockIndex(LOCK.mmu);
      a.cyc = 1000;
      a.mmuLock();
      a.cyc = 2000;
      a.mmuUnlock();
      const lock = COST_ITEMS.find((c) => c.name === 'lockCycles')!.cycles;
      expect(a.counters[a.counterBase + COUNTER.mcLock]).toBe(lock);
      expect(a.counters[a.counterBase + COUNTER.mmuLockAcq]).toBe(1);
      expect(latestRelease(a, li)).toBe(shared ? 2000 : 0);
    });
  }
});

describe('modeled time: 8 vCPUs on 2 host cores still describe 8 POWER9 CPUs', () => {
  it('8 vCPUs in 8 nested guests fault at least 6x one vCPU per modeled second; in one guest its tlb_lock holds them back', async () => {
    const one = modeled(await run({ ...STORM, vcpus: 1 }));
    const spread = await run({ ...STORM, vcpus: 8, guests: { ...STORM.guests, count: 8 } });
    const shared = await run({ ...STORM, vcpus: 8 });
    // The same guest with its vCPUs over two threads (auto puts them on one).
    const split = await run({ ...STORM, vcpus: 8, threads: 2 });
    const ms = modeled(spread);
    const mh = modeled(shared);
    expect(validateDocument(spread)).toEqual([]);
    // Separate guests: only mmu_lock is shared, and its holds are short.
    expect(ms.faultsPerSec / one.faultsPerSec).toBeGreaterThanOrEqual(6);
    expect(ms.lockWait.mmuLock.share).toBeLessThan(0.05);
    // One guest: every fault takes its tlb_lock; the modeled queueing on it is what the vCPUs lose.
    expect(mh.lockWait.tlbLock.share).toBeGreaterThan(0.1);
    expect(mh.faultsPerSec).toBeLessThan(ms.faultsPerSec);
    for (const p of mh.perVcpu) expect(p.durationNs).toBeGreaterThan(0);
    // One thread ran the guest's vCPUs in modeled-time order: no one waited on the skew bound.
    expect(shared.run.threads).toBe(1);
    expect(mh.skewCycles.waits).toBe(0);
    // On two threads the bound held the clocks together (vCPUs slept rather than run ahead), and
    // the tlb_lock still held them back.
    expect(split.run.threads).toBe(2);
    expect(modeled(split).skewCycles.waits).toBeGreaterThan(0);
    expect(modeled(split).lockWait.tlbLock.share).toBeGreaterThan(0.1);
  }, 120_000);

  it('8 vCPUs in 8 L1s (l1.count: 8, a nested guest each): at least 6x one vCPU per modeled second, and no modeled wait for any mmu_lock', async () => {
    const one = modeled(await run({ ...STORM, vcpus: 1 }));
    const doc = await run({ ...STORM, vcpus: 8, l1: { ...STORM.l1, count: 8 } });
    const m = modeled(doc);
    expect(validateDocument(doc)).toEqual([]);
    expect(doc.perL1).toHaveLength(8);
    expect(m.faultsPerSec / one.faultsPerSec).toBeGreaterThanOrEqual(6);
    // Each mmu_lock and tlb_lock is one vCPU's alone: nothing queues in modeled time.
    expect(m.lockWait.mmuLock.waitNs).toBe(0);
    expect(m.lockWait.tlbLock.waitNs).toBe(0);
    // The skew bound holds within an L1, and each of these L1s has one vCPU: no one ever waits.
    expect(m.skewCycles.waits).toBe(0);
  }, 120_000);
});

describe('modeled time: the host does not show', () => {
  for (const [what, layout] of [
    ['8 nested guests', ['--set', 'guests.count=8']],
    ['8 L1s', ['--set', 'l1.count=8', '--set', 'guests.count=1']],
    // By default (threads: auto, a cost model on) one thread runs all eight in modeled-time order:
    // exact even where they share pages.
    ['one nested guest (one thread by default)', ['--set', 'guests.count=1']],
  ] as const) it(`8 vCPUs in ${what}, pinned to one host core and on all of them: modeled faults/s and percentiles agree`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'nestsim-pin-'));
    const args = [CLI, 'run', join(ROOT, 'configs', 'fault-storm.yaml'), '--vcpus', '8', ...layout, '--accesses', '5000', '--quiet'];
    const runOn = (pin: boolean, out: string): RunDocument => {
      const r = pin ? spawnSync('taskset', ['-c', '0', process.execPath, ...args, '--json', out], { encoding: 'utf8' }) : spawnSync(process.execPath, [...args, '--json', out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(readFileSync(out, 'utf8')) as RunDocument;
    };
    const pinned = modeled(runOn(true, join(dir, 'pinned.json')));
    const free = modeled(runOn(false, join(dir, 'free.json')));
    expect(Math.abs(pinned.faultsPerSec - free.faultsPerSec) / free.faultsPerSec).toBeLessThan(0.01);
    for (const kind of ['shadowInsert', 'hostInstantiate', 'reflected'] as const) {
      const a = pinned.latencyNs[kind]!;
      const b = free.latencyNs[kind]!;
      expect(a.count, kind).toBe(b.count);
      expect(Math.abs(a.p50 - b.p50) / b.p50, kind).toBeLessThan(0.05);
      expect(Math.abs(a.p99 - b.p99) / b.p99, kind).toBeLessThan(0.05);
    }
  }, 120_000);
});
