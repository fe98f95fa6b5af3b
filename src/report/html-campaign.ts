/**
 * `stress --html` and `sweep --html`. Stress: the verdict, the outcome table per invariant,
 * every round over time (coloured by outcome), and the first violation with the command that
 * replays it. Sweep: each figure against the swept keys, one line per combination of the other
 * swept keys, and a table of every point.
 */
import type { StressDocument, SweepDocument, SweepPoint } from '../stats/document.js';
import type { FaultKind as ReportedFaultKind, LatencyHistogram } from '../stats/results.js';
import { cdfPoints } from '../stats/latency.js';
import { fmtCount, fmtInt, fmtMs, fmtNs, fmtPct, kindLabel, mostTimedFaultKind } from './table.js';
import { card, columnChart, esc, lineChart, page, table, type Series } from './svg.js';
import { configSection, headerMeta, nsAxis, violationList } from './html.js';
import { scheduleHtml } from './html-schedule.js';

const CLEAN = '#54a24b';
const WINDOW = '#eeca3b';
const FAILED = '#cf222e';

export function renderStressHtml(doc: StressDocument): string {
  const s = doc.stress;
  const file = String(doc.config.file);
  const rounds = doc.rounds;
  const outcome = rounds.map((r) => (r.exitStatus === 1 ? FAILED : r.violations > 0 ? WINDOW : CLEAN));
  const strip = columnChart(
    'stress-rounds',
    'Every round over time: green clean, yellow only windows of the kernel as written, red a failing violation (height: violations, a clean round a hairline)',
    rounds.map((r, i) => ({
      label: String(r.round),
      value: r.violations,
      color: outcome[i],
      title: `round ${r.round} (seed ${r.seed}) at ${fmtMs(r.startMs)}: ${r.violations} violations, ${r.unexplained} unexplained, ${fmtInt(r.accesses)} accesses`,
    })),
    { xLabel: 'round', yLabel: 'violations' },
  );
  let failing = 0;
  let windows = 0;
  const cumulative: Series[] = [
    { name: 'violating rounds', color: FAILED, points: rounds.map((r) => [(r.startMs + r.durationMs) / 1000, (failing += r.exitStatus === 1 ? 1 : 0)] as const) },
    { name: 'window rounds', color: '#9a6700', points: rounds.map((r) => [(r.startMs + r.durationMs) / 1000, (windows += r.violations > r.unexplained ? 1 : 0)] as const) },
  ];
  const overTime = lineChart(cumulative, { name: 'stress-cumulative', caption: 'Rounds with violations so far, against campaign time', xLabel: 'time since start', yLabel: 'rounds', xFmt: (x) => `${+x.toFixed(1)}s`, yFmt: fmtInt, yInteger: true });
  const rate = lineChart(
    [{ name: 'faults/s', points: rounds.map((r) => [r.round, r.durationMs > 0 ? (r.faults * 1000) / r.durationMs : 0] as const) }],
    { name: 'stress-rate', caption: 'Fault rate of each round', xLabel: 'round', yLabel: 'faults/s', yFmt: fmtCount, xFmt: (x) => String(x) },
  );
  const outcomes = table(
    ['invariant', 'clean rounds', 'violated rounds', 'violations'],
    Object.entries(doc.outcomes).map(([name, o]) => [name, fmtInt(o.clean), fmtInt(o.violated), fmtInt(o.violations)]),
  );
  const first = doc.firstViolation;
  const firstSection =
    first === null
      ? '<p>No round failed.</p>'
      : first.schedule !== null
        ? `<p>Round ${first.round} (seed ${first.seed}), ${fmtMs(first.atMs)} into the campaign.</p>
${violationList(first.violations)}
${scheduleHtml(first.schedule, doc.config.vcpus as number)}`
        : `<p>Round ${first.round} (seed ${first.seed}), ${fmtMs(first.atMs)} into the campaign. Repeat it (the same seed on free-running threads, which may or may not race the same way):</p>
<pre>${esc(first.replayLine)}</pre>
${violationList(first.violations)}`;
  const verdictCls = s.violatingRounds > 0 ? 'bad' : s.windowRounds > 0 ? 'warn' : 'ok';
  return page(
    `nestsim stress: ${file}`,
    `<p class="sub">${esc(`protocol ${s.protocol}${s.mutations.length > 0 ? ` · mutations ${s.mutations.join(', ')}` : ''} · ${fmtInt(s.rounds)} rounds in ${fmtMs(s.elapsedMs)}${s.strict ? ' · strict' : ''}`)}</p>
${headerMeta(doc)}
<div class="cards">
${card('violating rounds', `${fmtInt(s.violatingRounds)} of ${fmtInt(s.rounds)}`, verdictCls)}
${card('window rounds', fmtInt(s.windowRounds), s.windowRounds > 0 ? 'warn' : '')}
${card('accesses', fmtCount(s.accesses))}
${card('faults', fmtCount(s.faults))}
</div>

<h2>Outcome per invariant</h2>
${outcomes}

<h2>Rounds over time</h2>
<div class="charts">${strip}\n${overTime}\n${rate}</div>

<h2>First violation</h2>
${firstSection}

<h2>Configuration (resolved)</h2>
${configSection(doc.config)}`,
  );
}

interface Figure {
  readonly name: string;
  readonly label: string;
  readonly value: (p: SweepPoint) => number | undefined;
  readonly fmt: (v: number) => string;
}

/** The figures a sweep report plots against the swept keys. */
function figures(kind: ReportedFaultKind | undefined): Figure[] {
  const out: Figure[] = [
    { name: 'accesses', label: 'accesses/s', value: (p) => p.throughput.accessesPerSec, fmt: fmtCount },
    { name: 'faults', label: 'faults/s', value: (p) => p.throughput.faultsPerSec, fmt: fmtCount },
    { name: 'fault-ratio', label: 'faults per access', value: (p) => (p.counts.accesses > 0 ? p.counts.faultsTotal / p.counts.accesses : undefined), fmt: (v) => String(+v.toFixed(3)) },
    { name: 'modeled-faults', label: 'modeled faults/s (POWER9)', value: (p) => p.modeled?.faultsPerSec, fmt: fmtCount },
  ];
  if (kind !== undefined) {
    out.push(
      { name: 'latency-p50', label: `${kindLabel(kind)} p50`, value: (p) => p.latencyNs[kind]?.p50, fmt: fmtNs },
      { name: 'latency-p99', label: `${kindLabel(kind)} p99`, value: (p) => p.latencyNs[kind]?.p99, fmt: fmtNs },
    );
  }
  out.push(
    { name: 'mmu-wait', label: 'mmu_lock wait per acquisition', value: (p) => (p.locks.mmuLock.acquisitions > 0 ? p.locks.mmuLock.waitNs / p.locks.mmuLock.acquisitions : undefined), fmt: fmtNs },
    { name: 'violations', label: 'violations', value: (p) => p.checks.violations, fmt: fmtInt },
  );
  return out;
}

const pointLabel = (p: SweepPoint): string => Object.entries(p.values).map(([k, v]) => `${k}=${v}`).join(' ');

export function renderSweepHtml(doc: SweepDocument): string {
  const file = String(doc.config.file);
  const swept = doc.axes.filter((a) => a.values.length > 1);
  const xAxis = swept[0] ?? doc.axes[0];
  const others = swept.slice(1);
  // One line per combination of the other swept keys' values, x the first swept key's values.
  const groupOf = (p: SweepPoint): string => others.map((a) => `${a.key}=${p.values[a.key]}`).join(' ') || 'all points';
  const groups = [...new Set(doc.points.map(groupOf))];
  const kind = mostTimedFaultKind(doc.points);
  const charts: string[] = [];
  const untimed: string[] = [];
  for (const f of figures(kind)) {
    const series = groups.map((g) => ({
      name: g,
      points: doc.points
        .filter((p) => groupOf(p) === g)
        .map((p) => [xAxis.values.indexOf(p.values[xAxis.key]), f.value(p)] as const)
        .filter((e): e is readonly [number, number] => e[1] !== undefined),
    }));
    // A figure no point has (no lock was taken) is named, not drawn empty.
    if (series.every((x) => x.points.length === 0)) untimed.push(f.label);
    else charts.push(lineChart(series, { name: `sweep-${f.name}`, caption: `${f.label} against ${xAxis.key}`, xLabel: xAxis.key, yLabel: f.label, xCategories: xAxis.values, yFmt: f.fmt }));
  }
  if (kind !== undefined) {
    const cdfs = doc.points
      .map((p) => [pointLabel(p), p.latencyNs[kind]] as const)
      .filter((e): e is readonly [string, LatencyHistogram] => e[1] !== null)
      .map(([name, h]) => ({ name, points: [[Math.max(0.5, h.buckets[0][0]), 0] as const, ...cdfPoints(h)] }));
    charts.push(
      lineChart(cdfs, { name: 'sweep-latency-cdf', caption: `${kindLabel(kind)} latency CDF at each point`, xLabel: 'latency (log scale)', yLabel: 'fraction ≤ x', xLog: true, xFmt: nsAxis, yFmt: (y) => `${Math.round(y * 100)}%`, step: true }),
    );
  }
  const rows = doc.points.map((p) => [
    ...doc.axes.map((a) => p.values[a.key]),
    fmtCount(p.throughput.accessesPerSec),
    fmtCount(p.throughput.faultsPerSec),
    kind !== undefined && p.latencyNs[kind] ? fmtNs(p.latencyNs[kind].p50) : '-',
    kind !== undefined && p.latencyNs[kind] ? fmtNs(p.latencyNs[kind].p99) : '-',
    fmtPct(p.counts.tlbHits, p.counts.accesses),
    fmtInt(p.checks.violations),
    p.exitStatus,
  ]);
  const missing = doc.axes.reduce((n, a) => n * a.values.length, 1) - doc.points.length;
  return page(
    `nestsim sweep: ${file}`,
    `<p class="sub">${esc(`${doc.points.length} points over ${doc.axes.map((a) => `${a.key} (${a.values.join(', ')})`).join(' × ')}${missing > 0 ? ` · ${missing} not run (interrupted)` : ''}`)}</p>
${headerMeta(doc)}

<h2>Figures against the swept keys</h2>
<p>${esc(kind === undefined ? 'No fault was timed at any point: no latency figure.' : `Latency figures are of ${kindLabel(kind)} faults, the kind timed most often over the sweep.`)}${untimed.length > 0 ? esc(` Not measured at any point: ${untimed.join(', ')}.`) : ''}</p>
<div class="charts">${charts.join('\n')}</div>

<h2>Every point</h2>
${table([...doc.axes.map((a) => a.key), 'accesses/s', 'faults/s', `${kind === undefined ? 'fault' : kindLabel(kind)} p50`, `${kind === undefined ? 'fault' : kindLabel(kind)} p99`, 'TLB hit rate', 'violations', 'exit'], rows)}

<h2>Configuration (resolved, before the sweep's values)</h2>
${configSection(doc.config)}`,
  );
}
