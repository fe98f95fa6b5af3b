/**
 * The `modeled` section of a run document: the run as the cost model (cost/model.ts) says a
 * POWER9 machine would have run it, beside the simulator's own wall-clock figures. Built from the
 * vCPUs' modeled clocks (where each one's measured run began and ended), their counter blocks
 * (modeled cycles by category, modeled lock waits) and the modeled histograms.
 *
 * Modeled duration: from the earliest vCPU's start to the latest one's end, in modeled ns. A
 * vCPU's rates divide its events by its own modeled span; the machine's rates are the sum of its
 * vCPUs' (the steady-state rate, which a straggler's tail does not dilute: in a run bounded by
 * accesses, vCPUs that share pages finish at different modeled times).
 */
import { COST_CATEGORIES, type CostCategory, type CostModelName } from '../cost/model.js';
import { COUNTER, COUNTER_COUNT, MC_BASE } from './counters.js';
import { MODELED_STAGE_SAMPLE, REPORTED_FAULT_KINDS, STAGE_NAMES, totalFaults } from './kinds.js';
import type { Histogram } from './histogram.js';
import { histogramToJson, type LatencyHistogram } from './latency.js';

/** Every key `modeled.latencyNs` always has: each reported fault kind, each stage. */
export const MODELED_LATENCY_KINDS = [...REPORTED_FAULT_KINDS, ...STAGE_NAMES] as const;

export interface ModeledLock {
  /** Modeled time waiters spent queued for the lock (ns). */
  waitNs: number;
  /** That wait as a share of all vCPUs' modeled time. */
  share: number;
}

export interface ModeledSection {
  model: CostModelName;
  cpuGHz: number;
  /** Earliest measured start to latest end over the vCPUs (modeled ns). */
  durationNs: number;
  /** Sum of the vCPUs' accesses per modeled second. */
  accessesPerSec: number;
  /** Sum of the vCPUs' faults (every kind) per modeled second. */
  faultsPerSec: number;
  perVcpu: Array<{ vcpu: number; durationNs: number; accessesPerSec: number; faultsPerSec: number }>;
  /** Modeled latency per fault kind (exit to re-entry, L0's part) and per stage; null when none. */
  latencyNs: Record<string, LatencyHistogram | null>;
  /** One fault in this many recorded its modeled stages (MODELED_STAGE_SAMPLE). */
  stageSample: number;
  lockWait: {
    mmuLock: ModeledLock;
    tlbLock: ModeledLock;
    /** Acquisitions that arrived (modeled) before the previous holder took the lock: wall order differed from modeled order. */
    inversions: number;
  };
  /** Modeled cycles by category, over every vCPU (what the faults, accesses and actors cost). */
  breakdown: Record<CostCategory, number>;
  skewCycles: {
    /** cost.skewCycles. */
    bound: number;
    /** The largest lead of a vCPU over the slowest running one seen at a check. */
    observedMax: number;
    /** Times a vCPU slept to stay within the bound. */
    waits: number;
  };
}

export interface ModeledInput {
  model: CostModelName;
  cpuGHz: number;
  skewBound: number;
  /** cost.accessCycles (the access category is accesses times this). */
  accessCycles: number;
  /** Per vCPU, in vCPU order: modeled start and end (cycles), and its counter block. */
  vcpus: Array<{ startCyc: number; endCyc: number; counters: Float64Array }>;
  /** Merged modeled histograms by kind (without the prefix). */
  histograms: Record<string, Histogram>;
}

/** events per modeled second over `ns`, to 0.1; 0 for an empty span. */
function perSec(events: number, ns: number): number {
  return ns > 0 ? Math.round((events / ns) * 1e10) / 10 : 0;
}

export function buildModeled(input: ModeledInput): ModeledSection {
  const ghz = input.cpuGHz;
  const measured = input.vcpus.filter((v) => v.endCyc > v.startCyc);
  const start = measured.length > 0 ? Math.min(...measured.map((v) => v.startCyc)) : 0;
  const end = measured.length > 0 ? Math.max(...measured.map((v) => v.endCyc)) : 0;
  const durationNs = (end - start) / ghz;
  const sum = new Float64Array(COUNTER_COUNT);
  for (const v of input.vcpus) for (let i = 0; i < COUNTER_COUNT; i++) sum[i] += v.counters[i] ?? 0;
  const vcpuNs = input.vcpus.reduce((s, v) => s + Math.max(0, v.endCyc - v.startCyc) / ghz, 0);
  const breakdown = {} as Record<CostCategory, number>;
  COST_CATEGORIES.forEach((c, k) => (breakdown[c] = Math.round(sum[MC_BASE + k])));
  breakdown.access = Math.round(sum[COUNTER.accesses] * input.accessCycles);
  const latencyNs: Record<string, LatencyHistogram | null> = {};
  for (const k of MODELED_LATENCY_KINDS) latencyNs[k] = input.histograms[k] === undefined ? null : histogramToJson(input.histograms[k]);
  for (const [k, h] of Object.entries(input.histograms)) if (!(k in latencyNs)) latencyNs[k] = histogramToJson(h);
  const lock = (cycles: number): ModeledLock => ({
    waitNs: Math.round(cycles / ghz),
    share: vcpuNs > 0 ? Math.round((cycles / ghz / vcpuNs) * 1e4) / 1e4 : 0,
  });
  const perVcpu = input.vcpus.map((v, vcpu) => {
    const ns = Math.max(0, v.endCyc - v.startCyc) / ghz;
    return { vcpu, durationNs: Math.round(ns), accessesPerSec: perSec(v.counters[COUNTER.accesses] ?? 0, ns), faultsPerSec: perSec(totalFaults(v.counters), ns) };
  });
  return {
    model: input.model,
    cpuGHz: ghz,
    durationNs: Math.round(durationNs),
    accessesPerSec: Math.round(perVcpu.reduce((s, p) => s + p.accessesPerSec, 0) * 10) / 10,
    faultsPerSec: Math.round(perVcpu.reduce((s, p) => s + p.faultsPerSec, 0) * 10) / 10,
    perVcpu,
    latencyNs,
    stageSample: MODELED_STAGE_SAMPLE,
    lockWait: {
      mmuLock: lock(sum[COUNTER.mmuLockModeledWait]),
      tlbLock: lock(sum[COUNTER.tlbLockModeledWait]),
      inversions: sum[COUNTER.lockInversions],
    },
    breakdown,
    skewCycles: {
      bound: input.skewBound,
      observedMax: Math.round(Math.max(0, ...input.vcpus.map((v) => v.counters[COUNTER.skewMaxCycles] ?? 0))),
      waits: sum[COUNTER.skewWaits],
    },
  };
}
