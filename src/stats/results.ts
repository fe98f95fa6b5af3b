/**
 * The results document written by `--json` (a contract that tests and tools
 * rely on; the README lists its fields), built from merged counters and histograms by `buildResults`, and
 * checked by `validateResultsShape`.
 *
 * All names camelCase; times in the unit their name says (`durationMs`, `waitNs`, `latencyNs`).
 * Fields beyond the contract (`actors`, `perVcpu`, `violations`, and extra counts) are additions
 * a consumer may ignore.
 */

import { readFileSync } from 'node:fs';
import os from 'node:os';

import { COUNTER, COUNTER_COUNT, countersToObject } from './counters.js';
import { FAULT_KIND_NAMES, REPORTED_FAULT_KINDS, STAGE_NAMES, faultCounterName, totalFaults, type FaultKindName, type ReportedFaultKind, type StageName } from './kinds.js';
import { emptySummary, type Histogram, type LatencySummary } from './histogram.js';

export type { LatencySummary } from './histogram.js';

export const TOOL_NAME = 'nestsim';

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

export interface ResultsDocument {
  tool: { name: string; version: string };
  /** The resolved configuration (defaults filled), as plain JSON. */
  config: Record<string, unknown>;
  run: {
    seed: number;
    vcpus: number;
    durationMs: number;
    wallMs: number;
    node: string;
    cpus: number;
    /** The configured bound on the run's wall time (ms) in duration mode; null when bounded by `accesses`. */
    deadlineMs: number | null;
    /** How far past its deadline the run stopped (ms; audits or actors running long), 0 when on time. */
    overranMs: number;
    /** The run ended (deadline or Ctrl-C) before some vCPU finished its warm-up: nothing was measured there. */
    endedInWarmup: boolean;
  };
  /** The run was stopped by SIGINT (Ctrl-C) before its end: the figures cover what was done. */
  interrupted: boolean;
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
  /** One summary per LATENCY_KINDS entry, plus any other histogram the run recorded. */
  latencyNs: Record<LatencyKind, LatencySummary> & Record<string, LatencySummary>;
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
    l1Unmaps: number;
    l1Protects: number;
    l1Cleans: number;
    l1RangeFlushes: number;
    l1LpidFlushes: number;
    l1Destroys: number;
  };
  perVcpu: { vcpu: number; accesses: number; faults: number }[];
  /** The first MAX_VIOLATION_RECORDS violations in detail. */
  violations: ViolationRecord[];
}

export interface ResultsInput {
  /** The resolved config; copied as JSON. */
  config: object;
  seed: number;
  vcpus: number;
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
  /** Violations per kernel window (tagged by the window's code path). */
  byWindow?: Record<string, number>;
  /** Host page faults that found no memory (CTRL.hostOom). */
  hostOom?: number;
  /** `host.overcommit` of the config. */
  overcommit?: boolean;
  /** Stopped by SIGINT before the end (default false). */
  interrupted?: boolean;
  /** The configured wall-time bound in duration mode, null when bounded by accesses. */
  deadlineMs?: number | null;
  /** How far past the deadline the run stopped (ms). */
  overranMs?: number;
  /** Some vCPU was still warming up when the run ended. */
  endedInWarmup?: boolean;
}

let cachedVersion: string | undefined;

/** The version in nestsim's package.json, or '0.0.0' when it cannot be read. */
export function toolVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = '0.0.0';
  // Built, this file is dist/src/stats/results.js (package.json three levels up); vitest runs it
  // from src/stats/results.ts (two levels up). Only our own package.json is accepted, so the
  // wrong candidate can never supply a stranger's version.
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (isObject(pkg) && pkg.name === TOOL_NAME && typeof pkg.version === 'string') {
        cachedVersion = pkg.version;
        break;
      }
    } catch {
      // not there or not JSON: try the next candidate
    }
  }
  return cachedVersion;
}

/** events per second over `durationMs`, to 0.1; 0 for an empty interval. */
function perSec(events: number, durationMs: number): number {
  return durationMs > 0 ? Math.round((events / durationMs) * 10_000) / 10 : 0;
}

export function buildResults(input: ResultsInput): ResultsDocument {
  if (input.counters.length < COUNTER_COUNT) {
    throw new RangeError(`buildResults: expected ${COUNTER_COUNT} counters, found ${input.counters.length}`);
  }
  const c = countersToObject(input.counters);
  const faultsTotal = totalFaults(input.counters);

  const faults = {} as ResultsDocument['counts']['faults'];
  for (const kind of FAULT_KIND_NAMES) faults[kind] = c[faultCounterName(kind)];

  const latencyNs: Record<string, LatencySummary> = {};
  for (const kind of LATENCY_KINDS) latencyNs[kind] = input.histograms[kind]?.summary() ?? emptySummary();
  for (const [kind, h] of Object.entries(input.histograms)) latencyNs[kind] ??= h.summary();

  // The per-invariant tally is authoritative; the violations counter and the record list are
  // lower bounds kept by other parties, so the largest is reported and a caller that only
  // counted (or only recorded) never reports fewer than it saw.
  let tallied = 0;
  for (const n of Object.values(input.byInvariant)) tallied += n;
  const violations = Math.max(tallied, c.violations, input.violations.length);

  return {
    tool: { name: TOOL_NAME, version: toolVersion() },
    config: JSON.parse(JSON.stringify(input.config)) as Record<string, unknown>,
    run: {
      seed: input.seed,
      vcpus: input.vcpus,
      durationMs: Math.round(input.durationMs * 10) / 10,
      wallMs: Math.round(input.wallMs * 10) / 10,
      node: process.version,
      cpus: os.availableParallelism(),
      deadlineMs: input.deadlineMs ?? null,
      overranMs: Math.round(input.overranMs ?? 0),
      endedInWarmup: input.endedInWarmup ?? false,
    },
    interrupted: input.interrupted ?? false,
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
    latencyNs: latencyNs as ResultsDocument['latencyNs'],
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
      mmuLock: { acquisitions: c.mmuLockAcq, contended: c.mmuLockContended, waitNs: c.mmuLockWaitNs },
      tlbLock: { acquisitions: c.tlbLockAcq, contended: c.tlbLockContended, waitNs: c.tlbLockWaitNs },
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
    })),
    violations: input.violations.slice(0, MAX_VIOLATION_RECORDS).map((v) => ({ ...v })),
  };
}

// --- shape validation ---------------------------------------------------------------------

/** 'object': any non-null non-array object; 'numbers': an object whose values are all numbers. */
type Shape = 'number' | 'string' | 'object' | 'numbers' | { readonly [key: string]: Shape };

const SUMMARY_SHAPE: Shape = { count: 'number', mean: 'number', p50: 'number', p90: 'number', p99: 'number', p999: 'number', max: 'number' };
const LOCK_SHAPE: Shape = { acquisitions: 'number', contended: 'number', waitNs: 'number' };

/** The `--json` contract, field by field. */
const CONTRACT: Shape = {
  tool: { name: 'string', version: 'string' },
  config: 'object',
  run: { seed: 'number', vcpus: 'number', durationMs: 'number', wallMs: 'number', node: 'string', cpus: 'number' },
  throughput: { accessesPerSec: 'number', faultsPerSec: 'number' },
  counts: {
    accesses: 'number',
    tlbHits: 'number',
    tlbMisses: 'number',
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 'number' as const])),
  },
  latencyNs: Object.fromEntries(['access', ...FAULT_KINDS].map((k) => [k, SUMMARY_SHAPE])),
  invalidations: {
    tlbiePage: 'number',
    tlbieLpid: 'number',
    tlbieAll: 'number',
    rptRange: 'number',
    hostNotifier: 'number',
    shadowPtesRemoved: 'number',
    rmapEntriesWalked: 'number',
    tlbFlushes: 'number',
  },
  locks: { mmuLock: LOCK_SHAPE, tlbLock: LOCK_SHAPE },
  checks: { violations: 'number', byInvariant: 'numbers', byWindow: 'numbers', unexplained: 'number', audits: 'number', lostWrites: 'number' },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeof v;
}

function check(value: unknown, shape: Shape, path: string, problems: string[]): void {
  const where = path === '' ? '(document)' : path;
  if (shape === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      problems.push(`${where}: expected finite number, found ${describe(value)}`);
    }
  } else if (shape === 'string') {
    if (typeof value !== 'string') problems.push(`${where}: expected string, found ${describe(value)}`);
  } else if (!isObject(value)) {
    problems.push(`${where}: expected object, found ${describe(value)}`);
  } else if (shape === 'numbers') {
    for (const [key, n] of Object.entries(value)) check(n, 'number', `${path}.${key}`, problems);
  } else if (shape !== 'object') {
    for (const [key, sub] of Object.entries(shape)) {
      check(value[key], sub, path === '' ? key : `${path}.${key}`, problems);
    }
  }
}

/**
 * Every missing or ill-typed contract field of a results document, as `path: expected X, found Y`;
 * empty when `doc` honours the contract. Extra fields are allowed; the optional additions
 * (`perVcpu`, `violations`) are checked only for being arrays when present.
 */
export function validateResultsShape(doc: unknown): string[] {
  const problems: string[] = [];
  check(doc, CONTRACT, '', problems);
  if (isObject(doc)) {
    for (const key of ['perVcpu', 'violations']) {
      if (key in doc && !Array.isArray(doc[key])) {
        problems.push(`${key}: expected array, found ${describe(doc[key])}`);
      }
    }
  }
  return problems;
}
