/**
 * Interleavings forced across REAL threads with shared-memory gates (piscina's style: monotonic
 * handshake words waited on with Atomics.wait, never sleeps). The nested fault runs on this
 * thread; at its named point 'after-l1-lookup' (L0's leaf for L1 copied, mmu_lock dropped, the
 * shadow leaf not yet committed) it opens a gate and blocks until an actor on a worker thread
 * (the built dist/ code attached to the same SharedArrayBuffer) has run to completion:
 *
 * - a host migration of the L1 page: the commit must see mmu_invalidate_seq moved and retry
 *   (docs/model.md §6.2); with mutation skip-mmu-seq-check (M1) a stale leaf to the retired
 *   frame is installed and the auditor flags I1;
 * - a dirty-log harvest of the L1 page (window P5, §7): as written the fault installs a dirty
 *   shadow leaf over a clean L0 leaf (I3 broken, the page's next stores are never logged); with
 *   `fixes: [p5]` the harvest bumps the seq and the fault retries.
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { contextFor, setupMachine } from '../../src/engine/setup.js';
import type { Machine } from '../../src/memory/machine.js';
import type { HookPoint, HvContext } from '../../src/hv/context.js';
import { GUEST, getNested, guestWord, updatePtblCache } from '../../src/hv/guests.js';
import { L1Target, l1MapPage } from '../../src/hv/l1-handler.js';
import { nestedPageFault } from '../../src/hv/nested-fault.js';
import { emulatePrivTlbie, tlbieArgs } from '../../src/hv/tlbie.js';
import { BOOK3S_INTERRUPT_H_DATA_STORAGE, DSISR_ISSTORE, DSISR_NOHPTE, DSISR_SET_RC, VcpuRegs } from '../../src/hv/regs.js';
import { FAULT_KIND } from '../../src/stats/kinds.js';
import { RESUME_GUEST } from '../../src/hv/outcome.js';
import { FaultScratch } from '../../src/hv/scratch.js';
import { PAGE_DIRTY, pteRpn } from '../../src/mmu/pte.js';
import type { ResolvedConfig } from '../../src/workload/types.js';
import { packageRoot, vcpuWorkerFile } from '../../src/util/paths.js';
import { invalConfig } from '../scenario/inval-helpers.js';
import { audit } from '../../src/check/audit.js';
import { CTRL, L1CTRL } from '../../src/memory/records.js';
import { INV } from '../../src/invariants/names.js';
import { TAINT_P5, WINDOW } from '../../src/invariants/windows.js';
import { rmapEntries } from '../../src/hv/rmap.js';
import { backingFrame } from '../../src/memory/host.js';
import { L1_TABLE_PGD_UNIT } from '../../src/hv/radix.js';
import { LeafRef, findLeaf } from '../../src/mmu/tree.js';
import { shadowPgdUnit } from '../../src/hv/guests.js';

/** Gate words (a separate small SharedArrayBuffer). */
const GO = 0; // 0 -> 1: the fault reached its point, the actor may run
const DONE = 1; // 0 -> 1: the actor finished
const RESULT = 2; // the actor's return value
/** Generous bound on any single wait, so a broken handshake fails instead of hanging. */
const WAIT_MS = 60_000;

/**
 * The actor thread: attaches to the machine through the BUILT modules (as the vCPU workers do),
 * waits at the gate, runs one host action, reports. CommonJS eval code with dynamic imports.
 */
const ACTOR_SOURCE = `
const { workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const { join } = require('node:path');
const mod = (p) => import(pathToFileURL(join(workerData.root, 'dist', 'src', p)).href);
(async () => {
  const { attachMachine } = await mod('memory/machine.js');
  const { contextFor } = await mod('engine/setup.js');
  const notifier = await mod('hv/notifier.js');
  const m = attachMachine(workerData.sab, workerData.layout);
  const ctx = contextFor(m, workerData.cfg, -1, m.L.workers - 1);
  const gate = new Int32Array(workerData.gate);
  Atomics.wait(gate, ${GO}, 0, ${WAIT_MS});
  let r = -1;
  if (workerData.action === 'migrate') r = notifier.hostMigrate(ctx, workerData.page) ? 1 : 0;
  else if (workerData.action === 'test-clear-dirty') r = notifier.radixTestClearDirty(ctx, workerData.page);
  Atomics.store(gate, ${RESULT}, r);
  Atomics.store(gate, ${DONE}, 1);
  Atomics.notify(gate, ${DONE});
})();
`;

interface Rig {
  cfg: ResolvedConfig;
  m: Machine;
  ctx: HvContext;
  /** What vCPU 0's faults fill in. */
  fs: FaultScratch;
  slot: number;
  /** The hook point that opens the gate (once), or undefined. */
  armed: HookPoint | undefined;
  gate: Int32Array;
}

function makeRig(over: Record<string, unknown> = {}): Rig {
  const cfg = invalConfig(over);
  const m = setupMachine(cfg);
  const gate = new Int32Array(new SharedArrayBuffer(16));
  const r = { cfg, m, gate, armed: undefined } as unknown as Rig;
  r.ctx = contextFor(m, cfg, 0, 0, {
    hook: (p) => {
      if (p !== r.armed) return;
      r.armed = undefined;
      Atomics.store(gate, GO, 1);
      Atomics.notify(gate, GO);
      expect(Atomics.wait(gate, DONE, 0, WAIT_MS)).not.toBe('timed-out');
    },
  });
  r.fs = new FaultScratch(m);
  r.slot = getNested(r.ctx, 1, true);
  r.ctx.tlbLock(r.slot);
  updatePtblCache(r.ctx, r.slot);
  r.ctx.tlbUnlock(r.slot);
  return r;
}

/** Start the actor thread for `action` on L1 page `page`; resolves when it has exited. */
function startActor(r: Rig, action: string, page: number): Promise<number> {
  vcpuWorkerFile(); // throws unless dist/ is built (npm test builds it)
  const worker = new Worker(ACTOR_SOURCE, {
    eval: true,
    workerData: { root: packageRoot(), sab: r.m.sab, layout: r.m.L, cfg: r.cfg, gate: r.gate.buffer, action, page },
  });
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', resolve);
  });
}

/** One store fault of L2 page `l2Pn` (kvmhv_nested_page_fault, with tlb_lock). */
function storeFault(r: Rig, l2Pn: number, dsisr = DSISR_NOHPTE): VcpuRegs {
  const v = new VcpuRegs();
  v.slot = r.slot;
  v.generation = r.m.w[guestWord(r.ctx, r.slot, GUEST.generation)];
  v.faultDar = v.faultGpa = l2Pn * 4096;
  v.faultDsisr = dsisr | DSISR_ISSTORE;
  v.trap = BOOK3S_INTERRUPT_H_DATA_STORAGE;
  expect(nestedPageFault(r.ctx, v, r.fs)).toBe(RESUME_GUEST);
  return v;
}

function leafValue(r: Rig, pgdUnit: number, pn: number): number {
  const i = findLeaf(r.m.w, r.m.hostSpace, pgdUnit, pn, r.ctx.g, new LeafRef());
  return i < 0 ? 0 : Atomics.load(r.m.w, i);
}

const shadowLeaf = (r: Rig, l2Pn: number): number => leafValue(r, shadowPgdUnit(r.slot), l2Pn);
const hostLeaf = (r: Rig, page: number): number => leafValue(r, L1_TABLE_PGD_UNIT, page * r.m.L.basePn);
const seq = (r: Rig): number => Atomics.load(r.m.w, r.m.l1ctrl(L1CTRL.mmuSeq));
const frameHostPn = (r: Rig, page: number): number => r.m.frameToHostPn(backingFrame(Atomics.load(r.m.w, r.m.L.backingWord + page)));
const violationsOf = (r: Rig, inv: keyof typeof INV): number => r.m.w[r.m.ctrl(CTRL.violationByInvariant + INV[inv])];
const runAudit = (r: Rig): void => void audit(r.ctx, { writesCompleted: [0] });

const A = 0x600;

/**
 * L1 maps A, a first store fault builds L0's leaf and the shadow leaf, then L1's tlbie drops the
 * shadow leaf: the next fault finds L0's leaf present and goes straight to the shadow insert.
 */
function prepare(r: Rig): number {
  const t = new L1Target();
  expect(l1MapPage(r.ctx, r.slot, A, true, t)).toBe(true);
  expect(storeFault(r, A).kind).toBe(FAULT_KIND.hostInstantiate);
  const [instr, rs, rb] = tlbieArgs(0, 0, 1, A * 4096, 12);
  expect(emulatePrivTlbie(r.ctx, instr, rs, rb)).toBe(0);
  expect(shadowLeaf(r, A)).toBe(0);
  return Math.floor(t.gpaPn / r.m.L.basePn);
}

describe('forced interleaving: host migration between the L1-table lookup and the shadow commit', () => {
  it('migration on another thread after the lookup -> the commit sees the seq moved: RETRY, nothing installed; the next fault maps the new frame', async () => {
    const r = makeRig();
    const page = prepare(r);
    const oldPn = frameHostPn(r, page);
    const seq0 = seq(r);
    const actor = startActor(r, 'migrate', page);
    r.armed = 'after-l1-lookup';

    const v = storeFault(r, A);

    await actor;
    expect(Atomics.load(r.gate, RESULT)).toBe(1);
    expect(v.kind).toBe(FAULT_KIND.retried);
    expect(seq(r)).toBe(seq0 + 1);
    expect(shadowLeaf(r, A)).toBe(0);
    expect(rmapEntries(r.ctx, page)).toEqual([]);
    const newPn = frameHostPn(r, page);
    expect(newPn).not.toBe(oldPn);

    expect(storeFault(r, A).kind).toBe(FAULT_KIND.hostInstantiate);
    expect(pteRpn(shadowLeaf(r, A))).toBe(newPn);
    runAudit(r);
    expect(Atomics.load(r.m.w, r.m.ctrl(CTRL.violationCount))).toBe(0);
  });

  it('same interleaving with mutation skip-mmu-seq-check (M1) -> a shadow leaf to the retired frame is installed; the auditor flags I1', async () => {
    const r = makeRig({ mutations: ['skip-mmu-seq-check'] });
    const page = prepare(r);
    const oldPn = frameHostPn(r, page);
    const actor = startActor(r, 'migrate', page);
    r.armed = 'after-l1-lookup';

    const v = storeFault(r, A);

    await actor;
    expect(v.kind).toBe(FAULT_KIND.shadowInsert);
    expect(pteRpn(shadowLeaf(r, A))).toBe(oldPn);
    expect(hostLeaf(r, page)).toBe(0);
    runAudit(r);
    expect(violationsOf(r, 'I1-no-stale-shadow')).toBeGreaterThan(0);
  });
});

describe('forced interleaving: dirty-log harvest between the L1-table lookup and the shadow commit (window P5)', () => {
  it('as written: the harvest clears D with no shadow leaf to clean, the fault then installs a dirty shadow leaf over a clean L0 leaf -> I3 broken, the page is never reported again', async () => {
    const r = makeRig({ l1: { dirtyLog: true } });
    const page = prepare(r);
    expect(hostLeaf(r, page) & PAGE_DIRTY).not.toBe(0);
    const seq0 = seq(r);
    const actor = startActor(r, 'test-clear-dirty', page);
    r.armed = 'after-l1-lookup';

    const v = storeFault(r, A);

    await actor;
    expect(Atomics.load(r.gate, RESULT)).toBe(1); // the harvest reported (and cleaned) the page
    expect(v.kind).toBe(FAULT_KIND.shadowInsert);
    expect(seq(r)).toBe(seq0);
    expect(shadowLeaf(r, A) & PAGE_DIRTY).not.toBe(0);
    expect(hostLeaf(r, page) & PAGE_DIRTY).toBe(0);
    runAudit(r);
    expect(violationsOf(r, 'I3-dirty-chain')).toBe(1);
  });

  it("as written, P5's own path tags it: the fault that committed over the harvest taints the page, and the audit's I3 counts as window P5", async () => {
    const r = makeRig({ l1: { dirtyLog: true } });
    const page = prepare(r);
    const actor = startActor(r, 'test-clear-dirty', page);
    r.armed = 'after-l1-lookup';
    storeFault(r, A);
    await actor;
    expect(r.m.w[r.m.L.windowTaintWord + page] & TAINT_P5).toBe(TAINT_P5);
    runAudit(r);
    expect(violationsOf(r, 'I3-dirty-chain')).toBe(1);
    expect(r.m.w[r.m.ctrl(CTRL.violationByWindow + WINDOW.P5)]).toBe(1);
  });

  it('fixes [p5]: the harvest bumps the seq -> the fault retries; the rebuilt shadow leaf is clean, so the next store must set D in both', async () => {
    const r = makeRig({ l1: { dirtyLog: true }, fixes: ['p5'] });
    const page = prepare(r);
    const seq0 = seq(r);
    const actor = startActor(r, 'test-clear-dirty', page);
    r.armed = 'after-l1-lookup';

    const v = storeFault(r, A);

    await actor;
    expect(Atomics.load(r.gate, RESULT)).toBe(1);
    expect(v.kind).toBe(FAULT_KIND.retried);
    expect(seq(r)).toBe(seq0 + 1);
    expect(shadowLeaf(r, A)).toBe(0);

    expect(storeFault(r, A).kind).toBe(FAULT_KIND.shadowInsert);
    expect(shadowLeaf(r, A) & PAGE_DIRTY).toBe(0);
    expect(hostLeaf(r, page) & PAGE_DIRTY).toBe(0);
    // The store then takes an R/C fault: L0 sets D in its leaf for L1 and in the shadow leaf.
    expect(storeFault(r, A, DSISR_SET_RC).kind).toBe(FAULT_KIND.rcFixed);
    expect(shadowLeaf(r, A) & PAGE_DIRTY).not.toBe(0);
    expect(hostLeaf(r, page) & PAGE_DIRTY).not.toBe(0);
    runAudit(r);
    expect(Atomics.load(r.m.w, r.m.ctrl(CTRL.violationCount))).toBe(0);
  });
});
