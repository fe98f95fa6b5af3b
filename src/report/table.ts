/**
 * The terminal report of a results document (`nestsim run` without `--quiet`), and the one-line
 * live progress display. Pure string building: the caller writes it, and decides on colour
 * (`--no-color`, NO_COLOR, not a TTY).
 */

import { FAULT_KINDS, LATENCY_KINDS, type FaultKind, type LatencyHistogram, type LockStats, type RunBody } from '../stats/results.js';
import type { RunDocument } from '../stats/document.js';
import { FAULT_KIND_NAMES } from '../stats/kinds.js';
import { LOCK_WAIT_SAMPLE, STAGE_SAMPLE_EVERY } from '../hv/context.js';

export interface TableOptions {
  /** Emit ANSI colour codes. */
  color: boolean;
}

/** Display names of latency kinds and counters; unknown keys fall back to their camelCase split. */
export const KIND_LABELS: Readonly<Record<string, string>> = {
  access: 'access',
  shadowInsert: 'shadow insert',
  hostInstantiate: 'host instantiate',
  reflected: 'reflected to L1',
  rcFixed: 'RC fixed',
  rcReflected: 'RC reflected',
  retried: 'retried',
  mmio: 'MMIO',
  dsi: 'DSI',
  inval: 'invalid',
  error: 'error',
  l1Direct: 'L1 direct (own access)',
  l1Walk: 'stage: L1 walk',
  l0Lookup: 'stage: L0 lookup',
  instantiate: 'stage: instantiate',
  shadowInsertCommit: 'stage: shadow commit',
  tlbLockWait: 'stage: tlb_lock wait',
  mmuLockWait: 'stage: mmu_lock wait',
};

/** The fault kind timed most often over several runs (a sweep's latency figures are its); undefined when none was timed. */
export function mostTimedFaultKind(bodies: ReadonlyArray<Pick<RunBody, 'latencyNs'>>): FaultKind | undefined {
  let best: FaultKind | undefined;
  let most = 0;
  for (const k of FAULT_KINDS) {
    const n = bodies.reduce((sum, b) => sum + (b.latencyNs[k]?.count ?? 0), 0);
    if (n > most) [best, most] = [k, n];
  }
  return best;
}

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/** `n` in `unit`s to 3 significant digits ("1.23", "12.3", "123"). */
function sig3(n: number): string {
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

/** A duration in ns with a human unit: "850 ns", "1.23 µs", "45.6 ms", "2.00 s". */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  const a = Math.abs(ns);
  // Promote when rounding would print 1000 of the smaller unit.
  if (a < 999.5) return `${Math.round(ns)} ns`;
  if (a < 999_500) return `${sig3(ns / 1e3)} µs`;
  if (a < 999_500_000) return `${sig3(ns / 1e6)} ms`;
  return `${sig3(ns / 1e9)} s`;
}

/** A duration in ms: "850 ms", "12.3 s". */
export function fmtMs(ms: number): string {
  return ms < 999.5 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const COUNT_UNITS = ['k', 'M', 'G', 'T'] as const;

/** A count, short: "999", "35.0k", "1.2M". */
export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a < 999.5) return String(Math.round(n));
  let scaled = n;
  for (const unit of COUNT_UNITS) {
    scaled /= 1000;
    if (Math.abs(scaled) < 999.95 || unit === 'T') return `${scaled.toFixed(1)}${unit}`;
  }
  return String(n); // unreachable: the loop returns at 'T'
}

/** An exact integer with thousands separators: "1,234,567". */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** part/whole as a percentage with one decimal; "-" when whole is 0. */
export function fmtPct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '-';
}

// --- layout -------------------------------------------------------------------------------

const ANSI = { red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', bold: '\x1b[1m', dim: '\x1b[2m', reset: '\x1b[0m' } as const;
type Style = Exclude<keyof typeof ANSI, 'reset'>;

function paint(text: string, style: Style, color: boolean): string {
  return color ? `${ANSI[style]}${text}${ANSI.reset}` : text;
}

/** Visible width: ANSI sequences take no columns. */
function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

function pad(s: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - visibleLength(s)));
  return right ? fill + s : s + fill;
}

/**
 * Rows under a header, columns separated by two spaces; the first column is left-aligned, the
 * others right-aligned (they are numbers). A rule of box characters under the header.
 */
function grid(header: string[], rows: string[][], color: boolean): string[] {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    '  ' + cells.map((cell, i) => pad(cell, widths[i], i > 0)).join('  ').trimEnd();
  const rule = '  ' + widths.map((w) => '─'.repeat(w)).join('──');
  return [paint(line(header), 'bold', color), paint(rule, 'dim', color), ...rows.map(line)];
}

function heading(title: string, color: boolean): string {
  return paint(title, 'bold', color);
}

function configString(doc: RunDocument, key: string): string | undefined {
  const v = doc.config[key];
  return typeof v === 'string' ? v : undefined;
}

function configList(doc: RunDocument, key: string): string[] {
  const v = doc.config[key];
  return Array.isArray(v) ? v.map(String) : [];
}

// --- sections -----------------------------------------------------------------------------

function headerLines(doc: RunDocument, color: boolean): string[] {
  const file = configString(doc, 'file') ?? '(inline config)';
  const protocol = configString(doc, 'protocol') ?? '?';
  const fixes = configList(doc, 'fixes');
  const mutations = configList(doc, 'mutations');
  const lines = [
    `${paint(`${doc.tool.name} ${doc.tool.version}`, 'bold', color)}  ${file}  ` +
      `vcpus ${doc.run.vcpus}${doc.run.threads < doc.run.vcpus ? ` (on ${doc.run.threads} thread${doc.run.threads === 1 ? '' : 's'})` : ''}  seed ${doc.run.seed}  protocol ${protocol}` +
      (fixes.length > 0 ? ` (fixes ${fixes.join(',')})` : '') +
      `  duration ${fmtMs(doc.run.durationMs)} (wall ${fmtMs(doc.run.wallMs)})`,
  ];
  if (mutations.length > 0) lines.push(`mutations: ${mutations.join(', ')}`);
  lines.push(`node ${doc.host.node}, ${doc.host.cpus} cpus (${doc.host.cpuModel})`);
  if (doc.interrupted) lines.push(paint('interrupted (by a signal): the figures cover the run up to the stop', 'yellow', color));
  if (doc.run.endedInWarmup) lines.push(paint('the run ended during warm-up: nothing was measured (shorten warmup or lengthen duration)', 'yellow', color));
  if (doc.run.deadlineMs !== null && doc.run.overranMs > Math.max(100, doc.run.deadlineMs / 10)) {
    lines.push(paint(`overran its ${fmtMs(doc.run.deadlineMs)} deadline by ${fmtMs(doc.run.overranMs)} (audits or actors running long)`, 'yellow', color));
  }
  return lines;
}

function throughputLines(doc: RunDocument, color: boolean): string[] {
  return [
    `${heading('Throughput', color)}  ${fmtCount(doc.throughput.accessesPerSec)} accesses/s  ` +
      `${fmtCount(doc.throughput.faultsPerSec)} faults/s  (the simulator's wall clock; latencies below too)`,
  ];
}

/** The run in modeled POWER9 time (docs/cost-model.md), when the cost model is on. */
function modeledLines(doc: RunDocument, color: boolean): string[] {
  const m = doc.modeled;
  if (m === null || m === undefined) return [];
  const lines = [
    `${heading('Modeled', color)}  ${m.model} at ${m.cpuGHz} GHz: ${fmtNs(m.durationNs)} modeled  ` +
      `${fmtCount(m.accessesPerSec)} accesses/s  ${fmtCount(m.faultsPerSec)} faults/s`,
    `  lock wait  mmu_lock ${(m.lockWait.mmuLock.share * 100).toFixed(1)}%  tlb_lock ${(m.lockWait.tlbLock.share * 100).toFixed(1)}% of vCPU time` +
      `  (${fmtInt(m.lockWait.inversions)} acquisitions out of modeled order; skew bound ${fmtInt(m.skewCycles.bound)} cycles, ${fmtInt(m.skewCycles.waits)} waits)`,
  ];
  const total = Object.values(m.breakdown).reduce((a, b) => a + b, 0);
  const parts = Object.entries(m.breakdown)
    .filter(([, c]) => c > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, c]) => `${k} ${fmtPct(c, total)}`);
  if (parts.length > 0) lines.push(`  cycles    ${parts.join('  ')}`);
  const rows: string[][] = [];
  for (const [kind, s] of Object.entries(m.latencyNs)) {
    if (s === null) continue;
    rows.push([kindLabel(kind), fmtCount(s.count), fmtNs(s.mean), fmtNs(s.p50), fmtNs(s.p90), fmtNs(s.p99), fmtNs(s.max)]);
  }
  if (rows.length > 0) {
    lines.push(...grid(['modeled latency', 'count', 'mean', 'p50', 'p90', 'p99', 'max'], rows, color));
    // Before schema 1.7.0 there was no stageSample: every fault recorded its stages.
    const stages = (m.stageSample ?? 1) > 1 ? `stages on 1 fault in ${fmtInt(m.stageSample)}` : 'stages on every fault';
    lines.push(`  (every fault; ${stages}, lock-wait stages on every modeled wait)`);
  }
  return lines;
}

function countLines(doc: RunDocument, color: boolean): string[] {
  const c = doc.counts;
  const row = (label: string, n: number): string[] => [label, fmtInt(n), fmtPct(n, c.accesses)];
  // Faults are events per access, not a share of them (an access can fault several times).
  const faultRow = (label: string, n: number): string[] => [label, fmtInt(n), c.accesses > 0 ? `${(n / c.accesses).toFixed(3)}/access` : '-'];
  const rows = [
    row('accesses', c.accesses),
    row('  loads', c.loads),
    row('  stores', c.stores),
    row('  fetches', c.fetches),
    row('tlb hits', c.tlbHits),
    row('tlb misses', c.tlbMisses),
    row('  shadow walk hits', c.walkHits),
    faultRow('faults', c.faultsTotal),
  ];
  for (const kind of FAULT_KIND_NAMES) {
    const n = c.faults[kind];
    if (n > 0 || (FAULT_KINDS as readonly string[]).includes(kind)) rows.push(faultRow(`  ${kindLabel(kind)}`, n));
  }
  rows.push(row('L1 handler runs', c.l1Handled), row('writes completed', c.writesCompleted));
  if (c.l1Accesses > 0) rows.push(row("L1's own accesses", c.l1Accesses), row('  hardware R/C sets (L1 table)', c.l1HwRcSets));
  return [heading('Counts', color), ...grid(['', 'count', 'of accesses'], rows, color)];
}

function latencyLines(doc: RunDocument, color: boolean): string[] {
  const known = LATENCY_KINDS as readonly string[];
  const kinds = [...known, ...Object.keys(doc.latencyNs).filter((k) => !known.includes(k))];
  const rows: string[][] = [];
  for (const kind of kinds) {
    const s: LatencyHistogram | null | undefined = doc.latencyNs[kind];
    if (s === undefined || s === null) continue;
    rows.push([kindLabel(kind), fmtCount(s.count), fmtNs(s.mean), fmtNs(s.p50), fmtNs(s.p90), fmtNs(s.p99), fmtNs(s.p999), fmtNs(s.max)]);
  }
  if (rows.length === 0) return [`${heading('Latency', color)}  (nothing timed)`];
  return [`${heading('Latency', color)}  ${samplingNote(doc)}`, ...grid(['', 'count', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'], rows, color)];
}

/**
 * Which share of events the latency rows time (`stats.*Sample`): a timer call costs more than a
 * TLB hit, so timing everything would measure the timer. Counts above are exact.
 */
export function samplingNote(doc: RunDocument): string {
  const st = (doc.config as { stats?: { accessSample?: number; faultSample?: number } }).stats;
  const one = (n: number | undefined, what: string): string => (n === undefined || n <= 1 ? `every ${what}` : `1 ${what} in ${n.toLocaleString('en-US')}`);
  return `(timed: ${one(st?.faultSample, 'fault')}, ${one(st?.accessSample, 'access')}; stages on 1 timed fault in ${STAGE_SAMPLE_EVERY}; lock waits on 1 contended wait in ${LOCK_WAIT_SAMPLE})`;
}

function invalidationLines(doc: RunDocument, color: boolean): string[] {
  const i = doc.invalidations;
  const rows: [string, number][] = [
    ['tlbie (page)', i.tlbiePage],
    ['tlbie (lpid)', i.tlbieLpid],
    ['tlbie (all)', i.tlbieAll],
    ['H_RPT_INVALIDATE ranges', i.rptRange],
    ['host notifier calls', i.hostNotifier],
    ['shadow PTEs removed', i.shadowPtesRemoved],
    ['rmap entries walked', i.rmapEntriesWalked],
    ['TLB entries flushed', i.tlbFlushes],
    ['TLB shootdowns waited', i.tlbShootdowns],
  ];
  return [heading('Invalidations', color), ...grid(['', 'count'], rows.map(([l, n]) => [l, fmtInt(n)]), color)];
}

function lockRow(name: string, l: LockStats): string[] {
  return [
    name,
    fmtInt(l.acquisitions),
    fmtInt(l.contended),
    fmtPct(l.contended, l.acquisitions),
    fmtNs(l.waitNs),
    l.acquisitions > 0 ? fmtNs(l.waitNs / l.acquisitions) : '-',
  ];
}

function lockLines(doc: RunDocument, color: boolean): string[] {
  return [
    heading('Locks', color),
    ...grid(
      ['', 'acquisitions', 'contended', 'contended %', 'total wait', 'wait/acq'],
      [lockRow('mmu_lock', doc.locks.mmuLock), lockRow('tlb_lock', doc.locks.tlbLock)],
      color,
    ),
  ];
}

/** Each L1's share (`perL1`), when there are several (documents before schema 1.5 have none). */
function perL1Lines(doc: RunDocument, color: boolean): string[] {
  const l1s = doc.perL1 ?? [];
  if (l1s.length < 2) return [];
  const rows = l1s.map((p) => [String(p.l1), p.vcpus.join(','), fmtInt(p.accesses), fmtInt(p.faults), fmtInt(p.mmuLockAcquisitions), fmtInt(p.mmuLockHolds), fmtPct(p.mmuLockContended, p.mmuLockAcquisitions), fmtNs(p.mmuLockWaitNs), fmtInt(p.violations)]);
  return [heading('Per L1', color), ...grid(['L1', 'vCPUs', 'accesses', 'faults', 'mmu_lock acq', 'its holds', 'contended %', 'wait', 'violations'], rows, color)];
}

function actorLines(doc: RunDocument, color: boolean): string[] {
  const rows = Object.entries(doc.actors)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => [kindLabel(name), fmtInt(n)]);
  return rows.length === 0 ? [] : [heading('Actors', color), ...grid(['', 'events'], rows, color)];
}

/** How many detailed violation records the terminal report prints. */
export const TABLE_VIOLATION_LINES = 10;

function checkLines(doc: RunDocument, color: boolean): string[] {
  const ch = doc.checks;
  const n = ch.violations;
  const u = ch.unexplained;
  const reproduced = n - u;
  const count = (k: number, what: string): string => `${fmtInt(k)} ${what}${k === 1 ? '' : 's'}`;
  const verdict =
    reproduced === 0
      ? paint(count(n, 'violation'), n === 0 ? 'green' : 'red', color)
      : paint(count(u, 'unexplained violation'), u === 0 ? 'green' : 'red', color) +
        `, ${paint(`${fmtInt(reproduced)} from windows of the kernel as written`, 'yellow', color)}`;
  const lines = [
    `${heading('Checks', color)}  ${verdict}  (${fmtInt(ch.audits)} audits, ${fmtInt(ch.lostWrites)} lost writes)`,
  ];
  if (ch.hostOom > 0) {
    lines.push(
      paint(
        `  host out of memory: ${fmtInt(ch.hostOom)} host page fault${ch.hostOom === 1 ? '' : 's'} found no memory (${fmtInt(doc.counts.faults.hostOom)} nested faults failed)` +
          (ch.overcommit ? ' (host.overcommit: expected)' : ': the run fails; set host.overcommit: true if it is expected, or give the host more memory'),
        ch.overcommit ? 'yellow' : 'red',
        color,
      ),
    );
  }
  const windows = Object.entries(ch.byWindow);
  if (windows.length > 0) {
    lines.push(`  reproduced kernel windows (docs/model.md §7; --strict fails on them): ${windows.map(([w, c]) => `${w} ×${fmtInt(c)}`).join(', ')}`);
  }
  for (const [inv, count] of Object.entries(ch.byInvariant).sort((a, b) => b[1] - a[1])) {
    if (count > 0) lines.push(`  ${inv}: ${fmtInt(count)}`);
  }
  for (const v of doc.violations.slice(0, TABLE_VIOLATION_LINES)) {
    const where = [
      v.lpid !== undefined ? `lpid ${v.lpid}` : '',
      v.l2Ra !== undefined ? `l2Ra ${v.l2Ra}` : '',
      v.l1Ra !== undefined ? `l1Ra ${v.l1Ra}` : '',
      v.hostRa !== undefined ? `hostRa ${v.hostRa}` : '',
    ].filter((s) => s !== '');
    const ptes = Object.entries(v.pte ?? {}).map(([role, val]) => `${role} pte ${val}`);
    lines.push(
      `  ${paint(v.invariant, v.window ? 'yellow' : 'red', color)} ${v.vcpu < 0 ? 'coordinator/actor' : `vcpu ${v.vcpu}`}${v.l1 !== undefined ? ` in L1 ${v.l1}` : ''} at ${v.timeMs.toFixed(1)} ms: ${v.message}` +
        (where.length + ptes.length > 0 ? ` [${[...where, ...ptes].join(', ')}]` : ''),
    );
  }
  const shown = Math.min(doc.violations.length, TABLE_VIOLATION_LINES);
  if (shown > 0 && n > shown) lines.push(`  ... ${fmtInt(n - shown)} more`);
  return lines;
}

/** The full terminal report, sections separated by blank lines, ending with a newline. */
export function renderTable(doc: RunDocument, opts: TableOptions): string {
  const { color } = opts;
  const sections = [
    headerLines(doc, color),
    throughputLines(doc, color),
    modeledLines(doc, color),
    countLines(doc, color),
    latencyLines(doc, color),
    invalidationLines(doc, color),
    lockLines(doc, color),
    perL1Lines(doc, color),
    actorLines(doc, color),
    checkLines(doc, color),
  ].filter((s) => s.length > 0);
  return sections.map((s) => s.join('\n')).join('\n\n') + '\n';
}
