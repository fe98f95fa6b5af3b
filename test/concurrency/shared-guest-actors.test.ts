/**
 * Real worker threads (piscina, the built dist/workers/vcpu.js) racing on one SharedArrayBuffer:
 * several vCPUs share ONE nested guest (so their faults serialise on its tlb_lock and race every
 * invalidation path), with every L1 and host actor running and stop-the-world audits on. The
 * protocol is `fixed` (windows P1-P5 closed), so the run must end with no invariant violated and
 * no lost write. Assertions are on counts and invariants only, never on timing: each expected
 * event happens in every interleaving (actors are scheduled by work done, not by time).
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { join } from 'node:path';
import { applyOverrides, loadConfig, parseConfig } from '../../src/workload/config.js';
import { packageRoot } from '../../src/util/paths.js';
import { runSimulation } from '../../src/engine/run.js';
import type { RunDocument } from '../../src/stats/document.js';

type Plain = { [k: string]: unknown };

/** Every actor on, rates in events per 1,000 accesses of each vCPU. */
const ALL_ACTORS = {
  l1: { unmap: 2, protect: 2, clean: 2, rangeFlush: 0.5, lpidFlush: 0.1 },
  host: { migrate: 2, swap: 1, age: 2, harvest: 0.2, memslotFlush: 0.1 },
};

/** One nested guest, small working set, every fault kind reachable, fixed protocol. */
const SHARED_GUEST = {
  seed: 11,
  vcpus: 3,
  accesses: 20000,
  protocol: 'fixed',
  guests: { count: 1, memory: '16M' },
  l1: { memory: '128M', readonly: '8M', mmio: '4M', dirtyLog: true, pageSizes: { '4K': 3, '2M': 1 } },
  host: { memory: '256M' },
  workload: { pattern: 'uniform', writeRatio: 0.4, execRatio: 0.05, mmioRatio: 0.002, workingSet: '4M' },
  actors: ALL_ACTORS,
  audit: { perMillion: 50 },
};

function config(over: Plain): ReturnType<typeof parseConfig> {
  return parseConfig(stringify(over), '<concurrency>');
}

/** The checks every clean run must pass. */
function expectClean(doc: RunDocument): void {
  expect(doc.violations).toEqual([]);
  expect(doc.checks.violations).toBe(0);
  expect(doc.checks.byInvariant).toEqual({});
  expect(doc.checks.lostWrites).toBe(0);
  expect(doc.counts.faults.error).toBe(0);
}

function expectActorsRan(doc: RunDocument): void {
  const a = doc.actors;
  expect(a.l1Unmaps).toBeGreaterThan(0);
  expect(a.l1Protects).toBeGreaterThan(0);
  expect(a.l1Cleans).toBeGreaterThan(0);
  expect(a.l1RangeFlushes).toBeGreaterThan(0);
  expect(a.l1LpidFlushes).toBeGreaterThan(0);
  expect(a.migrations).toBeGreaterThan(0);
  expect(a.swapOuts).toBeGreaterThan(0);
  expect(a.ages).toBeGreaterThan(0);
  expect(a.memslotFlushes).toBeGreaterThan(0);
  const inv = doc.invalidations;
  expect(inv.tlbiePage).toBeGreaterThan(0);
  expect(inv.tlbieLpid).toBeGreaterThan(0);
  expect(inv.rptRange).toBeGreaterThan(0);
  expect(inv.hostNotifier).toBeGreaterThanOrEqual(a.migrations + a.swapOuts);
  expect(inv.shadowPtesRemoved).toBeGreaterThan(0);
  expect(inv.rmapEntriesWalked).toBeGreaterThan(0);
  expect(inv.tlbFlushes).toBeGreaterThan(0);
}

describe('vCPUs sharing one nested guest, every actor on (protocol fixed)', () => {
  it('3 vCPUs, 4K host backing, dirty logging -> all accesses done, every fault kind seen, no violation, no lost write', async () => {
    const cfg = config(SHARED_GUEST);
    const { doc, exitCode } = await runSimulation(cfg);

    expectClean(doc);
    expect(exitCode).toBe(0);
    expect(doc.counts.accesses).toBe(3 * 20000);
    expect(doc.perVcpu.map((v) => v.accesses)).toEqual([20000, 20000, 20000]);
    expect(doc.counts.faultsTotal).toBeGreaterThan(0);
    const f = doc.counts.faults;
    // Every branch this config reaches in any interleaving (retried needs a race: not asserted).
    expect(f.shadowInsert).toBeGreaterThan(0); // L1-table leaf present, shadow rebuilt
    expect(f.hostInstantiate).toBeGreaterThan(0); // L0 maps the L1 page first
    expect(f.reflected).toBeGreaterThan(0); // L1 table lacks the page
    expect(f.rcFixed).toBeGreaterThan(0); // age / harvest cleared R/C, L1 has them
    expect(f.rcReflected).toBeGreaterThan(0); // store after a load: L1 lacks C
    expect(f.mmio).toBeGreaterThan(0); // L1 MMIO hole
    expect(f.dsi).toBeGreaterThan(0); // store into L1's read-only memslot
    expect(f.inval).toBeGreaterThan(0); // protection fault on a shadow leaf L1 downgraded
    expect(doc.counts.l1Handled).toBeGreaterThan(0);
    expect(doc.counts.writesCompleted).toBeGreaterThan(0);
    expectActorsRan(doc);
    expect(doc.actors.harvests).toBeGreaterThan(0);
    expect(doc.actors.harvestDirtyPages).toBeGreaterThan(0);
    expect(doc.checks.audits).toBeGreaterThan(1); // periodic stop-the-world audits + the final one
    expect(doc.locks.tlbLock.acquisitions).toBeGreaterThanOrEqual(doc.counts.faultsTotal);
  });

  it('2 vCPUs, 2M host backing and 2M L1 pages (huge shadow leaves, aligned-gfn rmap), no dirty logging -> no violation, no lost write', async () => {
    const cfg = config({
      ...SHARED_GUEST,
      seed: 12,
      vcpus: 2,
      l1: { memory: '128M', readonly: '8M', mmio: '4M', pageSizes: { '4K': 1, '2M': 1 } },
      host: { memory: '256M', backing: { '4K': 1, '2M': 1 } },
      actors: { ...ALL_ACTORS, host: { ...ALL_ACTORS.host, harvest: 0 } },
    });
    const { doc, exitCode } = await runSimulation(cfg);

    expectClean(doc);
    expect(exitCode).toBe(0);
    expect(doc.counts.accesses).toBe(2 * 20000);
    const f = doc.counts.faults;
    expect(f.shadowInsert + f.hostInstantiate).toBeGreaterThan(0);
    expect(f.reflected).toBeGreaterThan(0);
    expect(f.rcFixed).toBeGreaterThan(0);
    expect(f.rcReflected).toBeGreaterThan(0);
    expectActorsRan(doc);
  });

  it('4 vCPUs, L1 invalidations only (tlbie by address, range, LPID) -> no violation; every vCPU faults', async () => {
    const cfg = config({
      ...SHARED_GUEST,
      seed: 13,
      vcpus: 4,
      l1: { memory: '128M', pageSizes: { '4K': 3, '2M': 1 } },
      workload: { pattern: 'zipf', theta: 0.8, writeRatio: 0.4, workingSet: '4M' },
      actors: { l1: { unmap: 5, protect: 5, clean: 5, rangeFlush: 1, lpidFlush: 0.2 } },
    });
    const { doc, exitCode } = await runSimulation(cfg);

    expectClean(doc);
    expect(exitCode).toBe(0);
    expect(doc.counts.accesses).toBe(4 * 20000);
    for (const v of doc.perVcpu) expect(v.faults).toBeGreaterThan(0);
    expect(doc.invalidations.tlbiePage).toBeGreaterThan(0);
    expect(doc.invalidations.rptRange).toBeGreaterThan(0);
    expect(doc.invalidations.tlbieLpid).toBeGreaterThan(0);
    expect(doc.invalidations.shadowPtesRemoved).toBeGreaterThan(0);
    expect(doc.invalidations.hostNotifier).toBe(0);
    expect(doc.counts.faults.inval).toBeGreaterThan(0);
    expect(doc.counts.faults.shadowInsert).toBeGreaterThan(0);
  });
});

describe('more vCPUs than cores', () => {
  it('6 vCPUs in one nested guest with every actor on -> every vCPU finishes (no deadlock), no violation', async () => {
    // Dirty logging off: the harvest still runs (and takes slots_lock) but reports nothing, so
    // this test is about progress with sleeping waiters, not about dirty-log completeness.
    const cfg = config({
      ...SHARED_GUEST,
      seed: 14,
      vcpus: 6,
      accesses: 5000,
      l1: { ...SHARED_GUEST.l1, dirtyLog: false },
    });
    const { doc, exitCode } = await runSimulation(cfg);

    expectClean(doc);
    expect(exitCode).toBe(0);
    expect(doc.perVcpu.map((v) => v.accesses)).toEqual([5000, 5000, 5000, 5000, 5000, 5000]);
    expect(doc.counts.accesses).toBe(6 * 5000);
    expect(doc.counts.faultsTotal).toBeGreaterThan(0);
    expect(doc.invalidations.shadowPtesRemoved).toBeGreaterThan(0);
    expect(doc.checks.audits).toBeGreaterThan(1);
  });
});

describe('the shipped default workload under the fixed protocol', () => {
  // Two guests, 2M host blocks and 2M L1 leaves, swap and migration: a swap-in that published a
  // huge block's pages one by one let another vCPU store into a page whose write count was then
  // overwritten by the restore (a lost write, I5), in about one run of three of this length.
  it('configs/default.yaml, protocol fixed, 2 vCPUs x 400,000 accesses -> no violation, no lost write', async () => {
    const cfg = applyOverrides(loadConfig(join(packageRoot(), 'configs', 'default.yaml')), { protocol: 'fixed', accesses: '400000' }, 'test');
    const { doc, exitCode } = await runSimulation(cfg);
    expectClean(doc);
    expect(exitCode).toBe(0);
    expect(doc.counts.accesses).toBe(2 * 400000);
    expect(doc.actors.swapOuts).toBeGreaterThan(0);
    expect(doc.actors.swapIns).toBeGreaterThan(0);
  });
});

describe('start-up progress', () => {
  it('reports vCPU threads ready of all while they start, never going back, ending with all ready', async () => {
    // Two worker threads: a run this small on one thread would run on the coordinator's, no thread to wait for.
    const cfg = config({ ...SHARED_GUEST, vcpus: 4, threads: 2, accesses: 200, actors: {}, audit: { perMillion: 0 } });
    const calls: Array<[number, number, number]> = [];
    const { doc } = await runSimulation(cfg, { progressMs: 1, onStartup: (ready, total, ms) => calls.push([ready, total, ms]) });
    expect(doc.counts.accesses).toBe(4 * 200);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.at(-1)!.slice(0, 2)).toEqual([4, 4]);
    for (let i = 0; i < calls.length; i++) {
      expect(calls[i][1]).toBe(4);
      expect(calls[i][0]).toBeLessThanOrEqual(4);
      if (i > 0) {
        expect(calls[i][0]).toBeGreaterThanOrEqual(calls[i - 1][0]);
        expect(calls[i][2]).toBeGreaterThanOrEqual(calls[i - 1][2]);
      }
    }
  });
});
