/**
 * Replay speed: a trace-driven run against a synthetic one with the same distinct pages and the
 * same store and fetch shares (configs/trace-sort.yaml, one vCPU; the synthetic side is a uniform
 * pattern over a working set of that many pages). Interleaved pairs; the row is the median ratio.
 */
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../src/workload/config.js';
import { runSimulation } from '../src/engine/run.js';
import { packageRoot } from '../src/util/paths.js';

export interface TraceReplayRow {
  config: string;
  distinctPages: number;
  storeShare: number;
  fetchShare: number;
  traceAccessesPerSec: number;
  syntheticAccessesPerSec: number;
  /** Median over the pairs of trace / synthetic accesses per second. */
  ratio: number;
  pairs: number;
}

export async function runTraceReplay(accesses: number, pairs: number): Promise<TraceReplayRow> {
  const file = join(packageRoot(), 'configs', 'trace-sort.yaml');
  const traced = applyOverrides(loadConfig(file), { vcpus: '1', 'guests.count': '1', accesses: String(accesses) }, 'bench');
  const ratios: number[] = [];
  const tr: number[] = [];
  const sy: number[] = [];
  let row: Omit<TraceReplayRow, 'traceAccessesPerSec' | 'syntheticAccessesPerSec' | 'ratio' | 'pairs'> | undefined;
  for (let k = 0; k < pairs; k++) {
    const a = (await runSimulation(traced)).doc;
    const c = a.counts;
    const pages = a.run.trace?.distinctPages ?? 1;
    row = { config: 'trace-sort.yaml', distinctPages: pages, storeShare: +(c.stores / c.accesses).toFixed(4), fetchShare: +(c.fetches / c.accesses).toFixed(4) };
    const pageBytes = traced.basePageSize === '64K' ? 65536 : 4096;
    const s = applyOverrides(
      traced,
      {
        'workload.trace': '',
        'workload.pattern': 'uniform',
        'workload.workingSet': String(pages * pageBytes),
        'workload.writeRatio': String(row.storeShare),
        'workload.execRatio': String(row.fetchShare),
      },
      'bench',
    );
    const b = (await runSimulation(s)).doc;
    tr.push(a.throughput.accessesPerSec);
    sy.push(b.throughput.accessesPerSec);
    ratios.push(a.throughput.accessesPerSec / b.throughput.accessesPerSec);
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  return { ...row!, traceAccessesPerSec: Math.round(median(tr)), syntheticAccessesPerSec: Math.round(median(sy)), ratio: +median(ratios).toFixed(2), pairs };
}
