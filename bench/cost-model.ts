/**
 * What modeled time costs the simulator: fault-storm at 1 and 2 vCPUs with `cost.model: none`
 * and `power9` (threads auto: under power9 the 2 vCPUs, one L1's, share a thread), and 2 vCPUs
 * on one thread under both (the accounting alone, apart from the parallelism), run in
 * interleaved pairs (none, power9, none, power9, ...) so the shared machine's drift hits both
 * alike; the row is the median of the per-pair ratios of wall-clock faults/s, with their range
 * (docs/cost-model.md, "What the accounting costs").
 */
import { join } from 'node:path';
import { applyOverrides, loadConfig, parseConfig } from '../src/workload/config.js';
import { runSimulation } from '../src/engine/run.js';
import { contextFor, setupMachine } from '../src/engine/setup.js';
import { Cpu } from '../src/hw/cpu.js';
import { ACCESS_LOAD } from '../src/hw/walker.js';
import { l1FlushLpid } from '../src/hv/l1-handler.js';
import { packageRoot } from '../src/util/paths.js';

export interface ModelCostRow {
  vcpus: number;
  /** `threads` for both runs: 0 auto, 1 one thread. */
  threads: number;
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

/** The median of per-pair ratios and their range, to 3 decimals. */
function ratioSpread(ratios: number[]): { ratio: number; ratioMin: number; ratioMax: number } {
  return { ratio: +median(ratios).toFixed(3), ratioMin: +Math.min(...ratios).toFixed(3), ratioMax: +Math.max(...ratios).toFixed(3) };
}

export async function runModelCost(durationMs = 2000, pairs = 3): Promise<ModelCostRow[]> {
  const rows: ModelCostRow[] = [];
  for (const [vcpus, threads] of [[1, 0], [2, 0], [2, 1]]) {
    const warmupMs = 300 * vcpus;
    const cfgFor = (model: string) =>
      applyOverrides(
        loadConfig(join(packageRoot(), 'configs', 'fault-storm.yaml')),
        { vcpus: String(vcpus), threads: String(threads), duration: `${durationMs + warmupMs}ms`, warmup: `${warmupMs}ms`, accesses: '0', 'cost.model': model },
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
      threads,
      noneFaultsPerSec: Math.round(median(none)),
      power9FaultsPerSec: Math.round(median(power9)),
      ...ratioSpread(ratios),
      pairs,
    });
  }
  return rows;
}

export interface ModelCostInProcess {
  /** Median ns per access of fault-storm's loop without and with the cost model. */
  noneNsPerAccess: number;
  power9NsPerAccess: number;
  /** Median of the per-round ratios none / power9 (the power9 rate as a share of none's), and their range. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  rounds: number;
}

/**
 * The same question at 1 vCPU without the noise of whole runs: two machines in this one thread,
 * one per cost model, each running fault-storm's loop (a sequential walk of a 16M working set,
 * every access a fault, L1 flushing its guest's LPID every 2,048 accesses) for `batch` accesses
 * in turn, `rounds` times. Each round's ratio compares two batches a few ms apart.
 */
export function runModelCostInProcess(batch = 100_000, rounds = 15): ModelCostInProcess {
  const loop = (model: string): ((n: number) => number) => {
    const cfg = parseConfig(`vcpus: 1\nguests: { count: 1, memory: 64M }\nl1: { memory: 1G }\nhost: { memory: 2G }\nworkload: { workingSet: 16M }\ncost: { model: ${model} }\n`, 'bench');
    const m = setupMachine(cfg);
    const ctx = contextFor(m, cfg, 0, 0);
    const cpu = new Cpu(ctx, 1);
    cpu.enter();
    const slot = cpu.regs.slot;
    const basePn = m.L.basePn;
    const pages = (16 << 20) / 4096 / basePn;
    const first = 256; // clear of L1's read-only and MMIO pages
    let p = 0;
    return (n: number): number => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        cpu.access((first + p) * basePn, ACCESS_LOAD);
        if (++p === pages) p = 0;
        if ((i & 2047) === 2047) l1FlushLpid(ctx, slot, 0);
      }
      return ((performance.now() - t0) * 1e6) / n;
    };
  };
  const none = loop('none');
  const power9 = loop('power9');
  none(3 * batch);
  power9(3 * batch);
  const a: number[] = [];
  const b: number[] = [];
  for (let k = 0; k < rounds; k++) {
    a.push(none(batch));
    b.push(power9(batch));
  }
  const ratios = a.map((x, i) => x / b[i]);
  return {
    noneNsPerAccess: Math.round(median(a)),
    power9NsPerAccess: Math.round(median(b)),
    ...ratioSpread(ratios),
    rounds,
  };
}
