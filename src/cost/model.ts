/**
 * The modeled-time cost model: what each event the simulator performs costs a POWER9 core, in
 * cycles. One table (`COST_ITEMS`) drives the `cost.*` config keys, their defaults, the
 * per-thread charge tables and docs/cost-model.md's rows; nothing about a cost is stated
 * anywhere else.
 *
 * Where a cost is charged: at the place the event happens (a TLB hit in the access path, a level
 * of a walk in the walker, a PTE update where the PTE is written, ...), onto the modeled clock of
 * the thread that performs it (`HvContext.cyc`). Events that already bump a counter are charged
 * through the counter (`COUNTER_CHARGES`): one table maps the counter to its cost, so the charge
 * cannot drift from the count.
 */
import { COUNTER, MC_BASE, type CounterName } from '../stats/counters.js';

/** Where modeled cycles go (the `modeled.breakdown` of a run). */
export const COST_CATEGORIES = ['access', 'walk', 'exit', 'l1Walk', 'l0Walk', 'host', 'pte', 'rmap', 'tlbie', 'lock', 'lockWait', 'l1', 'mmio', 'actors'] as const;
export type CostCategory = (typeof COST_CATEGORIES)[number];
/** What each category holds (the results schema's descriptions). */
export const COST_CATEGORY_DOCS: Readonly<Record<CostCategory, string>> = {
  access: 'the work per access, TLB hits included (accesses x cost.accessCycles)',
  walk: "the hardware's walks of the shadow table (and of L0's table for L1) on TLB misses",
  exit: 'guest exits and re-entries for faults (HDSI, HISI)',
  l1Walk: "L0's software walks of L1's table (reads of L1 memory)",
  l0Walk: "L0's software walks of its own tables",
  host: "instantiating L0's mappings of L1 pages (GUP)",
  pte: 'PTE writes, updates and clears',
  rmap: 'nested rmap inserts and walks',
  tlbie: 'tlbies and their broadcast completion',
  lock: 'uncontended lock acquires and releases',
  lockWait: 'modeled queueing on mmu_lock and the tlb_locks',
  l1: 'reflections: L1 entered and its handler run, H_ENTER_NESTED again',
  mmio: "MMIO emulated by L0's userspace",
  actors: "the actors' hcalls and host work (notifiers, migration copies, swap, aging, harvests)",
};
export const COST_CAT = Object.freeze(Object.fromEntries(COST_CATEGORIES.map((n, i) => [n, i])) as Record<CostCategory, number>);

export interface CostItem {
  /** Key under `cost.` and field of `ResolvedConfig['cost']`. */
  readonly name: string;
  readonly category: CostCategory;
  /** Default cycles. */
  readonly cycles: number;
  /** What is charged, once per what. */
  readonly doc: string;
  /** Where the default comes from; `estimate` marks a row no published POWER9 figure supports. */
  readonly source: string;
  readonly estimate: boolean;
}

/**
 * Every cost, in cycles of a core at `cost.cpuGHz`. The sources are named in docs/cost-model.md;
 * `estimate: true` rows are reasoned, not measured (the doc gives the reasoning and how the
 * headline figures move when each is halved or doubled).
 */
export const COST_ITEMS: readonly CostItem[] = [
  { name: 'accessCycles', category: 'access', cycles: 4, estimate: true, doc: 'the work a vCPU does per memory access, a TLB hit included (the instructions between two accesses)', source: 'estimate: about one memory operation in three instructions at about one instruction per cycle per SMT4 thread' },
  { name: 'walkLevelCycles', category: 'walk', cycles: 30, estimate: true, doc: "one level of the hardware's walk of the shadow table on a TLB miss (a page-walk-cache hit reads one level instead of four)", source: 'estimate: a page-table entry read that hits the L2 or L3 cache' },
  { name: 'exitCycles', category: 'exit', cycles: 4700, estimate: false, doc: 'one guest exit and re-entry of a radix guest (an HDSI or HISI into L0 and back; also each round trip an L1 hcall or a reflection makes)', source: "POWER9 radix guest entry plus exit, about 4,700 cycles after N. Piggin's 2021 P9 entry/exit series" },
  { name: 'l1WalkLevelCycles', category: 'l1Walk', cycles: 300, estimate: true, doc: "one level of L0's software walk of L1's table (a read of L1 memory through the memslot: kvm_read_guest)", source: 'estimate: an SRCU-protected memslot lookup and a copy from user memory' },
  { name: 'l0WalkLevelCycles', category: 'l0Walk', cycles: 20, estimate: true, doc: "one level of L0's software walk of its own tables (its table for L1, a shadow table)", source: 'estimate: a cache-hot load and a few checks' },
  { name: 'instantiateCycles', category: 'host', cycles: 3000, estimate: true, doc: "instantiating L0's mapping of an L1 page (kvmppc_book3s_instantiate_page: get_user_pages, the host PTE, the leaf)", source: 'estimate: a GUP fast-path lookup and a PTE build, the host page already resident' },
  { name: 'pteUpdateCycles', category: 'pte', cycles: 60, estimate: true, doc: 'one PTE written, updated or cleared (an atomic ldarx/stdcx. pair and its barrier)', source: 'estimate' },
  { name: 'rmapInsertCycles', category: 'rmap', cycles: 200, estimate: true, doc: 'one nested rmap entry inserted (an allocation and a list insert)', source: 'estimate' },
  { name: 'rmapWalkCycles', category: 'rmap', cycles: 40, estimate: true, doc: 'one nested rmap entry visited by an invalidation', source: 'estimate' },
  { name: 'tlbiePageCycles', category: 'tlbie', cycles: 150, estimate: true, doc: 'one tlbie of one page under one LPID (issue; completion is tlbsyncCycles)', source: 'estimate' },
  { name: 'tlbieLpidCycles', category: 'tlbie', cycles: 500, estimate: true, doc: 'one tlbie of a whole LPID (or of every LPID)', source: 'estimate' },
  { name: 'tlbsyncCycles', category: 'tlbie', cycles: 520, estimate: false, doc: 'completion of one broadcast invalidation (eieio; tlbsync; ptesync)', source: 'dropping eieio; tlbsync; ptesync from every radix guest exit saved about 520 cycles on POWER9 (the 2021 P9 entry/exit series)' },
  { name: 'lockCycles', category: 'lock', cycles: 60, estimate: true, doc: 'one uncontended acquire and release of mmu_lock or a tlb_lock (waits are modeled, see cost.skewCycles)', source: 'estimate: two atomic sequences and their barriers' },
  { name: 'enterNestedCycles', category: 'l1', cycles: 1500, estimate: false, doc: "H_ENTER_NESTED's own work each time L1 enters L2 after a reflection (L2's state copied in and out)", source: 'the hcall mean (~500 ns) of the 2022 KVM timings sample output, processor not stated, at 3 GHz' },
  { name: 'reflectCycles', category: 'l1', cycles: 6000, estimate: true, doc: "L1's own handler for a fault L0 reflects to it (its page-fault path for its nested guest)", source: "estimate: L1's radix page-fault path, about what L0's own costs" },
  { name: 'mmioCycles', category: 'mmio', cycles: 20000, estimate: true, doc: "an MMIO access emulated by L0's userspace (the exit to userspace and back)", source: 'estimate: a round trip to the VMM process' },
  { name: 'hcallCycles', category: 'actors', cycles: 1500, estimate: false, doc: "the work of one hcall of L1 (H_TLB_INVALIDATE, H_RPT_INVALIDATE), beyond its exit and entry", source: 'the hcall mean (~500 ns) of the 2022 KVM timings sample output, processor not stated, at 3 GHz' },
  { name: 'hostOpCycles', category: 'actors', cycles: 3000, estimate: true, doc: "one host operation on the VM from userspace: a memslot flush, a dirty-log harvest pass or switch (per call, pages extra)", source: 'estimate: an ioctl and an SRCU section' },
  { name: 'notifierCycles', category: 'actors', cycles: 1000, estimate: true, doc: 'one MMU-notifier invalidation of an L1 page range (begin, unmap, end)', source: 'estimate' },
  { name: 'migratePageCycles', category: 'actors', cycles: 4000, estimate: true, doc: 'one host page migrated (its copy; the notifier is notifierCycles)', source: 'estimate: a 64 KiB copy at about 16 bytes per cycle' },
  { name: 'swapPageCycles', category: 'actors', cycles: 20000, estimate: true, doc: 'one host page swapped out or in (the CPU side of the I/O)', source: 'estimate' },
  { name: 'agePageCycles', category: 'actors', cycles: 200, estimate: true, doc: 'one page aged (kvm_age_radix: test and clear R)', source: 'estimate' },
  { name: 'harvestPageCycles', category: 'actors', cycles: 200, estimate: true, doc: 'one dirty page harvested (D cleared, the bitmap updated)', source: 'estimate' },
];

export type CostName = string;
/** Cost item name -> index. */
export const COST = Object.freeze(Object.fromEntries(COST_ITEMS.map((c, i) => [c.name, i])) as Record<string, number>);

/** Cost models: `power9` (the table's defaults) or `none` (no modeled clock: nothing charged). */
export const COST_MODELS = ['power9', 'none'] as const;
export type CostModelName = (typeof COST_MODELS)[number];

/**
 * POWER9's nominal clock in the IBM AC922 (the Summit and Sierra nodes): 3.07 GHz; scale-out
 * parts run 2.75-3.8 GHz. Costs are in cycles; every ns figure derives from this.
 */
export const DEFAULT_CPU_GHZ = 3.07;
/**
 * How far (cycles) a vCPU's modeled clock may run ahead of the slowest running vCPU's before it
 * waits. 10,000 cycles (~3 µs modeled) is about one nested fault: measured on fault-storm with 8
 * vCPUs in one nested guest on 2 cores, 50,000 let the run's fault count (which vCPU faults on a
 * shared page first) and modeled rate swing by a third between runs; 5,000-10,000 keep them
 * within a few percent, for about 1.3x the wall time of 20,000 (docs/cost-model.md).
 */
export const DEFAULT_SKEW_CYCLES = 10_000;

/** The `cost` section of a resolved config. */
export interface CostConfig {
  readonly model: CostModelName;
  readonly cpuGHz: number;
  readonly skewCycles: number;
  /** Cycles per cost item, by name. */
  readonly [item: string]: number | string;
}

/**
 * Counters that charge a cost every time they are bumped: counter -> the items it charges (their
 * cycles add up) and the category. L1's flush actors are each one hcall: an exit and re-entry of
 * L1 plus the hcall's work (their tlbies are charged where L0 issues them).
 */
export const COUNTER_CHARGES: ReadonlyArray<{ counter: CounterName; items: readonly string[]; category: CostCategory }> = [
  { counter: 'tlbiePage', items: ['tlbiePageCycles'], category: 'tlbie' },
  { counter: 'tlbieLpid', items: ['tlbieLpidCycles'], category: 'tlbie' },
  { counter: 'tlbieAll', items: ['tlbieLpidCycles'], category: 'tlbie' },
  { counter: 'tlbShootdowns', items: ['tlbsyncCycles'], category: 'tlbie' },
  { counter: 'rmapEntriesWalked', items: ['rmapWalkCycles'], category: 'rmap' },
  { counter: 'l1Handled', items: ['reflectCycles'], category: 'l1' },
  { counter: 'l1Unmaps', items: ['exitCycles', 'hcallCycles'], category: 'actors' },
  { counter: 'l1Protects', items: ['exitCycles', 'hcallCycles'], category: 'actors' },
  { counter: 'l1Cleans', items: ['exitCycles', 'hcallCycles'], category: 'actors' },
  { counter: 'l1RangeFlushes', items: ['exitCycles', 'hcallCycles'], category: 'actors' },
  { counter: 'l1LpidFlushes', items: ['exitCycles', 'hcallCycles'], category: 'actors' },
  { counter: 'l1Destroys', items: ['exitCycles', 'hcallCycles'], category: 'actors' },
  { counter: 'hostNotifier', items: ['notifierCycles'], category: 'actors' },
  { counter: 'migrations', items: ['migratePageCycles'], category: 'actors' },
  { counter: 'swapOuts', items: ['swapPageCycles'], category: 'actors' },
  { counter: 'swapIns', items: ['swapPageCycles'], category: 'actors' },
  { counter: 'ages', items: ['agePageCycles'], category: 'actors' },
  { counter: 'harvests', items: ['hostOpCycles'], category: 'actors' },
  { counter: 'harvestDirtyPages', items: ['harvestPageCycles'], category: 'actors' },
  { counter: 'memslotFlushes', items: ['hostOpCycles'], category: 'actors' },
  { counter: 'dirtyLogToggles', items: ['hostOpCycles'], category: 'actors' },
];

/** Per-thread charge tables resolved from a config: cycles per item, and per counter. */
export class CostTables {
  /** Whether a modeled clock runs (`cost.model` is not `none`). */
  readonly on: boolean;
  readonly cpuGHz: number;
  readonly skewCycles: number;
  /** Cycles by COST index (all 0 when off). */
  readonly item: Float64Array;
  /** Cycles charged per bump of each counter (0: none), and its category. */
  readonly byCounter: Float64Array;
  readonly counterCat: Int8Array;

  constructor(cost: CostConfig | undefined, counterCount: number) {
    this.on = cost !== undefined && cost.model !== 'none';
    this.cpuGHz = cost !== undefined ? cost.cpuGHz : DEFAULT_CPU_GHZ;
    this.skewCycles = cost !== undefined ? cost.skewCycles : DEFAULT_SKEW_CYCLES;
    this.item = new Float64Array(COST_ITEMS.length);
    if (this.on) COST_ITEMS.forEach((c, i) => (this.item[i] = cost![c.name] as number));
    this.byCounter = new Float64Array(counterCount);
    this.counterCat = new Int8Array(counterCount);
    if (!this.on) return;
    for (const ch of COUNTER_CHARGES) {
      const c = COUNTER[ch.counter];
      this.byCounter[c] = ch.items.reduce((s, n) => s + this.item[COST[n]], 0);
      this.counterCat[c] = COST_CAT[ch.category];
    }
  }

  /** Cycles -> modeled ns. */
  ns(cycles: number): number {
    return cycles / this.cpuGHz;
  }
}

// The counter block keeps one modeled-cycles counter per category, in order, from MC_BASE.
if (COUNTER.mcAccess !== MC_BASE || COUNTER.mcActors !== MC_BASE + COST_CATEGORIES.length - 1) {
  throw new Error('COUNTER: the mc* counters must follow COST_CATEGORIES from MC_BASE');
}

/** Markers of the cost table in docs/cost-model.md (written by `npm run schema`). */
export const COST_TABLE_BEGIN = '<!-- cost-table:begin (written by npm run schema) -->';
export const COST_TABLE_END = '<!-- cost-table:end -->';

/** The cost table as docs/cost-model.md shows it: key, default cycles, ns at the default clock, category, what, source. */
export function costTableMarkdown(): string {
  const rows = COST_ITEMS.map((c) => {
    const ns = c.cycles / DEFAULT_CPU_GHZ;
    const nsText = ns >= 100 ? Math.round(ns).toLocaleString('en-US') : ns.toFixed(1);
    const why = c.source.replace(/^estimate:? ?/, '');
    const source = c.estimate ? `**estimate**${why !== '' ? `: ${why}` : ''}` : c.source;
    return `| \`cost.${c.name}\` | ${c.cycles.toLocaleString('en-US')} | ${nsText} | ${c.category} | ${c.doc} | ${source} |`;
  });
  return ['| key | cycles | ns at 3.07 GHz | category | charged for | source |', '|---|---:|---:|---|---|---|', ...rows].join('\n');
}

/** `text` with the cost table between its markers replaced by the current one. */
export function withCostTable(text: string): string {
  const a = text.indexOf(COST_TABLE_BEGIN);
  const b = text.indexOf(COST_TABLE_END);
  if (a < 0 || b < a) throw new Error(`expected the markers ${COST_TABLE_BEGIN} and ${COST_TABLE_END}`);
  return `${text.slice(0, a + COST_TABLE_BEGIN.length)}\n${costTableMarkdown()}\n${text.slice(b)}`;
}
