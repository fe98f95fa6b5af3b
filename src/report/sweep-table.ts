/**
 * The sweep's terminal table: one row per point, labelled by the swept keys (a key with one value
 * is the same on every row, so it labels rows only when nothing is swept). The latency columns
 * are those of the fault kind timed most often over the sweep, as in its HTML report (shadow
 * insert when none was timed), "-" at a point that timed none.
 */
import type { SweepDocument } from '../stats/document.js';
import { kindLabel, mostTimedFaultKind } from './table.js';

export function renderSweep(doc: SweepDocument): string {
  const swept = doc.axes.map((_, k) => k).filter((k) => doc.axes[k].values.length > 1);
  const shown = swept.length > 0 ? swept : doc.axes.map((_, k) => k);
  const label = (vals: readonly string[]): string => shown.map((k) => vals[k]).join(' ');
  const rowValues = doc.points.map((pt) => doc.axes.map((a) => pt.values[a.key]));
  const width = Math.max(24, label(doc.axes.map((a) => a.key)).length, ...rowValues.map((v) => label(v).length));
  const kind = mostTimedFaultKind(doc.points) ?? 'shadowInsert';
  const name = kind === 'shadowInsert' ? 'insert' : kindLabel(kind);
  const col = Math.max(11, name.length + 4);
  const ns = (v: number | undefined): string => (v !== undefined ? `${v}ns` : '-').padStart(col);
  const count = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(14);
  const rows = [`${label(doc.axes.map((a) => a.key)).padEnd(width)} ${'accesses/s'.padStart(14)} ${'faults/s'.padStart(14)} ${'modeled f/s'.padStart(14)} ${`${name} p50`.padStart(col)} ${`${name} p99`.padStart(col)} ${'violations'.padStart(10)}`];
  doc.points.forEach((pt, i) => {
    const lat = pt.latencyNs[kind];
    const modeled = pt.modeled !== null && pt.modeled !== undefined ? count(pt.modeled.faultsPerSec) : '-'.padStart(14);
    rows.push(`${label(rowValues[i]).padEnd(width)} ${count(pt.throughput.accessesPerSec)} ${count(pt.throughput.faultsPerSec)} ${modeled} ${ns(lat?.p50)} ${ns(lat?.p99)} ${String(pt.checks.violations).padStart(10)}`);
  });
  return rows.join('\n');
}
