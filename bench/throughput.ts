/**
 * Throughput and scaling: shipped workloads at 1, 2, 4 and 8 vCPUs (real worker threads),
 * plus fault-storm with every vCPU in ONE nested guest, which shows the kernel's per-guest
 * tlb_lock serialising all of that guest's faults (DESIGN.md "Performance notes").
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
      if (vcpus === 1 || (c.single && base === 0)) base = doc.throughput.faultsPerSec;
      // Fault latency over all kinds, weighted by count: report shadow insert (the common kind).
      const lat = doc.latencyNs.shadowInsert;
      const waitNs = doc.locks.mmuLock.waitNs + doc.locks.tlbLock.waitNs;
      rows.push({
        config: c.label,
        guests: cfg.guests.count,
        vcpus,
        accessesPerSec: Math.round(doc.throughput.accessesPerSec),
        faultsPerSec: Math.round(doc.throughput.faultsPerSec),
        scaling: base > 0 ? +(doc.throughput.faultsPerSec / base).toFixed(2) : 1,
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
