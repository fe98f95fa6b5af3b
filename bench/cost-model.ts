/**
 * What modeled time costs the simulator: fault-storm at 1 and 2 vCPUs with `cost.model: none`
 * and `power9`, run in interleaved pairs (none, power9, none, power9, ...) so the shared machine's
 * drift hits both alike; the row is the median of the per-pair ratios of wall-clock faults/s,
 * with their range (docs/cost-model.md, "What the accounting costs").
 */
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../src/workload/config.js';
import { runSimulation } from '../src/engine/run.js';
import { packageRoot } from '../src/util/paths.js';

export interface ModelCostRow {
  vcpus: number;
  /** Median wall-clock faults/s without and with the cost model. */
  noneFaultsPerSec: number;
  power9FaultsPerSec: number;
  /** Median of the per-pair ratios power9 / none, and their range. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  pairs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function runModelCost(durationMs = 2000, pairs = 3): Promise<ModelCostRow[]> {
  const rows: ModelCostRow[] = [];
  for (const vcpus of [1, 2]) {
    const warmupMs = 300 * vcpus;
    const cfgFor = (model: string) =>
      applyOverrides(
        loadConfig(join(packageRoot(), 'configs', 'fault-storm.yaml')),
        { vcpus: String(vcpus), duration: `${durationMs + warmupMs}ms`, warmup: `${warmupMs}ms`, accesses: '0', 'cost.model': model },
        'bench',
      );
    const none: number[] = [];
    const power9: number[] = [];
    for (let k = 0; k < pairs; k++) {
      none.push((await runSimulation(cfgFor('none'))).doc.throughput.faultsPerSec);
      power9.push((await runSimulation(cfgFor('power9'))).doc.throughput.faultsPerSec);
    }
    const ratios = power9.map((p, i) => p / none[i]);
    rows.push({
      vcpus,
      noneFaultsPerSec: Math.round(median(none)),
      power9FaultsPerSec: Math.round(median(power9)),
      ratio: +median(ratios).toFixed(3),
      ratioMin: +Math.min(...ratios).toFixed(3),
      ratioMax: +Math.max(...ratios).toFixed(3),
      pairs,
    });
  }
  return rows;
}
