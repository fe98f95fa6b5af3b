/** What a vCPU thread is given for each vCPU it runs, and what it gives back. */
import type { ResolvedConfig } from '../workload/types.js';
import type { Layout } from '../memory/layout.js';

export interface VcpuTask {
  sab: SharedArrayBuffer;
  layout: Layout;
  cfg: ResolvedConfig;
  vcpu: number;
  /** Accesses to run (0 = for `durationMs`). */
  accesses: number;
  /** Run length (ms) when `accesses` is 0, from the start gate's opening. */
  durationMs: number;
  /** A converted trace to replay instead of the pattern (workload.trace): its file, records, and this vCPU's first record. */
  trace?: { file: string; records: number; start: number };
  /** A controlled schedule's control buffer (sync/turnstile.ts); absent: the threads run freely. */
  sched?: SharedArrayBuffer;
  /** Thread of each of the run's vCPUs (engine/vcpu-map.ts); absent: one each. */
  threadOf?: readonly number[];
}

export interface VcpuResult {
  vcpu: number;
  accesses: number;
  /** Its measured time (ms): from its warm-up's end (the start gate without one) to its end; 0 if never measured. */
  measuredMs: number;
  /** Whether warm-up finished before the run ended (else every figure is zero). */
  warmupDone: boolean;
  /** Histogram data by latency kind (Float64Array); modeled ones under `modeled.<kind>`. */
  histograms: Record<string, Float64Array>;
  /** Its modeled clock (cycles) where its measured run began and where it ended (both 0 without a cost model). */
  modeledStartCyc: number;
  modeledEndCyc: number;
}
