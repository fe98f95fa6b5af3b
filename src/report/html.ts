/**
 * `run --html FILE`: the run document as one self-contained page. Latency CDFs per kind from the
 * histogram buckets (log x), throughput and fault rates over the run, a per-vCPU view, the
 * fault kinds with their denominator, the checks, and the config as users write it. Sections
 * the stress and sweep reports share live here too.
 */
import { scheduleHtml } from './html-schedule.js';
import { KEYS, formatValue } from '../workload/keys.js';
import { keyValueOf } from '../workload/config.js';
import { FAULT_KINDS, LATENCY_KINDS, STAGE_KINDS, type LatencyHistogram, type LockStats, type RunBody, type SeriesPoint, type ViolationRecord } from '../stats/results.js';
import type { DocumentHeader, RunDocument } from '../stats/document.js';
import { FAULT_KIND_NAMES } from '../stats/kinds.js';
import { cdfPoints } from '../stats/latency.js';
import { fmtCount, fmtInt, fmtMs, fmtNs, fmtPct, kindLabel, samplingNote } from './table.js';
import { barChart, card, columnChart, esc, lineChart, meta, page, table, type Cell, type Series } from './svg.js';

// ---- shared with the stress and sweep reports ------------------------------------------------

/** The document's header: what ran, where, when. */
export function headerMeta(doc: DocumentHeader): string {
  const rows: Array<[string, string]> = [
    ['command', doc.command.join(' ')],
    ['started', doc.startedAt],
    ['host', `${doc.host.hostname} · ${doc.host.cpus} cpus · ${doc.host.cpuModel} · node ${doc.host.node}`],
    ['nestsim', `${doc.tool.version}${doc.gitCommit !== undefined ? ` (commit ${doc.gitCommit.slice(0, 12)})` : ''} · results schema ${doc.schemaVersion}`],
    ['exit status', `${doc.exitStatus}${doc.interrupted ? ' (interrupted: the figures cover what was done)' : ''}`],
  ];
  return meta(rows);
}

/** The resolved config as users write it: one row per key, in the key's own units, and where non-defaults came from. */
export function configSection(config: DocumentHeader['config']): string {
  const from = new Map(config.overrides.map((o) => [o.key, o.from]));
  const rows: Cell[][] = [];
  for (const spec of KEYS) {
    const v = keyValueOf(config, spec);
    if (v === undefined) continue;
    const text = Array.isArray(v) ? (v.length > 0 ? v.map(String).join(', ') : '(none)') : formatValue(spec, v);
    rows.push([spec.key, text, from.get(spec.key) ?? 'default']);
  }
  return table(['key', 'value', 'set by'], rows);
}

/** Violation records as a list, with their addresses and PTE values. */
export function violationList(records: readonly ViolationRecord[]): string {
  const items = records.map((v) => {
    const fields: Array<[string, string | undefined]> = [
      ['lpid', v.lpid === undefined ? undefined : String(v.lpid)],
      ['l2Ra', v.l2Ra],
      ['l1Ra', v.l1Ra],
      ['hostRa', v.hostRa],
      ...Object.entries(v.pte ?? {}).map(([role, val]): [string, string] => [`${role} pte`, val]),
    ];
    const detail = fields
      .filter((f): f is [string, string] => f[1] !== undefined)
      .map(([k, val]) => `${esc(k)} <code>${esc(val)}</code>`)
      .join(', ');
    const who = `${v.vcpu < 0 ? 'coordinator/actor' : `vCPU ${v.vcpu}`}${v.l1 !== undefined ? ` in L1 ${v.l1}` : ''}`;
    const win = v.window !== undefined ? ` <span class="win">(window ${esc(v.window)} of the kernel as written)</span>` : '';
    return `<li><span class="inv">${esc(v.invariant)}</span>${win} ${esc(who)} at ${esc(v.timeMs.toFixed(1))} ms: ${esc(v.message)}${detail === '' ? '' : `<br>${detail}`}</li>`;
  });
  return `<ol class="viol">\n${items.join('\n')}\n</ol>`;
}

export const nsAxis = (ns: number): string => fmtNs(ns).replace(' ', '');

/** Latency CDFs of the kinds that were timed: fault outcomes (and sampled accesses) in one chart, stages in another. */
export function latencyCdfs(latencyNs: RunBody['latencyNs'], name = 'latency'): string {
  const present = (kinds: readonly string[], strip = ''): Series[] =>
    kinds
      .map((k) => [k, latencyNs[k]] as const)
      .filter((e): e is readonly [string, LatencyHistogram] => e[1] !== null && e[1] !== undefined)
      .map(([k, h]) => ({ name: `${kindLabel(k).replace(strip, '')} (${fmtCount(h.count)})`, points: [[Math.max(0.5, h.buckets[0][0]), 0] as const, ...cdfPoints(h)] }));
  const known = LATENCY_KINDS as readonly string[];
  const extra = Object.keys(latencyNs).filter((k) => !known.includes(k));
  const opts = { xLabel: 'latency (log scale)', yLabel: 'fraction of timed events ≤ x', xLog: true, xFmt: nsAxis, yFmt: (y: number) => `${Math.round(y * 100)}%`, step: true };
  const outcomes = present(['access', ...FAULT_KINDS, ...extra]);
  const stages = present(STAGE_KINDS, 'stage: ');
  const charts = [lineChart(outcomes, { ...opts, name: `${name}-cdf`, caption: 'Latency CDF by fault outcome (and sampled accesses)' })];
  if (stages.length > 0) charts.push(lineChart(stages, { ...opts, name: `${name}-stages-cdf`, caption: 'Latency CDF of the stages inside a fault' }));
  return `<div class="charts">${charts.join('\n')}</div>`;
}

/** Rates between consecutive points (per second of run time), skipping spans a warm-up reset. */
function rates(points: readonly SeriesPoint[], value: (p: SeriesPoint) => number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    const dt = (b.tMs - a.tMs) / 1000;
    const dv = value(b) - value(a);
    if (dt <= 0 || dv < 0 || a.warmingUp) continue;
    out.push([b.tMs / 1000, dv / dt]);
  }
  return out;
}

const secs = (s: number): string => `${+s.toFixed(2)}s`;

function timeSection(body: RunBody): string {
  const pts = body.timeSeries.points;
  if (pts.length < 2) return '<p>The run was too short for a time series (one point per progress interval).</p>';
  const common = { xLabel: 'time since start', xFmt: secs };
  const kinds = FAULT_KIND_NAMES.filter((k) => pts[pts.length - 1].faults[k] > 0);
  const charts = [
    lineChart([{ name: 'accesses/s', points: rates(pts, (p) => p.accesses) }], { ...common, name: 'throughput-time', caption: 'Throughput over the run (accesses per second, per interval)', yLabel: 'accesses/s', yFmt: fmtCount }),
    lineChart(
      [{ name: 'all faults', points: rates(pts, (p) => p.faultsTotal), color: '#1d232b' }, ...kinds.map((k) => ({ name: kindLabel(k), points: rates(pts, (p) => p.faults[k]) }))],
      { ...common, name: 'faults-time', caption: 'Fault rate over the run, by outcome', yLabel: 'faults/s', yFmt: fmtCount },
    ),
    lineChart(
      [
        { name: 'mmu_lock', points: rates(pts, (p) => p.mmuLockWaitNs / 1e6) },
        { name: 'tlb_lock', points: rates(pts, (p) => p.tlbLockWaitNs / 1e6) },
      ],
      { ...common, name: 'locks-time', caption: 'Lock waiting over the run (ms of waiting per second, all vCPUs)', yLabel: 'ms waited / s' , yFmt: (v) => String(+v.toFixed(1)) },
    ),
    lineChart([{ name: 'violations', points: pts.map((p) => [p.tMs / 1000, p.violations] as const), color: '#cf222e' }], { ...common, name: 'violations-time', caption: 'Violations so far', yLabel: 'violations', yFmt: fmtInt, yInteger: true }),
  ];
  return `<p>One point every ${fmtMs(body.timeSeries.intervalMs)}; rates are per interval.</p><div class="charts">${charts.join('\n')}</div>`;
}

function perVcpuSection(body: RunBody): string {
  const v = body.perVcpu;
  const charts = [
    columnChart('vcpu-accesses', 'Accesses per vCPU', v.map((p) => ({ label: String(p.vcpu), value: p.accesses })), { xLabel: 'vCPU', yLabel: 'accesses', yFmt: fmtCount }),
    columnChart(
      'vcpu-faults',
      'Faults per 1,000 accesses, per vCPU',
      v.map((p) => ({ label: String(p.vcpu), value: p.accesses > 0 ? (1000 * p.faults) / p.accesses : 0, color: '#f58518', title: `vCPU ${p.vcpu}: ${fmtInt(p.faults)} faults in ${fmtInt(p.accesses)} accesses` })),
      { xLabel: 'vCPU', yLabel: 'faults / 1k accesses', yFmt: (x) => String(+x.toFixed(1)) },
    ),
    columnChart(
      'vcpu-lockwait',
      'mmu_lock wait per vCPU',
      v.map((p) => ({ label: String(p.vcpu), value: p.mmuLockWaitNs / 1e6, color: '#e45756' })),
      { xLabel: 'vCPU', yLabel: 'ms waited', yFmt: (x) => String(+x.toFixed(1)) },
    ),
  ];
  const rows = v.map((p) => [p.vcpu, fmtInt(p.accesses), fmtInt(p.faults), fmtInt(p.tlbMisses), fmtNs(p.mmuLockWaitNs)]);
  return `<div class="charts">${charts.join('\n')}</div>\n${table(['vCPU', 'accesses', 'faults', 'TLB misses', 'mmu_lock wait'], rows)}`;
}

/** Each L1's share, when there are several: faults per L1 and a table (documents before 1.5 have none). */
function perL1Section(body: RunBody): string {
  const l1s = body.perL1 ?? [];
  if (l1s.length < 2) return '';
  const chart = columnChart(
    'l1-faults',
    'Faults per L1',
    l1s.map((p) => ({ label: String(p.l1), value: p.faults, color: '#4c78a8', title: `L1 ${p.l1} (vCPUs ${p.vcpus.join(', ')}): ${fmtInt(p.faults)} faults, ${fmtInt(p.mmuLockHolds)} holds of its mmu_lock` })),
    { xLabel: 'L1', yLabel: 'faults', yFmt: fmtCount },
  );
  const rows = l1s.map((p) => [p.l1, p.vcpus.join(', '), fmtInt(p.accesses), fmtInt(p.faults), fmtInt(p.mmuLockAcquisitions), fmtInt(p.mmuLockHolds), fmtNs(p.mmuLockWaitNs), fmtInt(p.violations)]);
  return `\n<h2>Per L1</h2>\n<div class="charts">${chart}</div>\n${table(['L1', 'vCPUs', 'accesses', 'faults', 'mmu_lock acquisitions', 'its mmu_lock held', 'mmu_lock wait', 'violations'], rows)}\n`;
}

function lockRow(name: string, l: LockStats): Cell[] {
  return [name, fmtInt(l.acquisitions), fmtInt(l.contended), fmtPct(l.contended, l.acquisitions), fmtNs(l.waitNs), l.acquisitions > 0 ? fmtNs(l.waitNs / l.acquisitions) : '-'];
}

function latencyTable(latencyNs: RunBody['latencyNs']): string {
  const rows: Cell[][] = [];
  for (const [k, s] of Object.entries(latencyNs)) {
    if (s === null) continue;
    rows.push([kindLabel(k), fmtInt(s.count), fmtNs(s.mean), fmtNs(s.p50), fmtNs(s.p90), fmtNs(s.p99), fmtNs(s.p999), fmtNs(s.max)]);
  }
  return rows.length === 0 ? '<p>Nothing was timed.</p>' : table(['kind', 'count', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'], rows);
}

function checksSection(body: RunBody): string {
  const ch = body.checks;
  const parts = [
    `<p>${fmtInt(ch.violations)} violations (${fmtInt(ch.unexplained)} unexplained, ${fmtInt(ch.violations - ch.unexplained)} from windows of the kernel as written), ${fmtInt(ch.audits)} audits, ${fmtInt(ch.lostWrites)} lost writes, ${fmtInt(ch.hostOom)} host out-of-memory faults.</p>`,
  ];
  const byInv = Object.entries(ch.byInvariant).filter(([, n]) => n > 0);
  if (byInv.length > 0) parts.push(table(['invariant', 'violations'], byInv.map(([k, n]) => [k, fmtInt(n)])));
  const byWin = Object.entries(ch.byWindow).filter(([, n]) => n > 0);
  if (byWin.length > 0) parts.push(table(['kernel window', 'violations'], byWin.map(([k, n]) => [k, fmtInt(n)])));
  if (body.violations.length > 0) {
    parts.push(violationList(body.violations));
    if (ch.violations > body.violations.length) parts.push(`<p>Only the first ${fmtInt(body.violations.length)} are recorded in detail.</p>`);
  }
  return parts.join('\n');
}

/** The run in modeled POWER9 time (docs/cost-model.md): rates, where the cycles went, modeled latencies. */
function modeledSection(body: RunBody): string {
  const m = body.modeled;
  if (m === null || m === undefined) return '<p>The cost model is off (cost.model: none): only the simulator\'s wall clock was measured.</p>';
  const total = Object.values(m.breakdown).reduce((a, b) => a + b, 0);
  const rows = Object.entries(m.breakdown)
    .filter(([, c]) => c > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, c]): [string, number] => [k, c]);
  const perVcpu = columnChart(
    'modeled-vcpu-faults',
    'Faults per modeled second, per vCPU',
    m.perVcpu.map((p) => ({ label: String(p.vcpu), value: p.faultsPerSec, color: '#54a24b', title: `vCPU ${p.vcpu}: ${fmtCount(p.faultsPerSec)} faults/s over ${fmtNs(p.durationNs)} modeled` })),
    { xLabel: 'vCPU', yLabel: 'faults / modeled s', yFmt: fmtCount },
  );
  return `<p>${esc(m.model)} at ${m.cpuGHz} GHz: every event charged its cost in cycles onto its vCPU's modeled clock. ${fmtNs(m.durationNs)} of modeled time; modeled lock wait: mmu_lock ${(m.lockWait.mmuLock.share * 100).toFixed(1)}%, tlb_lock ${(m.lockWait.tlbLock.share * 100).toFixed(1)}% of vCPU time; ${fmtInt(m.lockWait.inversions)} acquisitions out of modeled order; skew bound ${fmtInt(m.skewCycles.bound)} cycles (largest lead seen ${fmtInt(m.skewCycles.observedMax)}, ${fmtInt(m.skewCycles.waits)} waits). Every fault records its modeled latency; ${(m.stageSample ?? 1) > 1 ? `one fault in ${fmtInt(m.stageSample)}` : 'every fault'} its stages.</p>
<div class="cards">
${card('modeled accesses / s', fmtCount(m.accessesPerSec))}
${card('modeled faults / s', fmtCount(m.faultsPerSec))}
${card('modeled duration', fmtNs(m.durationNs))}
</div>
${total > 0 ? barChart('modeled-breakdown', `Where the modeled cycles went (${fmtCount(total)} cycles over all vCPUs)`, rows, total, fmtCount) : ''}
<div class="charts">${perVcpu}</div>
${latencyCdfs(m.latencyNs as RunBody['latencyNs'], 'modeled')}
${latencyTable(m.latencyNs as RunBody['latencyNs'])}`;
}

/** The sections of a run body (a run report, and each point of a sweep could use them). */
export function runSections(doc: RunDocument): string {
  const c = doc.counts;
  const faultRows = FAULT_KIND_NAMES.filter((k) => c.faults[k] > 0 || (FAULT_KINDS as readonly string[]).includes(k)).map((k): [string, number] => [kindLabel(k), c.faults[k]]);
  const violations = doc.checks.violations;
  const inv = doc.invalidations;
  return `${headerMeta(doc)}
<div class="cards">
${card('accesses / s', fmtCount(doc.throughput.accessesPerSec))}
${card('faults / s', fmtCount(doc.throughput.faultsPerSec))}
${card('faults / access', c.accesses > 0 ? (c.faultsTotal / c.accesses).toFixed(3) : '-')}
${card('TLB hit rate', fmtPct(c.tlbHits, c.accesses))}
${card('violations', fmtInt(violations), doc.checks.unexplained > 0 ? 'bad' : violations > 0 ? 'warn' : 'ok')}
</div>

<h2>Modeled POWER9 time</h2>
${modeledSection(doc)}

<h2>Latency distributions (the simulator's wall clock)</h2>
<p>${esc(samplingNote(doc))}</p>
${latencyCdfs(doc.latencyNs)}
${latencyTable(doc.latencyNs)}

<h2>Over time</h2>
${timeSection(doc)}

<h2>Fault kinds</h2>
${c.faultsTotal > 0 ? barChart('fault-kinds', `Faults by outcome, as a share of all ${fmtInt(c.faultsTotal)} faults (${(c.faultsTotal / Math.max(1, c.accesses)).toFixed(3)} per access)`, faultRows, c.faultsTotal, fmtCount) : '<p>No faults.</p>'}

<h2>Per vCPU</h2>
${perVcpuSection(doc)}
${perL1Section(doc)}${doc.schedule !== null ? `\n<h2>Controlled schedule</h2>\n${scheduleHtml(doc.schedule, doc.config.vcpus as number)}\n` : ''}
<h2>Counts</h2>
${table(['', 'count', '% of accesses'], [
  ['accesses', fmtInt(c.accesses), fmtPct(c.accesses, c.accesses)],
  ['loads', fmtInt(c.loads), fmtPct(c.loads, c.accesses)],
  ['stores', fmtInt(c.stores), fmtPct(c.stores, c.accesses)],
  ['fetches', fmtInt(c.fetches), fmtPct(c.fetches, c.accesses)],
  ['TLB hits', fmtInt(c.tlbHits), fmtPct(c.tlbHits, c.accesses)],
  ['TLB misses', fmtInt(c.tlbMisses), fmtPct(c.tlbMisses, c.accesses)],
  ['shadow walk hits', fmtInt(c.walkHits), fmtPct(c.walkHits, c.accesses)],
  ['L1 handler runs', fmtInt(c.l1Handled), fmtPct(c.l1Handled, c.accesses)],
  ['writes completed', fmtInt(c.writesCompleted), fmtPct(c.writesCompleted, c.accesses)],
])}

<h2>Invalidations</h2>
${table(['', 'count'], [
  ['tlbie (page)', fmtInt(inv.tlbiePage)],
  ['tlbie (lpid)', fmtInt(inv.tlbieLpid)],
  ['tlbie (all)', fmtInt(inv.tlbieAll)],
  ['H_RPT_INVALIDATE ranges', fmtInt(inv.rptRange)],
  ['host notifier calls', fmtInt(inv.hostNotifier)],
  ['shadow PTEs removed', fmtInt(inv.shadowPtesRemoved)],
  ['rmap entries walked', fmtInt(inv.rmapEntriesWalked)],
  ['TLB entries flushed', fmtInt(inv.tlbFlushes)],
  ['TLB shootdowns waited', fmtInt(inv.tlbShootdowns)],
])}

<h2>Locks</h2>
${table(['', 'acquisitions', 'contended', 'contended %', 'total wait', 'wait / acquisition'], [lockRow('mmu_lock', doc.locks.mmuLock), lockRow('tlb_lock', doc.locks.tlbLock)])}

<h2>Actors</h2>
${table(['', 'events'], Object.entries(doc.actors).map(([k, n]) => [kindLabel(k), fmtInt(n)]))}

<h2>Checks</h2>
${checksSection(doc)}

<h2>Configuration (resolved)</h2>
${configSection(doc.config)}`;
}

export function renderRunHtml(doc: RunDocument): string {
  const file = typeof doc.config.file === 'string' ? doc.config.file : '(inline config)';
  return page(
    `nestsim run: ${file}`,
    `<p class="sub">${esc(`${doc.run.vcpus} vCPUs${doc.run.threads < doc.run.vcpus ? ` on ${doc.run.threads} thread${doc.run.threads === 1 ? '' : 's'}` : ''} · seed ${doc.run.seed} · protocol ${String(doc.config.protocol)} · ${fmtMs(doc.run.durationMs)} measured (${fmtMs(doc.run.wallMs)} wall)`)}</p>\n${runSections(doc)}`,
  );
}
