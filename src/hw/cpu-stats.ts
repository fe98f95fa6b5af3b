/** The histograms a vCPU keeps (merged by the coordinator). */
import { Histogram } from '../stats/histogram.js';
import { FAULT_KIND_NAMES } from '../stats/kinds.js';

export class CpuStats {
  readonly access = new Histogram();
  readonly byKind: Histogram[] = FAULT_KIND_NAMES.map(() => new Histogram());
  /** Modeled latency (modeled ns) per fault kind: every fault, when the cost model is on. */
  readonly mByKind: Histogram[] = FAULT_KIND_NAMES.map(() => new Histogram());
}
