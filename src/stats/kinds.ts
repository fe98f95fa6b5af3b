/**
 * The fault kinds and fault stages, listed once. Everything else derives from these lists: the
 * index a vCPU records a fault under (`FAULT_KIND`), the counter each kind bumps
 * (`FAULT_KIND_COUNTER`, `fault` + the capitalised name in `COUNTER`), the histograms a worker
 * returns, the results document's `counts.faults` and `latencyNs` keys, and the reports' rows.
 */
import { COUNTER, type CounterName } from './counters.js';

/**
 * Outcomes of L0's nested fault handler that the results contract reports (counts and latency),
 * in report order.
 */
export const REPORTED_FAULT_KINDS = ['shadowInsert', 'hostInstantiate', 'reflected', 'rcFixed', 'rcReflected', 'retried', 'mmio', 'dsi'] as const;
export type ReportedFaultKind = (typeof REPORTED_FAULT_KINDS)[number];

/**
 * What one fault ended as, one counter each: the reported outcomes, then `inval` and `error`
 * (nested-fault outcomes counted in `counts.faults` only), `hostOom` (a nested fault that found no
 * host memory for the L1 page: the host is overcommitted) and `l1Direct` (not a nested fault: L0's
 * ordinary radix fault for an access of L1's own, whatever its outcome).
 */
export const FAULT_KIND_NAMES = [...REPORTED_FAULT_KINDS, 'inval', 'error', 'l1Direct', 'hostOom'] as const;
export type FaultKindName = (typeof FAULT_KIND_NAMES)[number];
/** Fault kind name -> index (VcpuRegs.kind, the vCPU's per-kind histograms). */
export const FAULT_KIND = Object.freeze(Object.fromEntries(FAULT_KIND_NAMES.map((n, i) => [n, i])) as Record<FaultKindName, number>);

/** The counter of a fault kind: `fault` + the capitalised name. */
export function faultCounterName(kind: FaultKindName): CounterName {
  return `fault${kind[0].toUpperCase()}${kind.slice(1)}` as CounterName;
}
/** Fault kind index -> its counter's index. */
export const FAULT_KIND_COUNTER: readonly number[] = Object.freeze(FAULT_KIND_NAMES.map((k) => COUNTER[faultCounterName(k)]));

/**
 * Stages inside a fault, timed separately on sampled faults to show where the time went, and the
 * lock waits (recorded when contended).
 */
/**
 * One fault in this many records its modeled stages (modeled time; every fault records its
 * modeled latency, every modeled lock wait its wait stage). Sampled as the wall-clock stages are:
 * recording each stage on every fault cost about 6% of fault-storm's rate with one vCPU
 * (docs/cost-model.md, "What the accounting costs").
 */
export const MODELED_STAGE_SAMPLE = 8; // a power of two: the stride is a mask
export const STAGE_NAMES = ['l1Walk', 'l0Lookup', 'instantiate', 'shadowInsertCommit', 'tlbLockWait', 'mmuLockWait'] as const;
export type StageName = (typeof STAGE_NAMES)[number];
export const STAGE = Object.freeze(Object.fromEntries(STAGE_NAMES.map((n, i) => [n, i])) as Record<StageName, number>);

/** Every fault in a counter block, whatever its outcome (the fault counters sum to the faults taken). */
export function totalFaults(arr: Float64Array): number {
  let n = 0;
  for (const c of FAULT_KIND_COUNTER) n += arr[c];
  return n;
}
