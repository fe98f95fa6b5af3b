/**
 * More vCPUs than host processors (docs/performance.md, "Several vCPUs on one thread"):
 * fault-storm with each vCPU in its own nested guest at 2, 4 and 16 vCPUs, with the threads
 * chosen for the host (`threads: 0`, at most one per processor) and with one thread per vCPU
 * (`threads` = vcpus, what every run did before), with and without the cost model. Each pass runs
 * every case once, in turn (A B C ... A B C ...), so the shared machine's drift hits all alike;
 * a row gives the median of the passes and its rate over the 2-vCPU rate of the same pass.
 */
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../src/workload/config.js';
import { runSimulation } from '../src/engine/run.js';
import { packageRoot } from '../src/util/paths.js';

export interface OversubscriptionRow {
  model: 'none' | 'power9';
  /** 'auto' (threads: 0) or 'per vCPU' (threads = vcpus). */
  threads: 'auto' | 'per vCPU';
  vcpus: number;
  /** Worker threads the run used (run.threads). */
  threadsUsed: number;
  /** Median wall-clock faults/s over the passes. */
  faultsPerSec: number;
  /** Median over the passes of faults/s / the same pass's 2-vCPU faults/s (same model), and its range. */
  vs2: number;
  vs2Min: number;
  vs2Max: number;
  passes: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function runOversubscription(durationMs = 3000, passes = 3): Promise<OversubscriptionRow[]> {
  const file = join(packageRoot(), 'configs', 'fault-storm.yaml');
  const cases: Array<Pick<OversubscriptionRow, 'model' | 'threads' | 'vcpus'>> = [];
  for (const model of ['none', 'power9'] as const) {
    cases.push({ model, threads: 'auto', vcpus: 2 });
    for (const vcpus of [4, 16]) for (const threads of ['auto', 'per vCPU'] as const) cases.push({ model, threads, vcpus });
  }
  const rates = cases.map(() => [] as number[]);
  const used = cases.map(() => 0);
  for (let p = 0; p < passes; p++) {
    for (const [i, c] of cases.entries()) {
      const warmupMs = 1000;
      const cfg = applyOverrides(
        loadConfig(file),
        {
          vcpus: String(c.vcpus),
          'guests.count': String(c.vcpus),
          threads: c.threads === 'auto' ? '0' : String(c.vcpus),
          'cost.model': c.model,
          duration: `${durationMs + warmupMs}ms`,
          warmup: `${warmupMs}ms`,
          accesses: '0',
        },
        'bench',
      );
      const { doc } = await runSimulation(cfg);
      rates[i].push(doc.throughput.faultsPerSec);
      used[i] = doc.run.threads;
    }
  }
  return cases.map((c, i) => {
    const two = cases.findIndex((x) => x.model === c.model && x.vcpus === 2);
    const vs = rates[i].map((r, p) => r / rates[two][p]);
    return {
      ...c,
      threadsUsed: used[i],
      faultsPerSec: Math.round(median(rates[i])),
      vs2: +median(vs).toFixed(3),
      vs2Min: +Math.min(...vs).toFixed(3),
      vs2Max: +Math.max(...vs).toFixed(3),
      passes,
    };
  });
}
