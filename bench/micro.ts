/**
 * Micro-benchmarks (tinybench), one thread, no workers: the hot path's pieces and each kind of
 * nested fault end to end through L0's handler. Each task runs a batch of BATCH operations per
 * iteration (state is reset outside the timed window by `beforeEach`); figures are ns per op.
 */
import { Bench } from 'tinybench';
import { parseConfig } from '../src/workload/config.js';
import { setupMachine, contextFor } from '../src/engine/setup.js';
import { Cpu } from '../src/hw/cpu.js';
import { ACCESS_LOAD, ACCESS_STORE } from '../src/hw/walker.js';
import { GUEST, freePgtableRadix, guestWord, shadowPgdUnit } from '../src/hv/guests.js';
import { nestedPageFault } from '../src/hv/nested-fault.js';
import { L1Target, l1FindLeaf, l1HandleNestedFault } from '../src/hv/l1-handler.js';
import { radixFlushMemslot } from '../src/hv/notifier.js';
import { emulatePrivTlbie, tlbieArgs } from '../src/hv/tlbie.js';
import { freeAllRmapLocked, insertNestRmapLocked } from '../src/hv/rmap.js';
import { DSISR_ISSTORE, DSISR_NOHPTE, DSISR_SET_RC, VcpuRegs } from '../src/hv/regs.js';
import { FAULT_KIND_NAMES } from '../src/stats/kinds.js';
import { SLOT_MAIN } from '../src/memory/machine.js';
import { LeafRef, findLeaf, pteUpdate } from '../src/mmu/tree.js';
import { PAGE_DIRTY, isLeaf, pteRpn, makeLeaf, PAGE_READ } from '../src/mmu/pte.js';
import { Histogram } from '../src/stats/histogram.js';

export const BATCH = 1024;

export interface MicroResult {
  name: string;
  nsPerOp: number;
  rmePct: number;
  samples: number;
}

const CONFIG = `
vcpus: 1
guests: { count: 1, memory: 64M }
l1: { memory: 1G }
host: { memory: 2G }
workload: { workingSet: 16M }
`;

export async function runMicro(timeMs = 300): Promise<MicroResult[]> {
  const cfg = parseConfig(CONFIG, 'bench');
  const m = setupMachine(cfg);
  const ctx = contextFor(m, cfg, 0, 0);
  const cpu = new Cpu(ctx, 1);
  cpu.enter();
  // The fault benchmarks call the handler directly: time no stages (the vCPU samples them).
  const noStages = (): void => {
    ctx.sampleStages = false;
  };
  const slot = cpu.regs.slot;
  const basePn = m.L.basePn;
  const firstPage = 256; // clear of L1's read-only and MMIO pages
  const pn = (i: number): number => (firstPage + i) * basePn;
  // Populate L1's table, L0's table and the shadow table for BATCH pages (stores: L1 C set).
  for (let i = 0; i < BATCH; i++) cpu.access(pn(i), ACCESS_STORE);
  const v = new VcpuRegs();
  v.slot = slot;
  v.generation = m.w[guestWord(ctx, slot, GUEST.generation)];
  const fault = (i: number, dsisr: number): number => {
    v.faultGpa = pn(i) * 4096;
    v.faultDar = v.faultGpa;
    v.faultDsisr = dsisr;
    return nestedPageFault(ctx, v, cpu.scratch);
  };
  const refill = (): void => {
    for (let i = 0; i < BATCH; i++) cpu.access(pn(i), ACCESS_STORE);
  };
  const ref = new LeafRef();
  const target = new L1Target();
  const words = new Int32Array(BATCH).map((_, i) => makeLeaf(i, PAGE_READ));
  const cas = new Int32Array(new SharedArrayBuffer(4));
  const hist = new Histogram();
  const bench = new Bench({ time: timeMs, warmupTime: 50 });
  let sink = 0;

  bench.add('PTE decode (isLeaf + RPN)', () => {
    for (let i = 0; i < BATCH; i++) if (isLeaf(words[i])) sink += pteRpn(words[i]);
  });
  bench.add('PTE update (CAS set/clear)', () => {
    for (let i = 0; i < BATCH; i++) pteUpdate(cas, 0, i & 1 ? PAGE_DIRTY : 0, i & 1 ? 0 : PAGE_DIRTY);
  });
  bench.add('TLB hit (load access)', () => {
    for (let i = 0; i < BATCH; i++) cpu.access(pn(i & 7), ACCESS_LOAD);
  }, { beforeAll: () => { refill(); } });
  bench.add('TLB hit (store access: I5/I2/I3 checks, write count)', () => {
    for (let i = 0; i < BATCH; i++) cpu.access(pn(i & 7), ACCESS_STORE);
  }, { beforeAll: () => { refill(); } });
  // 64 pages filling all 16 sets x 4 ways, visited in a scrambled order: the matching way is
  // unpredictable, as in a uniform workload.
  const scrambled = new Int32Array(BATCH).map((_, i) => pn((i * 37) & 63));
  bench.add('TLB hit (load access, 64 pages in scrambled order)', () => {
    for (let i = 0; i < BATCH; i++) cpu.access(scrambled[i], ACCESS_LOAD);
  }, { beforeAll: () => { refill(); } });
  bench.add('shadow walk hit (findLeaf)', () => {
    for (let i = 0; i < BATCH; i++) sink += findLeaf(m.w, m.hostSpace, shadowPgdUnit(slot), pn(i), ctx.g, ref);
  }, { beforeAll: () => { refill(); } });
  bench.add('counter increment (shared float64 block)', () => {
    for (let i = 0; i < BATCH; i++) ctx.count(0);
  });
  bench.add('fault: shadow insert', () => {
    for (let i = 0; i < BATCH; i++) fault(i, DSISR_NOHPTE);
  }, { beforeEach: () => { noStages(); ctx.mmuLock(); freePgtableRadix(ctx, slot); ctx.mmuUnlock(); } });
  bench.add('fault: host instantiate', () => {
    for (let i = 0; i < BATCH; i++) fault(i, DSISR_NOHPTE);
  }, { beforeEach: () => { noStages(); radixFlushMemslot(ctx, SLOT_MAIN); ctx.mmuLock(); freePgtableRadix(ctx, slot); ctx.mmuUnlock(); } });
  bench.add('fault: RC fixed (SET_RC store)', () => {
    for (let i = 0; i < BATCH; i++) fault(i, DSISR_SET_RC | DSISR_ISSTORE);
  }, {
    beforeEach: () => {
      refill();
      noStages();
      for (let i = 0; i < BATCH; i++) {
        const k = findLeaf(m.w, m.hostSpace, shadowPgdUnit(slot), pn(i), ctx.g, ref);
        if (k >= 0) pteUpdate(m.w, k, PAGE_DIRTY, 0);
      }
    },
  });
  bench.add('fault: reflected + L1 handler', () => {
    for (let i = 0; i < BATCH; i++) {
      fault(i, DSISR_NOHPTE);
      l1HandleNestedFault(ctx, slot, pn(i), v.faultDsisr, target);
    }
  }, {
    beforeEach: () => {
      noStages();
      for (let i = 0; i < BATCH; i++) {
        const k = l1FindLeaf(ctx, slot, pn(i), ref);
        if (k >= 0) Atomics.store(m.w, k, 0);
      }
      ctx.mmuLock();
      freePgtableRadix(ctx, slot);
      ctx.mmuUnlock();
    },
  });
  bench.add('tlbie by address (IS=0, leaf present)', () => {
    for (let i = 0; i < BATCH; i++) {
      const [instr, rs, rb] = tlbieArgs(0, 0, 1, pn(i) * 4096, 12);
      emulatePrivTlbie(ctx, instr, rs, rb);
    }
  }, { beforeEach: () => { refill(); } });
  bench.add('rmap insert (new entry)', () => {
    ctx.mmuLock();
    for (let i = 0; i < BATCH; i++) insertNestRmapLocked(ctx, firstPage + i, 1, pn(i) + 1_000_000);
    ctx.mmuUnlock();
  }, { beforeEach: () => { ctx.mmuLock(); freeAllRmapLocked(ctx); ctx.mmuUnlock(); } });
  bench.add('rmap insert (duplicate: walk + dedup)', () => {
    ctx.mmuLock();
    for (let i = 0; i < BATCH; i++) insertNestRmapLocked(ctx, firstPage + i, 1, pn(i) + 1_000_000);
    ctx.mmuUnlock();
  });
  bench.add('mmu_lock uncontended (lock + unlock)', () => {
    for (let i = 0; i < BATCH; i++) {
      ctx.mmuLock();
      ctx.mmuUnlock();
    }
  });
  bench.add('tlb_lock uncontended (lock + unlock)', () => {
    for (let i = 0; i < BATCH; i++) {
      ctx.tlbLock(slot);
      ctx.tlbUnlock(slot);
    }
  });
  bench.add('histogram record', () => {
    for (let i = 0; i < BATCH; i++) hist.record(100 + i);
  });
  bench.add('timer call (performance.now)', () => {
    for (let i = 0; i < BATCH; i++) sink += performance.now();
  });
  bench.runSync();
  void sink;
  void FAULT_KIND_NAMES;
  return bench.tasks.map((t) => {
    const r = t.result as unknown as { latency?: { mean: number; rme: number; samplesCount?: number }; state?: string };
    const lat = r.latency;
    return {
      name: t.name,
      nsPerOp: lat ? (lat.mean * 1e6) / BATCH : NaN,
      rmePct: lat ? lat.rme : NaN,
      samples: lat?.samplesCount ?? 0,
    };
  });
}
