import type { CostConfig } from '../cost/model.js';
import type { Schedule } from '../sync/schedule-layout.js';
/**
 * The resolved (validated, defaults filled, frozen) workload configuration.
 *
 * Produced by `loadConfig`/`parseConfig` in `config.ts` from a YAML file; every key and its
 * default, range and unit lives in the key table in `keys.ts`. Sizes are bytes, times are ms,
 * actor frequencies are events per 1,000 accesses of each vCPU (work-scheduled, so a seeded
 * 1-vCPU run is deterministic).
 */

export const PATTERNS = ['uniform', 'sequential', 'zipf', 'hotset'] as const;
export type Pattern = (typeof PATTERNS)[number];

export const PROTOCOLS = ['mainline', 'fixed'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Windows of docs/model.md §7 that `protocol: fixed` closes; each can also be closed alone. */
export const FIXES = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'] as const;
export type Fix = (typeof FIXES)[number];

/** Protocol ablations; each removes exactly one protection (docs/model.md §6.4). */
export const MUTATIONS = [
  'skip-mmu-seq-check', // M1
  'skip-rmap', // M2
  'late-seq-read', // M3
  'skip-tlb-lock', // M4
  'nonatomic-rc', // M5
  'nonatomic-unmap', // M6
  'skip-tlb-flush', // M7
  'skip-tlb-flush-on-clean', // M8
  'ignore-l1-rc', // M9
  'skip-set-rc-check', // M10
  'split-rc-lock', // M11
  'ignore-l1-perm', // M12
  'skip-refcount', // M13
  'skip-memslot-seq', // M14
  'skip-pfn-check', // M15 benign control
  'skip-inval', // M16 liveness
] as const;
export type Mutation = (typeof MUTATIONS)[number];

export const RC_MODES = ['fault', 'auto'] as const;
export type RcMode = (typeof RC_MODES)[number];

export const BASE_PAGE_SIZES = ['4K', '64K'] as const;
export type BasePageSize = (typeof BASE_PAGE_SIZES)[number];

export const VCPU_MAPS = ['spread', 'packed'] as const;
/** spread: vCPU i runs in guest i % guests.count; packed: consecutive vCPUs share a guest. */
export type VcpuMap = (typeof VCPU_MAPS)[number];

/** Weights of a page-size mix; they need not add up to 1 (normalised on use), at least one > 0. */
export interface PageSizeMix {
  readonly base: number; // the base page (4K or 64K, per basePageSize)
  readonly '2M': number;
  readonly '1G': number;
}

export interface ResolvedConfig {
  /** The file the config came from ('<inline>' for strings). */
  readonly file: string;
  readonly seed: number;
  /** Run length in ms; ignored when `accesses` > 0. */
  readonly durationMs: number;
  /** Accesses per vCPU; 0 means "run for durationMs". */
  readonly accesses: number;
  /** Warm-up in accesses per vCPU, not counted in the statistics. */
  readonly warmupAccesses: number;
  /** Warm-up as a duration (ms) when `warmup` was given one; then `warmupAccesses` is 0. */
  readonly warmupMs: number;
  readonly vcpus: number;
  /** Worker threads the vCPUs share (vCPU v on thread v mod threads); 0 = auto (engine/vcpu-map.ts `placeVcpus`). */
  readonly threads: number;
  readonly protocol: Protocol;
  readonly fixes: readonly Fix[];
  readonly mutations: readonly Mutation[];
  readonly basePageSize: BasePageSize;
  readonly hardware: {
    readonly rc: RcMode;
    /**
     * R/C updates in L0's partition-scoped table for L1 when L1's own vCPUs access L1 memory:
     * fault (DSISR_SET_RC into L0, the simulator rule of docs/model.md §4.1) or auto (hardware
     * sets them with an atomic update of the leaf, no lock, as POWER9 does for a non-nested guest).
     */
    readonly l1Rc: RcMode;
    readonly tlbEntries: number; // per vCPU, power of two
    readonly tlbWays: number; // associativity, power of two, <= tlbEntries
  };
  readonly host: {
    readonly memoryBytes: number; // host real memory for data frames
    readonly backing: PageSizeMix; // how the host backs L1 memory (THP / hugetlb mix)
    readonly overcommit: boolean; // the host may run out of memory for L1 (hostOom faults expected)
  };
  readonly l1: {
    readonly count: number; // L1 guests on the host; every other l1 size and guests.count is per L1
    readonly memoryBytes: number; // L1 guest-real memory (one memslot), excluding MMIO hole
    readonly readonlyBytes: number; // of which this much at the top is a READONLY memslot
    readonly mmioBytes: number; // an L1 gpa range with no memslot (emulated MMIO), after memory
    readonly pageSizes: PageSizeMix; // how L1 maps L2 memory in its own table
    readonly dirtyLog: boolean; // L0 dirty-logs L1's main memslot from the start
  };
  readonly guests: {
    readonly count: number; // nested guests (L2s)
    readonly memoryBytes: number; // L2 guest-real memory of each
    readonly vcpuMap: VcpuMap;
  };
  readonly workload: {
    readonly pattern: Pattern;
    readonly theta: number; // zipf skew, 0 < theta < 1 or > 1, != 1
    readonly hotFraction: number; // hotset: fraction of the working set that is hot
    readonly hotProbability: number; // hotset: probability an access goes to the hot part
    readonly writeRatio: number; // 0..1
    readonly execRatio: number; // 0..1 (instruction fetches, HISI path)
    readonly mmioRatio: number; // 0..1: accesses to L2 pages L1 maps onto its MMIO hole
    readonly workingSetBytes: number; // per guest, <= guests.memoryBytes
    readonly l1Ratio: number; // 0..1: accesses that are L1's own (to L1 memory, L1's lpid), not L2's
    /** A memory trace to replay (absolute path), or '' for the synthetic pattern. */
    readonly trace: string;
    readonly traceSkip: number; // records skipped at the start
    readonly traceLimit: number; // records used after the skip, 0 = all
    readonly traceRepeat: boolean; // wrap around at the end
  };
  /** Actor frequencies, events per 1,000 accesses of each vCPU; 0 = off. */
  readonly actors: {
    readonly l1: {
      readonly unmap: number; // L1 unmaps an L2 page + H_TLB_INVALIDATE IS=0
      readonly protect: number; // L1 write-protects an L2 page + tlbie
      readonly clean: number; // L1 clears C (its own dirty log for L2) + tlbie
      readonly rangeFlush: number; // L1 H_RPT_INVALIDATE over a range
      readonly lpidFlush: number; // L1 H_TLB_INVALIDATE IS=2 RIC=0
      readonly destroy: number; // L1 destroys its nested guest (partition entry 0 + IS=2 RIC=2), recreates it on the next entry
    };
    readonly host: {
      readonly migrate: number; // host migrates an L1 page (notifier begin/unmap/copy/end)
      readonly swap: number; // host swaps an L1 page out (it comes back on the next fault)
      readonly age: number; // kvm_age_radix on one L1 page
      readonly harvest: number; // dirty-log harvest passes over the whole slot
      readonly memslotFlush: number; // memslot flush alone
      readonly dirtyLogToggle: number; // dirty logging switched on/off (install, SRCU grace, flush)
    };
  };
  readonly audit: {
    /** Stop-the-world audits per 1,000,000 accesses (total); 0 = only the final audit. */
    readonly perMillion: number;
  };
  readonly stress: {
    /** Probability of a ~50 µs pause at each named point of the fault path (0 = none). */
    readonly pause: number;
  };
  /** How the vCPU threads interleave (sync/turnstile.ts). */
  readonly schedule: {
    readonly strategy: Schedule;
    /** PCT: the bug depth d. */
    readonly depth: number;
    /** PCT: the run length k in schedule points (0 = 32 x accesses x vcpus). */
    readonly steps: number;
    /** random: probability that a decision draws the next thread at random. */
    readonly preempt: number;
    /** exhaustive: the preemption bound of the search. */
    readonly preemptions: number;
  };
  readonly stats: {
    /** Time one access in N (per vCPU) for the access-latency histogram. Power of two. */
    readonly accessSample: number;
    /** Time one nested fault in N (per vCPU) for the per-kind latency histograms. Power of two. */
    readonly faultSample: number;
  };
  /** Modeled time: the cost model, its clock and each event's cost in cycles (cost/model.ts). */
  readonly cost: CostConfig;
  /** Pass/fail checks on the results document (stats/thresholds.ts), as written. */
  readonly thresholds: readonly string[];
}
