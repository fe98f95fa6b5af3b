/**
 * Shared set-up for the single-threaded scenario tests of the invalidation paths
 * (docs/model.md §5): a small machine built from a YAML config through `parseConfig` and
 * `setupMachine`, simulated vCPUs (`Cpu`) that populate the three tables end to end (one access of
 * an L2 page builds L1's table, L0's table for L1 and the shadow leaf, and fills the vCPU's TLB),
 * an actor context for L1's hcalls and the host's notifier, and read-back helpers for the tables,
 * the rmap, the TLBs, the counters and the violation ring.
 *
 * The rig extends helpers.ts's `BaseRig`: the table, rmap and host read-backs live there, once.
 *
 * Addresses follow the project's vocabulary: `l2Pn` (n_gpa >> 12), `gpaPn` (L1 real, 4 KiB
 * units), `page` (an L1 base page), `hostPn` (host real, 4 KiB units).
 */
import { stringify } from 'yaml';
import { parseConfig } from '../../src/workload/config.js';
import type { ResolvedConfig } from '../../src/workload/types.js';
import { mergeConfig, type BaseRig } from './helpers.js';
import { contextFor, setupMachine } from '../../src/engine/setup.js';
import { CTRL, L1CTRL, TLB_ENTRY_WORDS } from '../../src/memory/records.js';
import { backingFrame } from '../../src/memory/host.js';
import type { HvContext } from '../../src/hv/context.js';
import { INV, type InvariantName } from '../../src/invariants/names.js';
import { GUEST, findNestedLocked, guestWord, shadowPgdUnit } from '../../src/hv/guests.js';
import { L1Target, l1FindLeaf, l1Target } from '../../src/hv/l1-handler.js';
import { Cpu } from '../../src/hw/cpu.js';
import { ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE } from '../../src/hw/walker.js';
import { TLB_DATA, TLB_GEN, TLB_INVALID, TLB_LPID, TLB_TAG, tlbBase } from '../../src/hw/tlb.js';
import { PAGE_PTE, PTE_NLB_MASK, PTE_RPN_MASK, makeLeaf } from '../../src/mmu/pte.js';
import { pnAlign } from '../../src/mmu/geometry.js';
import { LeafRef } from '../../src/mmu/tree.js';
import { audit, forEachShadowLeaf, type AuditReport } from '../../src/check/audit.js';
import { COUNTER, COUNTER_COUNT, type CounterName } from '../../src/stats/counters.js';

/**
 * The base config of every invalidation scenario: two vCPUs (two TLBs), two nested guests of
 * 64M, L1 256M with no read-only slot and no MMIO hole (so every L2 page is data), host 512M
 * backed with base pages, L1 mapping L2 with base pages. Tests override single keys, e.g.
 * `makeInvalRig({ host: { backing: { 4K: 0, 2M: 1 } } })`.
 */
export const INVAL_CONFIG = {
  seed: 1,
  vcpus: 2,
  accesses: 1,
  guests: { count: 2, memory: '64M' },
  l1: { memory: '256M' },
  host: { memory: '512M' },
  workload: { workingSet: '64M' },
};

type Plain = { [k: string]: unknown };

export function invalConfig(over: Plain = {}): ResolvedConfig {
  return parseConfig(stringify(mergeConfig(INVAL_CONFIG, over)), '<inval-scenario>');
}

export interface InvalRig extends BaseRig {
  /** vCPU 0 running L1's nested guest lpid 1 (entered: it holds a reference). */
  readonly cpu: Cpu;
  /** The actor context (coordinator's worker block): L1's hcalls, the host's notifier. */
  readonly host: HvContext;
}

/** Build a machine for `over` and enter vCPU 0 into L1's nested guest 1 (parked: out of guest mode). */
export function makeInvalRig(over: Plain = {}): InvalRig {
  const cfg = invalConfig(over);
  const m = setupMachine(cfg);
  const ctx = contextFor(m, cfg, 0, 0);
  const host = contextFor(m, cfg, -1, m.L.workers - 1);
  const cpu = new Cpu(ctx, 1);
  if (!cpu.enter()) throw new Error('vCPU 0 could not enter guest 1');
  cpu.park();
  return { cfg, m, w: m.w, cpu, ctx, host, slot: cpu.regs.slot };
}

/** A further vCPU (index `vcpu` < cfg.vcpus) entered into L1's guest `l1Lpid`, parked. */
export function addCpu(r: InvalRig, vcpu: number, l1Lpid: number): Cpu {
  const ctx = contextFor(r.m, r.cfg, vcpu, vcpu);
  const cpu = new Cpu(ctx, l1Lpid);
  if (!cpu.enter()) throw new Error(`vCPU ${vcpu} could not enter guest ${l1Lpid}`);
  cpu.park();
  return cpu;
}

export const LOAD = ACCESS_LOAD;
export const STORE = ACCESS_STORE;
export const FETCH = ACCESS_FETCH;

/**
 * One L2 access by `cpu` (back in guest mode for the access, parked after it, so an invalidation
 * from another context never waits for this single-threaded vCPU). Returns whether it completed.
 */
export function touch(r: InvalRig, l2Pn: number, type = STORE, cpu = r.cpu): boolean {
  cpu.resume();
  const ok = cpu.access(l2Pn, type);
  cpu.park();
  return ok;
}

// ---- placement ------------------------------------------------------------------------------

/** L1 4 KiB page number where L1 (its fixed placement) puts L2 page `l2Pn` of guest `slot`. */
export function gpaPnOf(r: InvalRig, l2Pn: number, slot = r.slot): number {
  const t = new L1Target();
  l1Target(r.ctx, slot, l2Pn, t);
  return t.gpaPn;
}

/** L1 base page behind L2 page `l2Pn` of guest `slot`. */
export function l1PageOf(r: InvalRig, l2Pn: number, slot = r.slot): number {
  return Math.floor(gpaPnOf(r, l2Pn, slot) / r.m.L.basePn);
}

/**
 * L1 rewrites its leaf for `l2Pn` (any size) to point at L1 page number `gpaPn` with the same
 * flags, as L1 would when it moves or shares an L2 page. No tlbie here: the caller issues it.
 */
export function l1Repoint(r: InvalRig, l2Pn: number, gpaPn: number, slot = r.slot): void {
  const ref = new LeafRef();
  const i = l1FindLeaf(r.host, slot, l2Pn, ref);
  if (i < 0) throw new Error(`L1 has no leaf for l2Pn 0x${l2Pn.toString(16)}`);
  const old = Atomics.load(r.w, i);
  Atomics.store(r.w, i, makeLeaf(pnAlign(gpaPn, ref.shift), old & ~PTE_RPN_MASK));
}

// ---- tables -------------------------------------------------------------------------------------

/** Every present shadow leaf of guest `slot` as [l2Pn, shift, leaf]. */
export function shadowLeaves(r: InvalRig, slot = r.slot): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  forEachShadowLeaf(r.host, slot, (pn, shift, leaf) => out.push([pn, shift, leaf]));
  return out;
}

/** Non-zero words in guest `slot`'s shadow PGD. */
export function shadowPgdEntries(r: InvalRig, slot = r.slot): number {
  const at = r.m.hostSpace.word + shadowPgdUnit(slot) * 512;
  let n = 0;
  for (let k = 0; k < 1 << r.ctx.g.bits[3]; k++) if (r.w[at + k] !== 0) n++;
  return n;
}

// ---- host memory ------------------------------------------------------------------------------

/** Frame backing L1 page `page`, -1 when not backed (never touched, or swapped out). */
export function frameOf(r: InvalRig, page: number): number {
  const b = Atomics.load(r.w, r.m.L.backingWord + page);
  return b === 0 ? -1 : backingFrame(b);
}

export function frameWrites(r: InvalRig, frame: number): number {
  return Atomics.load(r.w, r.m.L.frameWritesWord + frame);
}

export function frameGen(r: InvalRig, frame: number): number {
  return Atomics.load(r.w, r.m.L.frameGenWord + frame);
}

/** Whether L1 page `page`'s bit is set in the dirty bitmap (set by unmaps of dirty leaves). */
export function dirtyBit(r: InvalRig, page: number): boolean {
  return (Atomics.load(r.w, r.m.L.dirtyWord + (page >>> 5)) & (1 << (page & 31))) !== 0;
}

// ---- rmap, guests, seq ----------------------------------------------------------------------------

export function guestField(r: InvalRig, field: keyof typeof GUEST, slot = r.slot): number {
  return Atomics.load(r.w, guestWord(r.host, slot, GUEST[field]));
}

/** The guest slot the IDR holds for L1 lpid `l1Lpid`, -1 when none. */
export function idrSlot(r: InvalRig, l1Lpid: number): number {
  return findNestedLocked(r.host, l1Lpid);
}

export function mmuSeq(r: InvalRig): number {
  return Atomics.load(r.w, r.m.l1ctrl(L1CTRL.mmuSeq));
}

export function mmuInProgress(r: InvalRig): number {
  return Atomics.load(r.w, r.m.l1ctrl(L1CTRL.mmuInProgress));
}

// ---- TLBs -----------------------------------------------------------------------------------------

/** vCPU `vcpu`'s TLB entry for `l2Pn` under hardware lpid `lpid`: its data word, or 0 when none. */
export function tlbEntry(r: InvalRig, vcpu: number, l2Pn: number, lpid: number): number {
  return tlbWord(r, vcpu, l2Pn, lpid, TLB_DATA);
}

/** The generation word of vCPU `vcpu`'s TLB entry for (lpid, l2Pn), 0 when it holds none. */
export function tlbGen(r: InvalRig, vcpu: number, l2Pn: number, lpid: number): number {
  return tlbWord(r, vcpu, l2Pn, lpid, TLB_GEN);
}

function tlbWord(r: InvalRig, vcpu: number, l2Pn: number, lpid: number, field: number): number {
  const L = r.m.L;
  const vpn = Math.floor(l2Pn / L.basePn);
  const set = tlbBase(r.m, vcpu) + (vpn & (L.tlbSets - 1)) * L.tlbWays * TLB_ENTRY_WORDS;
  for (let way = 0; way < L.tlbWays; way++) {
    const e = set + way * TLB_ENTRY_WORDS;
    const tag = Atomics.load(r.w, e + TLB_TAG);
    if (tag !== TLB_INVALID && tag === vpn && r.w[e + TLB_LPID] === lpid) return r.w[e + field];
  }
  return 0;
}

/** Valid entries of hardware lpid `lpid` in vCPU `vcpu`'s TLB. */
export function tlbEntriesOf(r: InvalRig, vcpu: number, lpid: number): number {
  const L = r.m.L;
  const base = tlbBase(r.m, vcpu);
  let n = 0;
  for (let k = 0; k < L.tlbSets * L.tlbWays; k++) {
    const e = base + k * TLB_ENTRY_WORDS;
    if (Atomics.load(r.w, e + TLB_TAG) !== TLB_INVALID && r.w[e + TLB_LPID] === lpid) n++;
  }
  return n;
}

// ---- counters, violations, audit -------------------------------------------------------------

/** Every worker's counter blocks summed. */
export function counters(r: InvalRig): Float64Array {
  const out = new Float64Array(COUNTER_COUNT);
  for (let wk = 0; wk < r.m.L.workers; wk++) {
    for (let c = 0; c < COUNTER_COUNT; c++) out[c] += r.m.f64[r.m.counterIndex(wk, c)];
  }
  return out;
}

/** How much counter `name` moved since `before` (a `counters(r)` snapshot). */
export function delta(r: InvalRig, before: Float64Array, name: CounterName): number {
  return counters(r)[COUNTER[name]] - before[COUNTER[name]];
}

/** Violations of `inv` recorded so far (the per-invariant tally in the control block). */
export function violationsOf(r: InvalRig, inv: InvariantName): number {
  return r.m.w[r.m.ctrl(CTRL.violationByInvariant + INV[inv])];
}

export function violationTotal(r: InvalRig): number {
  return Atomics.load(r.w, r.m.ctrl(CTRL.violationCount));
}

/** The stop-the-world auditor (docs/model.md §6.3) on the quiescent machine. */
export function runAudit(r: InvalRig): AuditReport {
  return audit(r.host, { writesCompleted: [counters(r)[COUNTER.writesCompleted]] });
}

/** Page-table units (below the PGD) guest `slot`'s shadow tree holds. */
export function shadowTableUnits(r: InvalRig, slot = r.slot): number {
  const g = r.ctx.g;
  const sp = r.m.hostSpace;
  const visit = (tableWord: number, level: number): number => {
    let n = 0;
    for (let k = 0; k < 1 << g.bits[level]; k++) {
      const e = Atomics.load(r.w, tableWord + k);
      if (e < 0 && (e & PAGE_PTE) === 0 && level > 0) n += 1 + visit(sp.word + ((e & PTE_NLB_MASK) - sp.basePn) * 512, level - 1);
    }
    return n;
  };
  return visit(sp.word + shadowPgdUnit(slot) * 512, 3);
}
