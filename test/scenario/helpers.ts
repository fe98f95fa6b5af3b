/**
 * The scenario test rig. Shared set-up for the single-threaded scenario tests of the nested fault
 * path, and the read-back helpers every scenario uses (inval-helpers.ts builds the invalidation
 * rig on the same base): a small machine
 * built from a YAML config (so every test goes through `parseConfig` and `setupMachine` like a
 * real run), one nested guest, and helpers to write L1's table for that guest directly, raise a
 * fault, and read back the three tables, the rmap and the violation ring.
 *
 * Addresses follow the project's vocabulary: `l2Pn` (n_gpa >> 12), `gpaPn` (L1 real, 4 KiB
 * units), `page` (an L1 base page), `hostPn` (host real, 4 KiB units).
 */
import { stringify } from 'yaml';
import { parseConfig } from '../../src/workload/config.js';
import type { ResolvedConfig } from '../../src/workload/types.js';
import { contextFor, setupMachine } from '../../src/engine/setup.js';
import type { Machine } from '../../src/memory/machine.js';
import { CTRL, VIOLATION, VIOLATION_WORDS } from '../../src/memory/records.js';
import { backingFrame, backingOrder } from '../../src/memory/host.js';
import type { HookPoint, HvContext } from '../../src/hv/context.js';
import { INVARIANTS } from '../../src/invariants/names.js';
import { GUEST, getNested, guestWord, l1PgdUnit, shadowPgdUnit, updatePtblCache } from '../../src/hv/guests.js';
import { L1_TABLE_PGD_UNIT } from '../../src/hv/radix.js';
import { nestedPageFault } from '../../src/hv/nested-fault.js';
import { FaultScratch } from '../../src/hv/scratch.js';
import { rmapEntries } from '../../src/hv/rmap.js';
import {
  BOOK3S_INTERRUPT_H_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_INST_STORAGE,
  DSISR_ISSTORE,
  DSISR_NOHPTE,
  VcpuRegs,
} from '../../src/hv/regs.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_PTE, PAGE_READ, PAGE_WRITE, PTE_NLB_MASK, makeDir, makeLeaf } from '../../src/mmu/pte.js';
import { LEVEL_PGD, levelForShift, pnAlign } from '../../src/mmu/geometry.js';
import { LeafRef, UNIT_WORDS, findLeaf } from '../../src/mmu/tree.js';
import { COUNTER, type CounterName } from '../../src/stats/counters.js';

/** L1's leaf for an ordinary, used L2 page: R/W/X with R and C already set. */
export const L1_RWX_RC = PAGE_READ | PAGE_WRITE | PAGE_EXEC | PAGE_ACCESSED | PAGE_DIRTY;

/**
 * The base config of every scenario: one vCPU, two nested guests of 64M, L1 256M (the top 16M a
 * read-only memslot) plus a 16M MMIO hole, host 512M backed with base pages, L1 mapping L2 with
 * base pages. Tests override single keys with `makeRig({ host: { backing: { 2M: 1, 4K: 0 } } })`.
 */
export const SCENARIO_CONFIG = {
  seed: 1,
  vcpus: 1,
  accesses: 1,
  guests: { count: 2, memory: '64M' },
  l1: { memory: '256M', readonly: '16M', mmio: '16M' },
  host: { memory: '512M' },
  workload: { workingSet: '64M' },
};

type Plain = { [k: string]: unknown };

function isPlain(x: unknown): x is Plain {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Deep merge of config objects (right wins; arrays replace). */
export function mergeConfig(a: Plain, b: Plain): Plain {
  const out: Plain = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlain(v) && isPlain(out[k]) ? mergeConfig(out[k] as Plain, v) : v;
  return out;
}

/** A resolved config: the scenario base with `over` merged in, through the real YAML parser. */
export function scenarioConfig(over: Plain = {}): ResolvedConfig {
  return parseConfig(stringify(mergeConfig(SCENARIO_CONFIG, over)), '<scenario>');
}

/** What every scenario rig has: the machine, vCPU 0's context and the guest L1 calls lpid 1. */
export interface BaseRig {
  readonly cfg: ResolvedConfig;
  readonly m: Machine;
  readonly w: Int32Array;
  /** vCPU 0's context (the fault path's). */
  readonly ctx: HvContext;
  /** Slot of the nested guest L1 calls lpid 1. */
  readonly slot: number;
}

export interface Rig extends BaseRig {
  /** A second context (the coordinator's worker block) for actors run inside hooks. */
  readonly actor: HvContext;
  /** What the fault path of `ctx` fills in (walk, lookups, instantiate). */
  readonly fs: FaultScratch;
  /** One-shot actions run at the fault path's named points (removed after they run). */
  readonly hooks: Partial<Record<HookPoint, () => void>>;
  /** Every hook point reached, in order. */
  readonly trace: HookPoint[];
}

/** Build a machine for `over` and create L1's nested guest 1 with its partition-table cache loaded. */
export function makeRig(over: Plain = {}): Rig {
  const cfg = scenarioConfig(over);
  const m = setupMachine(cfg);
  const hooks: Partial<Record<HookPoint, () => void>> = {};
  const trace: HookPoint[] = [];
  const ctx = contextFor(m, cfg, 0, 0, {
    hook: (p) => {
      trace.push(p);
      const f = hooks[p];
      if (f !== undefined) {
        delete hooks[p];
        f();
      }
    },
  });
  const actor = contextFor(m, cfg, -1, m.L.workers - 1);
  const slot = getNested(ctx, 1, true);
  ctx.tlbLock(slot);
  updatePtblCache(ctx, slot);
  ctx.tlbUnlock(slot);
  return { cfg, m, w: m.w, ctx, actor, fs: new FaultScratch(m), slot, hooks, trace };
}

// ---- L1's table for L2 (lives in L1 memory; L1 writes it, L0 only reads it) -------------------

/**
 * Write L1's leaf for `l2Pn` directly: a leaf of `shift` bytes mapping the aligned L2 block to
 * the aligned L1 block holding `gpaPn`, with `flags`. Builds missing directories (with the
 * geometry's NLS). No tlbie: tests that model a well-behaved L1 changing a valid entry must drop
 * the shadow leaf themselves. Returns the leaf's word index.
 */
export function l1Map(r: Rig, l2Pn: number, gpaPn: number, flags = L1_RWX_RC, shift = r.ctx.g.pageShift, slot = r.slot): number {
  const { m, w } = r;
  const g = r.ctx.g;
  const sp = m.l1Space;
  const level = levelForShift(g, shift);
  let entry = sp.word + l1PgdUnit(slot) * UNIT_WORDS + ((l2Pn >>> g.pnShift[3]) & ((1 << g.bits[3]) - 1));
  for (let lv = LEVEL_PGD; lv > level; lv--) {
    let e = Atomics.load(w, entry);
    if (e >= 0 || (e & PAGE_PTE) !== 0) {
      const unit = m.allocTableUnit(sp);
      if (unit < 0) throw new Error('L1 table space exhausted');
      e = makeDir(sp.basePn + unit, g.bits[lv - 1]);
      Atomics.store(w, entry, e);
    }
    entry = l1Entry(r, e, l2Pn, lv - 1);
  }
  Atomics.store(w, entry, makeLeaf(pnAlign(gpaPn, shift), flags));
  return entry;
}

/** Word index, in L1's table space, of the entry for `pn` at `level` below directory word `dir`. */
export function l1Entry(r: Rig, dir: number, pn: number, level: number): number {
  const g = r.ctx.g;
  const sp = r.m.l1Space;
  return sp.word + ((dir & PTE_NLB_MASK) - sp.basePn) * UNIT_WORDS + ((pn >>> g.pnShift[level]) & ((1 << g.bits[level]) - 1));
}

/** Word index of L1's PGD entry for `l2Pn`. */
export function l1PgdEntry(r: Rig, l2Pn: number, slot = r.slot): number {
  const g = r.ctx.g;
  return r.m.l1Space.word + l1PgdUnit(slot) * UNIT_WORDS + ((l2Pn >>> g.pnShift[3]) & ((1 << g.bits[3]) - 1));
}

/** L1's leaf value for `l2Pn` (0 when absent). */
export function l1LeafOf(r: BaseRig, l2Pn: number, slot = r.slot): number {
  const i = findLeaf(r.w, r.m.l1Space, l1PgdUnit(slot), l2Pn, r.ctx.g, new LeafRef());
  return i < 0 ? 0 : Atomics.load(r.w, i);
}

// ---- L0's tables: its table for L1, and the shadow table -------------------------------------

export interface LeafInfo {
  /** The stored word (0 when absent). */
  readonly value: number;
  /** Word index of the leaf, -1 when absent. */
  readonly word: number;
  readonly level: number;
  /** Page shift (bytes) of the leaf (of the level where the walk stopped when absent). */
  readonly shift: number;
}

function leafIn(r: BaseRig, pgdUnit: number, pn: number): LeafInfo {
  const ref = new LeafRef();
  const i = findLeaf(r.w, r.m.hostSpace, pgdUnit, pn, r.ctx.g, ref);
  return { value: i < 0 ? 0 : Atomics.load(r.w, i), word: i, level: ref.level, shift: ref.shift };
}

/** The shadow leaf covering `l2Pn` of guest `slot`. */
export function shadowOf(r: BaseRig, l2Pn: number, slot = r.slot): LeafInfo {
  return leafIn(r, shadowPgdUnit(slot), l2Pn);
}

/** L0's leaf for L1 covering L1 4 KiB page number `gpaPn` (the "L1 table"). */
export function hostLeafOf(r: BaseRig, gpaPn: number): LeafInfo {
  return leafIn(r, L1_TABLE_PGD_UNIT, gpaPn);
}

/** L0's leaf for L1 covering L1 base page `page` (`hostLeafOf` in base pages). */
export function hostLeafOfPage(r: BaseRig, page: number): LeafInfo {
  return hostLeafOf(r, page * r.m.L.basePn);
}

/** Host page number (4 KiB units) of the frame currently backing L1 page `page`, -1 when none. */
export function backingHostPn(r: BaseRig, page: number): number {
  const b = Atomics.load(r.w, r.m.L.backingWord + page);
  return b === 0 ? -1 : r.m.frameToHostPn(backingFrame(b));
}

/** Backing order of L1 page `page` (0 base, 1 = 2M, 2 = 1G), -1 when not backed. */
export function backingOrderOf(r: BaseRig, page: number): number {
  const b = Atomics.load(r.w, r.m.L.backingWord + page);
  return b === 0 ? -1 : backingOrder(b);
}

/** The rmap of L1 page `page` as [lpid, l2Pn] pairs. */
export function rmapOf(r: BaseRig, page: number): Array<[number, number]> {
  return rmapEntries(r.ctx, page);
}

/** The shadow lpid of guest `slot`. */
export function shadowLpidOf(r: BaseRig, slot = r.slot): number {
  return r.w[guestWord(r.ctx, slot, GUEST.shadowLpid)];
}

// ---- faults ------------------------------------------------------------------------------------

export interface FaultOptions {
  store?: boolean;
  /** An instruction fetch: HISI (0xE20), flags in SRR1 as well. */
  fetch?: boolean;
  /** The hardware DSISR; default NOHPTE (| ISSTORE for a store). */
  dsisr?: number;
  /** Byte offset within the page for DAR/ASDR. */
  offset?: number;
  /** HSRR1's MSR part for a fetch: the lower and the upper 32 bits. */
  srr1Msr?: number;
  srr1MsrHi?: number;
}

export interface FaultResult {
  /** The handler's return: RESUME_GUEST, RESUME_HOST or a negative errno. */
  readonly ret: number;
  readonly v: VcpuRegs;
}

/** A fresh register set for a fault of guest `slot` at `l2Pn`, as the exit handler builds it. */
export function faultRegs(r: Rig, l2Pn: number, o: FaultOptions = {}, slot = r.slot): VcpuRegs {
  const v = new VcpuRegs();
  v.slot = slot;
  v.generation = r.w[guestWord(r.ctx, slot, GUEST.generation)];
  const ea = l2Pn * 4096 + (o.offset ?? 0);
  v.faultDar = ea;
  v.faultGpa = ea;
  v.faultDsisr = o.dsisr ?? (DSISR_NOHPTE | (o.store ? DSISR_ISSTORE : 0));
  v.trap = o.fetch ? BOOK3S_INTERRUPT_H_INST_STORAGE : BOOK3S_INTERRUPT_H_DATA_STORAGE;
  v.srr1 = o.fetch ? (o.srr1Msr ?? 0) | v.faultDsisr : 0;
  v.srr1Hi = o.fetch ? (o.srr1MsrHi ?? 0) : 0;
  return v;
}

/** Raise one nested fault (kvmhv_nested_page_fault, with tlb_lock) and return its outcome. */
export function fault(r: Rig, l2Pn: number, o: FaultOptions = {}, slot = r.slot): FaultResult {
  const v = faultRegs(r, l2Pn, o, slot);
  const ret = nestedPageFault(r.ctx, v, r.fs);
  return { ret, v };
}

// ---- counters and the violation ring -------------------------------------------------------

export function counter(r: Rig, name: CounterName, ctx: HvContext = r.ctx): number {
  return ctx.counters[ctx.counterBase + COUNTER[name]];
}

export interface ViolationRecord {
  readonly invariant: string;
  readonly vcpu: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
}

/** The online violation records so far. */
export function violations(r: Rig): ViolationRecord[] {
  const n = Atomics.load(r.w, r.m.ctrl(CTRL.violationCount));
  const out: ViolationRecord[] = [];
  for (let k = 0; k < n; k++) {
    const at = r.m.L.violationsWord + k * VIOLATION_WORDS;
    const w = r.w;
    const f = (k: keyof typeof VIOLATION): number => w[at + VIOLATION[k]];
    out.push({ invariant: INVARIANTS[f('invariant')], vcpu: f('vcpu'), a: f('lpid'), b: f('pn'), c: f('value0'), d: f('value1'), e: f('value2') });
  }
  return out;
}

/** L1 page (base pages) of a 4 KiB page number. */
export function pageOf(r: BaseRig, pn: number): number {
  return Math.floor(pn / r.m.L.basePn);
}

/** An L2 page the default placement puts in L1's data window (not read-only, not MMIO). */
export function dataL2Pn(r: Rig, k = 0): number {
  return (r.m.L.l2RoPages + 8 + k) * r.m.L.basePn;
}

/** L1 data page `k` from 16 MiB (4 KiB units; 2M aligned for k = 0), well inside the main memslot. */
export function dataGpaPn(r: Rig, k = 0): number {
  return 0x1000 + k * r.m.L.basePn;
}

/** Word index of the entry for `pn` at `level` of guest `slot`'s shadow table, -1 if a level above is not a directory. */
export function shadowEntryWord(r: BaseRig, pn: number, level: number, slot = r.slot): number {
  const g = r.ctx.g;
  const sp = r.m.hostSpace;
  let table = sp.word + shadowPgdUnit(slot) * UNIT_WORDS;
  for (let lv = LEVEL_PGD; ; lv--) {
    const i = table + ((pn >>> g.pnShift[lv]) & ((1 << g.bits[lv]) - 1));
    if (lv === level) return i;
    const e = Atomics.load(r.w, i);
    if (e >= 0 || (e & PAGE_PTE) !== 0) return -1;
    table = sp.word + ((e & PTE_NLB_MASK) - sp.basePn) * UNIT_WORDS;
  }
}

/** Units on the host table space's free list. */
export function freeHostTableUnits(r: BaseRig): number {
  const sp = r.m.hostSpace;
  let n = 0;
  for (let u = r.w[sp.freeCtrl]; u !== 0; u = r.w[sp.nextWord + u - 1]) n++;
  return n;
}
