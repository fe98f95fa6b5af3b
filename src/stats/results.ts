/**
 * The body of a `run` document (`--json`; the header is `document.ts`'s), built from merged
 * counters and histograms by `buildRunBody`. The schema (`schema.ts`) states every field and
 * `docs/results.md` lists them with their units.
 *
 * All names camelCase; times in the unit their name says (`durationMs`, `waitNs`); ns totals are
 * integers; a latency histogram that recorded nothing is null.
 */

import { COUNTER, COUNTER_COUNT, countersToObject } from './counters.js';
import { FAULT_KIND_NAMES, REPORTED_FAULT_KINDS, STAGE_NAMES, faultCounterName, totalFaults, type FaultKindName, type ReportedFaultKind, type StageName } from './kinds.js';
import type { Histogram } from './histogram.js';
import { histogramToJson, type LatencyHistogram } from './latency.js';
import { buildModeled, type ModeledInput, type ModeledSection } from './modeled.js';
import type { ScheduleSection } from './schedule.js';
import { buildPerL1, type PerL1, type PerL1Input } from './per-l1.js';

/** Modeled histograms travel beside the wall-clock ones under this prefix (vcpu-loop.ts). */
export const MODELED_PREFIX = 'modeled.';

export type { LatencyHistogram } from './latency.js';

/** Outcomes of L0's nested fault handler that the contract reports, in report order. */
export const FAULT_KINDS = REPORTED_FAULT_KINDS;
export type FaultKind = ReportedFaultKind;

/** Stages inside a fault, timed separately to show where the time went. */
export const STAGE_KINDS = STAGE_NAMES;
export type StageKind = StageName;

/** Every key `latencyNs` always has: sampled accesses, each fault kind, each stage. */
export const LATENCY_KINDS = ['access', ...FAULT_KINDS, ...STAGE_KINDS] as const;
export type LatencyKind = (typeof LATENCY_KINDS)[number];

/** At most this many detailed violation records are kept in the document (the count is exact). */
export const MAX_VIOLATION_RECORDS = 100;

/** One invariant violation, with the addresses and PTE values as hex strings for display. */
export interface ViolationRecord {
  invariant: string;
  message: string;
  /** The window of the kernel as written whose code path produced it (`P1`...), when one did. */
  window?: string;
  vcpu: number;
  /** The L1 it was found in (with `l1.count` > 1 only). */
  l1?: number;
  timeMs: number;
  lpid?: number;
  l2Ra?: string;
  l1Ra?: string;
  hostRa?: string;
  /** PTE values by role (e.g. `shadow`, `l1`, `host`), as 0x-prefixed 64-bit hex. */
  pte?: Record<string, string>;
}

export interface LockStats {
  acquisitions: number;
  contended: number;
  waitNs: number;
}

/** The counts of a time-series point: cumulative since the run (after warm-up) began. */
export interface SeriesPoint {
  /** Time since the vCPUs started (ms). */
  tMs: number;
  accesses: number;
  faultsTotal: number;
  faults: Record<FaultKindName, number>;
  violations: number;
  mmuLockWaitNs: number;
  tlbLockWaitNs: number;
  /** Some vCPU was still warming up (its counts start over when it finishes). */
  warmingUp: boolean;
}

/** One point per progress interval, plus one at the end. */
export interface TimeSeries {
  /** The spacing of the points (ms); doubled, every other point dropped, when a long run would exceed the cap. */
  intervalMs: number;
  points: SeriesPoint[];
}

export interface TraceInfo {
  file: string;
  format: 'lackey' | 'nestsim';
  /** Records after merging repeats, and the accesses they stand for (after the skip and limit). */
  records: number;
  accesses: number;
  /** Pages the program touched (at the guest's base-page size), and how many were folded onto others. */
  distinctPages: number;
  foldedPages: number;
}

export interface PerVcpu {
  vcpu: number;
  accesses: number;
  faults: number;
  tlbMisses: number;
  mmuLockWaitNs: number;
}

/** What a run measured: the `run` document after its header, and each point of a sweep. */
export interface RunBody {
  run: {
    seed: number;
    vcpus: number;
    /** Worker threads that ran the vCPUs (vCPU v on thread v mod threads). */
    threads: number;
    durationMs: number;
    wallMs: number;
    /** The configured bound on the run's wall time (ms) in duration mode; null when bounded by `accesses`. */
    deadlineMs: number | null;
    /** How far past its deadline the run stopped (ms; audits or actors running long), 0 when on time. */
    overranMs: number;
    /** The run ended (deadline or Ctrl-C) before some vCPU finished its warm-up: nothing was measured there. */
    endedInWarmup: boolean;
    /** The vCPUs were stopped at the first violation that fails the run (stress --fail-fast). */
    stoppedAtViolation: boolean;
    /** The replayed trace (workload.trace), or null for the synthetic pattern. */
    trace: TraceInfo | null;
  };
  throughput: { accessesPerSec: number; faultsPerSec: number };
  counts: {
    accesses: number;
    loads: number;
    stores: number;
    fetches: number;
    tlbHits: number;
    tlbMisses: number;
    walkHits: number;
    /** Every fault, whatever its outcome (the sum of `faults`). */
    faultsTotal: number;
    /** `l1Direct`: L0's ordinary radix faults for L1's own accesses (not nested faults). */
    /** Every fault kind (stats/kinds.ts): `hostOom` counts nested faults that found no host memory. */
    faults: Record<FaultKindName, number>;
    l1Handled: number;
    writesCompleted: number;
    /** Accesses L1's own vCPUs made to L1 memory (included in `accesses`). */
    l1Accesses: number;
    /** R/C bits the hardware set in L0's table for L1 (`hardware.l1Rc: auto`). */
    l1HwRcSets: number;
  };
  /** One histogram per LATENCY_KINDS entry (null when none was timed), plus any other the run recorded. */
  latencyNs: Record<LatencyKind, LatencyHistogram | null> & Record<string, LatencyHistogram | null>;
  invalidations: {
    tlbiePage: number;
    tlbieLpid: number;
    tlbieAll: number;
    rptRange: number;
    hostNotifier: number;
    shadowPtesRemoved: number;
    rmapEntriesWalked: number;
    tlbFlushes: number;
    tlbShootdowns: number;
  };
  locks: { mmuLock: LockStats; tlbLock: LockStats };
  checks: {
    violations: number;
    byInvariant: Record<string, number>;
    /** Violations a window of the kernel as written produced (tagged by its code path), per window. */
    byWindow: Record<string, number>;
    /** Violations no window explains: these fail the run (`--strict` fails on every violation). */
    unexplained: number;
    /** Host page faults (GUP) that found no memory: nested (`faults.hostOom`) and L1's own. */
    hostOom: number;
    /** Whether the config declares host overcommit expected (`host.overcommit`); if not, hostOom > 0 fails the run. */
    overcommit: boolean;
    audits: number;
    lostWrites: number;
  };
  actors: {
    migrations: number;
    swapOuts: number;
    swapIns: number;
    ages: number;
    harvests: number;
    harvestDirtyPages: number;
    memslotFlushes: number;
    dirtyLogToggles: number;
    l1Unmaps: number;
    l1Protects: number;
    l1Cleans: number;
    l1RangeFlushes: number;
    l1LpidFlushes: number;
    l1Destroys: number;
  };
  perVcpu: PerVcpu[];
  /** One entry per L1 (`l1.count`), in L1 order: its vCPUs' share and what its locks saw (empty for a body built without a machine). */
  perL1: PerL1[];
  /** The run in modeled POWER9 time (cost.model; null when `none`). */
  modeled: ModeledSection | null;
  /** A controlled run's schedule (schedule.strategy; null when the threads ran freely). */
  schedule: ScheduleSection | null;
  /** The first MAX_VIOLATION_RECORDS violations in detail. */
  violations: ViolationRecord[];
  timeSeries: TimeSeries;
}

export interface ResultsInput {
  seed: number;
  vcpus: number;
  /** Worker threads that ran them (default: one per vCPU). */
  threads?: number;
  /** Measured run time (the rates divide by it). */
  durationMs: number;
  /** Wall time of the whole command, setup and teardown included. */
  wallMs: number;
  /** All workers' counter blocks merged (COUNTER_COUNT words). */
  counters: Float64Array;
  /** Merged histograms keyed by latency kind (`access`, `shadowInsert`, ..., `mmuLockWait`). */
  histograms: Record<string, Histogram>;
  violations: ViolationRecord[];
  byInvariant: Record<string, number>;
  lostWrites: number;
  /** One counter block per vCPU, in vCPU order. */
  perVcpu: Float64Array[];
  /** What the machine says of each L1 (absent: nothing was read from a machine, and `perL1` is empty). */
  perL1?: PerL1Input[];
  /** Violations per kernel window (tagged by the window's code path). */
  byWindow?: Record<string, number>;
  /** Host page faults that found no memory (CTRL.hostOom). */
  hostOom?: number;
  /** `host.overcommit` of the config. */
  overcommit?: boolean;
  /** Stopped by SIGINT or SIGTERM before the end (default false). */
  interrupted?: boolean;
  /** The configured wall-time bound in duration mode, null when bounded by accesses. */
  deadlineMs?: number | null;
  /** How far past the deadline the run stopped (ms). */
  overranMs?: number;
  /** Some vCPU was still warming up when the run ended. */
  endedInWarmup?: boolean;
  /** Stopped at its first failing violation (default false). */
  stoppedAtViolation?: boolean;
  /** The replayed trace, if any. */
  trace?: TraceInfo;
  /** The progress-interval points (default: none). */
  timeSeries?: TimeSeries;
  /** Modeled time (without the histograms, which come from `histograms` under MODELED_PREFIX); absent: `modeled` is null. */
  modeled?: Omit<ModeledInput, 'histograms'>;
  /** A controlled run's schedule section; absent: `schedule` is null. */
  schedule?: ScheduleSection;
}

/** events per second over `durationMs`, to 0.1; 0 for an empty interval. */
function perSec(events: number, durationMs: number): number {
  return durationMs > 0 ? Math.round((events / durationMs) * 10_000) / 10 : 0;
}

export function buildRunBody(input: ResultsInput): RunBody {
  if (input.counters.length < COUNTER_COUNT) {
    throw new RangeError(`buildResults: expected ${COUNTER_COUNT} counters, found ${input.counters.length}`);
  }
  const c = countersToObject(input.counters);
  const faultsTotal = totalFaults(input.counters);

  const faults = {} as RunBody['counts']['faults'];
  for (const kind of FAULT_KIND_NAMES) faults[kind] = c[faultCounterName(kind)];

  const latencyNs: Record<string, LatencyHistogram | null> = {};
  for (const kind of LATENCY_KINDS) {
    const h = input.histograms[kind];
    latencyNs[kind] = h === undefined ? null : histogramToJson(h);
  }
  const modeledHist: Record<string, Histogram> = {};
  for (const [kind, h] of Object.entries(input.histograms)) {
    if (kind.startsWith(MODELED_PREFIX)) modeledHist[kind.slice(MODELED_PREFIX.length)] = h;
    else if (!(kind in latencyNs)) latencyNs[kind] = histogramToJson(h);
  }

  // The per-invariant tally is authoritative; the violations counter and the record list are
  // lower bounds kept by other parties, so the largest is reported and a caller that only
  // counted (or only recorded) never reports fewer than it saw.
  let tallied = 0;
  for (const n of Object.values(input.byInvariant)) tallied += n;
  const violations = Math.max(tallied, c.violations, input.violations.length);

  return {
    run: {
      seed: input.seed,
      vcpus: input.vcpus,
      threads: input.threads ?? input.vcpus,
      durationMs: Math.round(input.durationMs * 10) / 10,
      wallMs: Math.round(input.wallMs * 10) / 10,
      deadlineMs: input.deadlineMs ?? null,
      overranMs: Math.round(input.overranMs ?? 0),
      endedInWarmup: input.endedInWarmup ?? false,
      stoppedAtViolation: input.stoppedAtViolation ?? false,
      trace: input.trace !== undefined ? { ...input.trace } : null,
    },
    throughput: {
      accessesPerSec: perSec(c.accesses, input.durationMs),
      faultsPerSec: perSec(faultsTotal, input.durationMs),
    },
    counts: {
      accesses: c.accesses,
      loads: c.loads,
      stores: c.stores,
      fetches: c.fetches,
      tlbHits: c.tlbHits,
      tlbMisses: c.tlbMisses,
      walkHits: c.walkHits,
      faultsTotal,
      faults,
      l1Handled: c.l1Handled,
      writesCompleted: c.writesCompleted,
      l1Accesses: c.l1Accesses,
      l1HwRcSets: c.l1HwRcSets,
    },
    latencyNs: latencyNs as RunBody['latencyNs'],
    invalidations: {
      tlbiePage: c.tlbiePage,
      tlbieLpid: c.tlbieLpid,
      tlbieAll: c.tlbieAll,
      rptRange: c.rptRange,
      hostNotifier: c.hostNotifier,
      shadowPtesRemoved: c.shadowPtesRemoved,
      rmapEntriesWalked: c.rmapEntriesWalked,
      tlbFlushes: c.tlbFlushes,
      tlbShootdowns: c.tlbShootdowns,
    },
    locks: {
      mmuLock: { acquisitions: c.mmuLockAcq, contended: c.mmuLockContended, waitNs: Math.round(c.mmuLockWaitNs) },
      tlbLock: { acquisitions: c.tlbLockAcq, contended: c.tlbLockContended, waitNs: Math.round(c.tlbLockWaitNs) },
    },
    checks: {
      violations,
      byInvariant: { ...input.byInvariant },
      byWindow: { ...(input.byWindow ?? {}) },
      unexplained: Math.max(0, violations - Object.values(input.byWindow ?? {}).reduce((a, b) => a + b, 0)),
      hostOom: input.hostOom ?? 0,
      overcommit: input.overcommit ?? false,
      audits: c.audits,
      lostWrites: input.lostWrites,
    },
    actors: {
      migrations: c.migrations,
      swapOuts: c.swapOuts,
      swapIns: c.swapIns,
      ages: c.ages,
      harvests: c.harvests,
      harvestDirtyPages: c.harvestDirtyPages,
      memslotFlushes: c.memslotFlushes,
      dirtyLogToggles: c.dirtyLogToggles,
      l1Unmaps: c.l1Unmaps,
      l1Protects: c.l1Protects,
      l1Cleans: c.l1Cleans,
      l1RangeFlushes: c.l1RangeFlushes,
      l1LpidFlushes: c.l1LpidFlushes,
      l1Destroys: c.l1Destroys,
    },
    perVcpu: input.perVcpu.map((block, vcpu) => ({
      vcpu,
      accesses: block[COUNTER.accesses] ?? 0,
      faults: totalFaults(block),
      tlbMisses: block[COUNTER.tlbMisses] ?? 0,
      mmuLockWaitNs: Math.round(block[COUNTER.mmuLockWaitNs] ?? 0),
    })),
    perL1: input.perL1 !== undefined ? buildPerL1(input.perL1, input.perVcpu) : [],
    modeled: input.modeled !== undefined ? buildModeled({ ...input.modeled, histograms: modeledHist }) : null,
    schedule: input.schedule ?? null,
    violations: input.violations.slice(0, MAX_VIOLATION_RECORDS).map((v) => ({ ...v })),
    timeSeries: input.timeSeries ?? { intervalMs: 0, points: [] },
  };
}
