/**
 * Throughput and scaling: shipped workloads at 1, 2, 4 and 8 vCPUs (real worker threads):
 * tlb-hit (the hit path), default, fault-storm (the fault path), plus fault-storm with every vCPU
 * in ONE nested guest, which shows the kernel's per-guest tlb_lock serialising all of that
 * guest's faults (DESIGN.md "Performance notes"). `runStatsCost` measures what recording
 * statistics costs a fault.
 */
import { join } from 'node:path';
import { loadConfig, applyOverrides } from '../src/workload/config.js';
import { runSimulation } from '../src/engine/run.js';
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

export async function runThroughput(durationMs = 3000, vcpuCounts = [1, 2, 4, 8]): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const cases: Array<{ file: string; label: string; single?: boolean }> = [
    { file: 'tlb-hit.yaml', label: 'tlb-hit' },
    { file: 'default.yaml', label: 'default' },
    { file: 'fault-storm.yaml', label: 'fault-storm' },
    { file: 'fault-storm.yaml', label: 'fault-storm, one guest', single: true },
  ];
  for (const c of cases) {
    let base = 0;
    for (const vcpus of vcpuCounts) {
      if (c.single && vcpus === 1) continue;
      const overrides: Record<string, string> = { vcpus: String(vcpus), duration: `${durationMs}ms`, accesses: '0' };
      overrides['guests.count'] = c.single ? '1' : String(Math.max(vcpus, c.label === 'default' ? 2 : 1));
      const cfg = applyOverrides(loadConfig(join(packageRoot(), 'configs', c.file)), overrides, 'bench');
      const { doc } = await runSimulation(cfg);
      const faults = doc.counts.faultsTotal;
      const rate = c.label === 'tlb-hit' ? doc.throughput.accessesPerSec : doc.throughput.faultsPerSec;
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
        faultP50Ns: lat.p50,
        faultP99Ns: lat.p99,
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
  /** 1 - sampled / untimed: the share of a fault spent timing it. */
  timingShare: number;
  /** Counter increments per fault (exact counts the results need) at the measured ns each. */
  counterNsPerFault: number;
  /** (timing + counters) as a share of a fault. */
  statsShare: number;
}

/**
 * What recording statistics costs a fault: fault-storm on one thread, alternating the shipped
 * sampling (1 fault in 16, stages on 1 in 128, 1 access in 1,024) with timing off, `rounds` times
 * each; medians. Counters cannot be switched off (the results are built from them): their cost
 * is `counterOps` increments of `counterNs` each (a micro figure) per fault.
 */
export async function runStatsCost(durationMs: number, counterNs: number, rounds = 3): Promise<StatsCost> {
  const file = join(packageRoot(), 'configs', 'fault-storm.yaml');
  const base = { vcpus: '1', 'guests.count': '1', duration: `${durationMs}ms`, accesses: '0' };
  const sampled: number[] = [];
  const untimed: number[] = [];
  for (let k = 0; k < rounds; k++) {
    for (const [out, extra] of [[sampled, {}], [untimed, { 'stats.faultSample': String(2 ** 20), 'stats.accessSample': String(2 ** 20) }]] as const) {
      const cfg = applyOverrides(loadConfig(file), { ...base, ...extra }, 'bench');
      const { doc } = await runSimulation(cfg, { inline: true });
      out.push(doc.throughput.faultsPerSec);
    }
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const s = median(sampled);
  const u = median(untimed);
  const timingShare = Math.max(0, 1 - s / u);
  // Per fault: the fault-kind counter, the access/miss counts, tlb_lock and two mmu_lock acquisition counts.
  const counterOps = 6;
  const counterNsPerFault = counterOps * counterNs;
  const statsShare = timingShare + counterNsPerFault / (1e9 / s);
  return { faultsPerSecSampled: Math.round(s), faultsPerSecUntimed: Math.round(u), timingShare: +timingShare.toFixed(4), counterNsPerFault: +counterNsPerFault.toFixed(1), statsShare: +statsShare.toFixed(4) };
}
