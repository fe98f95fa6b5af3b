/**
 * The time series of a run: the coordinator samples the merged counters once per progress
 * interval (and once at the end) into cumulative points. A long run keeps at most
 * `SERIES_MAX_POINTS`: when it would exceed them, every other point is dropped and the interval
 * doubles, so the points stay evenly spaced and the document stays small.
 */
import { COUNTER } from './counters.js';
import { FAULT_KIND_COUNTER, FAULT_KIND_NAMES, totalFaults, type FaultKindName } from './kinds.js';
import type { SeriesPoint, TimeSeries } from './results.js';

/** The progress interval: the coordinator samples the counters this often (ms). */
export const SERIES_INTERVAL_MS = 100;
/** Most points a document keeps. */
export const SERIES_MAX_POINTS = 600;

export class SeriesRecorder {
  private intervalMs: number;
  private readonly points: SeriesPoint[] = [];

  constructor(
    intervalMs = SERIES_INTERVAL_MS,
    private readonly maxPoints = SERIES_MAX_POINTS,
  ) {
    this.intervalMs = intervalMs;
  }

  /**
   * Record the merged counters at `tMs`, unless the last point is closer than the interval
   * (`last`: the final point, always kept).
   */
  add(tMs: number, merged: Float64Array, warmingUp: boolean, last = false): void {
    const prev = this.points[this.points.length - 1];
    if (!last && prev !== undefined && tMs - prev.tMs < this.intervalMs * 0.999) return;
    const faults = {} as Record<FaultKindName, number>;
    for (let k = 0; k < FAULT_KIND_NAMES.length; k++) faults[FAULT_KIND_NAMES[k]] = merged[FAULT_KIND_COUNTER[k]];
    this.points.push({
      tMs: Math.round(tMs * 10) / 10,
      accesses: merged[COUNTER.accesses],
      faultsTotal: totalFaults(merged),
      faults,
      violations: merged[COUNTER.violations],
      mmuLockWaitNs: Math.round(merged[COUNTER.mmuLockWaitNs]),
      tlbLockWaitNs: Math.round(merged[COUNTER.tlbLockWaitNs]),
      warmingUp,
    });
    if (this.points.length > this.maxPoints) this.thin(last);
  }

  /** Keep every other point (the final one too) and double the interval. */
  private thin(keepLast: boolean): void {
    const lastPoint = this.points[this.points.length - 1];
    const kept = this.points.filter((_, i) => i % 2 === 0);
    if (keepLast && kept[kept.length - 1] !== lastPoint) kept.push(lastPoint);
    this.points.length = 0;
    this.points.push(...kept);
    this.intervalMs *= 2;
  }

  result(): TimeSeries {
    return { intervalMs: this.intervalMs, points: this.points.map((p) => ({ ...p, faults: { ...p.faults } })) };
  }
}
