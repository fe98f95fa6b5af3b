/**
 * Throughput and scaling: shipped workloads at 1, 2, 4 and 8 vCPUs (real worker threads):
 * tlb-hit (the hit path), default, fault-storm (the fault path), plus fault-storm with every vCPU
 * in ONE nested guest, which shows the kernel's per-guest tlb_lock serialising all of that
 * guest's faults, and fault-storm with each vCPU in an L1 of its own (`l1.count`: no lock shared
 * at all), with and without the cost model (docs/performance.md). `runStatsCost` measures what recording
 * statistics costs a fault.
 */
import { join } from 'node:path';
import { loadConfig, applyOverrides } from '../src/workload/config.js';
import { runSimulation } from '../src/engine/run.js';
import type { RunDocument } from '../src/stats/document.js';
import { STAGE_SAMPLE_EVERY } from '../src/hv/context.js';
import { packageRoot } from '../src/util/paths.js';

export interface ThroughputRow {
  config: string;
  guests: number;
  vcpus: number;
  accessesPerSec: number;
  /** accessesPerSec / vcpus. */
  accessesPerSecPerVcpu: number;
  faultsPerSec: number;
  /** faults/s relative to the same config at 1 vCPU. */
  scaling: number;
  faultP50Ns: number;
  faultP99Ns: number;
  /** Lock wait as a share of all vCPU time (mmu_lock + tlb_lock wait / (vcpus x duration)). */
  lockWaitShare: number;
  tlbLockWaitPerFaultNs: number;
  violations: number;
}

/**
 * Each configuration runs `repeats` times; the row is the run with the median rate (runs on 2
 * shared cores vary by 10-20% from one to the next, which a single run would hide).
 */
export async function runThroughput(durationMs = 3000, vcpuCounts = [1, 2, 4, 8], repeats = 1): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const cases: Array<{ file: string; label: string; single?: boolean; l1PerVcpu?: boolean; costNone?: boolean }> = [
    { file: 'tlb-hit.yaml', label: 'tlb-hit' },
    { file: 'default.yaml', label: 'default' },
    { file: 'fault-storm.yaml', label: 'fault-storm' },
    { file: 'fault-storm.yaml', label: 'fault-storm, one guest', single: true },
    { file: 'fault-storm.yaml', label: 'fault-storm, an L1 per vCPU', l1PerVcpu: true },
    { file: 'fault-storm.yaml', label: 'fault-storm, an L1 per vCPU, cost.model none', l1PerVcpu: true, costNone: true },
  ];
  for (const c of cases) {
    let base = 0;
    for (const vcpus of vcpuCounts) {
      if (c.single && vcpus === 1) continue;
      // A warm-up first: each vCPU's isolate warms its JIT, and V of them on a few cores take about
      // V x 0.3 s (docs/performance.md); the rates cover the measured time after it only.
      const warmupMs = 300 * vcpus;
      const overrides: Record<string, string> = { vcpus: String(vcpus), duration: `${durationMs + warmupMs}ms`, warmup: `${warmupMs}ms`, accesses: '0' };
      overrides['guests.count'] = c.single || c.l1PerVcpu ? '1' : String(Math.max(vcpus, c.label === 'default' ? 2 : 1));
      if (c.l1PerVcpu) overrides['l1.count'] = String(vcpus);
      if (c.costNone) overrides['cost.model'] = 'none';
      const cfg = applyOverrides(loadConfig(join(packageRoot(), 'configs', c.file)), overrides, 'bench');
      const rateOf = (d: RunDocument): number => (c.label === 'tlb-hit' ? d.throughput.accessesPerSec : d.throughput.faultsPerSec);
      const docs: RunDocument[] = [];
      for (let k = 0; k < repeats; k++) docs.push((await runSimulation(cfg)).doc);
      docs.sort((a, b) => rateOf(a) - rateOf(b));
      const doc = docs[docs.length >> 1];
      const faults = doc.counts.faultsTotal;
      const rate = rateOf(doc);
      if (vcpus === 1 || (c.single && base === 0)) base = rate;
      // Fault latency over all kinds, weighted by count: report shadow insert (the common kind).
      const lat = doc.latencyNs.shadowInsert;
      const waitNs = doc.locks.mmuLock.waitNs + doc.locks.tlbLock.waitNs;
      rows.push({
        config: c.label,
        guests: cfg.guests.count,
        vcpus,
        accessesPerSec: Math.round(doc.throughput.accessesPerSec),
        accessesPerSecPerVcpu: Math.round(doc.throughput.accessesPerSec / vcpus),
        faultsPerSec: Math.round(doc.throughput.faultsPerSec),
        scaling: base > 0 ? +(rate / base).toFixed(2) : 1, // accesses for tlb-hit, faults otherwise
        faultP50Ns: lat?.p50 ?? 0,
        faultP99Ns: lat?.p99 ?? 0,
        lockWaitShare: +(waitNs / (vcpus * doc.run.durationMs * 1e6)).toFixed(3),
        tlbLockWaitPerFaultNs: faults > 0 ? Math.round(doc.locks.tlbLock.waitNs / faults) : 0,
        violations: doc.checks.violations,
      });
    }
  }
  return rows;
}

export interface StatsCost {
  /** Median fault-storm faults/s (1 vCPU, one thread) with the shipped sampling. */
  faultsPerSecSampled: number;
  /** The same with latency timing effectively off (stats.*Sample = 2^20); counters stay on. */
  faultsPerSecUntimed: number;
  /** 1 - sampled / untimed, from whole runs: a cross-check, within the runs' noise (a few %). */
  timingShareMeasured: number;
  /** Timing cost per fault from the micro figures (timer calls and histogram records, sampled). */
  timingNsPerFault: number;
  /** Counter increments per fault at the measured ns each. */
  counterNsPerFault: number;
  /** (timing + counters) per fault over the ns of a fault at the sampled rate. */
  statsShare: number;
}

/** Micro figures the cost of statistics is computed from (ns per operation). */
export interface StatsMicro {
  timerNs: number;
  recordNs: number;
  counterNs: number;
}

/**
 * What recording statistics costs a fault. Computed from micro figures: per fault, 2 timer calls
 * and a histogram record for one fault in `stats.faultSample` (as fault-storm.yaml resolves it),
 * about 5 timer calls and 4 records for the stages of one timed fault in STAGE_SAMPLE_EVERY, and 5 shared counter increments (fault kind,
 * tlb_lock and two mmu_lock acquisitions, walk hit); over the ns of a fault measured in
 * fault-storm on one thread. Whole runs with timing on and off (alternating, `rounds` each,
 * medians) cross-check it; their noise is a few percent, more than the cost itself.
 */
export async function runStatsCost(durationMs: number, micro: StatsMicro | undefined, rounds = 3): Promise<StatsCost> {
  const file = join(packageRoot(), 'configs', 'fault-storm.yaml');
  const base = { vcpus: '1', 'guests.count': '1', duration: `${durationMs}ms`, accesses: '0' };
  const sampled: number[] = [];
  const untimed: number[] = [];
  let faultSample = 1;
  for (let k = 0; k < rounds; k++) {
    for (const [out, extra] of [[sampled, {}], [untimed, { 'stats.faultSample': String(2 ** 20), 'stats.accessSample': String(2 ** 20) }]] as const) {
      const cfg = applyOverrides(loadConfig(file), { ...base, ...extra }, 'bench');
      if (out === sampled) faultSample = cfg.stats.faultSample;
      const { doc } = await runSimulation(cfg, { inline: true });
      out.push(doc.throughput.faultsPerSec);
    }
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
  const s = median(sampled);
  const u = median(untimed);
  // Without measured micro figures (`--throughput-only`) the computed fields are NaN, not guessed.
  const timingNsPerFault = micro
    ? (2 * micro.timerNs + micro.recordNs) / faultSample + (5 * micro.timerNs + 4 * micro.recordNs) / (faultSample * STAGE_SAMPLE_EVERY)
    : NaN;
  const counterNsPerFault = micro ? 5 * micro.counterNs : NaN;
  const statsShare = (timingNsPerFault + counterNsPerFault) / (1e9 / s);
  return {
    faultsPerSecSampled: Math.round(s),
    faultsPerSecUntimed: Math.round(u),
    timingShareMeasured: +(1 - s / u).toFixed(4),
    timingNsPerFault: +timingNsPerFault.toFixed(1),
    counterNsPerFault: +counterNsPerFault.toFixed(1),
    statsShare: +statsShare.toFixed(4),
  };
}
