/**
 * `--html FILE`: the results document as one self-contained HTML page. No external assets and
 * no script: inline CSS, and inline SVG charts drawn here. Every piece of text that comes from
 * the document (config values, file names, violation messages) goes through `esc`.
 */

import { KEYS, formatValue } from '../workload/keys.js';
import { keyValueOf } from '../workload/config.js';
import { FAULT_KINDS, LATENCY_KINDS, type LockStats, type ResultsDocument } from '../stats/results.js';
import { FAULT_KIND_NAMES } from '../stats/kinds.js';
import { fmtCount, fmtInt, fmtMs, fmtNs, fmtPct, kindLabel, samplingNote } from './table.js';

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function esc(text: unknown): string {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:24px 32px;color:#1d232b;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
.sub{color:#5b6672;margin:0 0 16px}.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #d8dde3;border-radius:8px;padding:12px 18px;min-width:160px}
.card .v{font-size:26px;font-weight:600}.card .l{color:#5b6672;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.ok .v{color:#1a7f37}.bad .v{color:#cf222e}
table{border-collapse:collapse;background:#fff;border:1px solid #d8dde3;margin:4px 0}
th,td{padding:4px 12px;border-bottom:1px solid #eceff2;text-align:right;white-space:nowrap}
th{background:#eef1f4;font-weight:600}td:first-child,th:first-child{text-align:left}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px}
svg text{font:11px system-ui,sans-serif;fill:#1d232b}svg .axis{stroke:#c4cbd3;stroke-width:1}
ol.viol li{margin-bottom:6px}.inv{color:#cf222e;font-weight:600}
`;

type Cell = string | number;

/** A table; number cells are right-aligned by CSS, all cells escaped. */
function table(header: string[], rows: Cell[][]): string {
  const th = header.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function card(label: string, value: string, cls = ''): string {
  return `<div class="card ${cls}"><div class="v">${esc(value)}</div><div class="l">${esc(label)}</div></div>`;
}

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#bab0ac', '#ff9da6'];

const BAR = { labelW: 150, barW: 420, valueW: 110, rowH: 22, pad: 6 } as const;

/** Horizontal bars on a linear scale, one per [label, value]. */
function barChart(rows: [string, number][], total: number): string {
  const maxV = Math.max(1, ...rows.map(([, v]) => v));
  const w = BAR.labelW + BAR.barW + BAR.valueW;
  const h = rows.length * BAR.rowH + BAR.pad * 2;
  const parts = rows.map(([label, v], i) => {
    const y = BAR.pad + i * BAR.rowH;
    const bw = v > 0 ? Math.max(1, (v / maxV) * BAR.barW) : 0;
    return (
      `<text x="${BAR.labelW - 6}" y="${y + 15}" text-anchor="end">${esc(label)}</text>` +
      `<rect x="${BAR.labelW}" y="${y + 3}" width="${bw.toFixed(1)}" height="${BAR.rowH - 6}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${label}: ${fmtInt(v)}`)}</title></rect>` +
      `<text x="${(BAR.labelW + bw + 6).toFixed(1)}" y="${y + 15}">${esc(`${fmtCount(v)} (${fmtPct(v, total)})`)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="fault kinds">${parts.join('')}</svg>`;
}

const PERCENTILES = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p99.9', 'p999'],
  ['max', 'max'],
] as const;

const LAT = { labelW: 46, barW: 300, valueW: 70, rowH: 18, top: 22, axisH: 18 } as const;

/** Log-scale percentile bars for one latency kind; `lo`..`hi` (ns) is shared by all charts. */
function latencyChart(kind: string, s: ResultsDocument['latencyNs'][string], lo: number, hi: number): string {
  const span = Math.log10(hi) - Math.log10(lo);
  const x = (ns: number): number => LAT.labelW + ((Math.log10(Math.max(ns, lo)) - Math.log10(lo)) / span) * LAT.barW;
  const w = LAT.labelW + LAT.barW + LAT.valueW;
  const h = LAT.top + PERCENTILES.length * LAT.rowH + LAT.axisH;
  const parts: string[] = [`<text x="0" y="14" font-weight="600">${esc(`${kindLabel(kind)} (${fmtCount(s.count)})`)}</text>`];
  const axisY = LAT.top + PERCENTILES.length * LAT.rowH;
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    const gx = x(d).toFixed(1);
    parts.push(`<line class="axis" x1="${gx}" y1="${LAT.top}" x2="${gx}" y2="${axisY}"/>`);
    parts.push(`<text x="${gx}" y="${axisY + 13}" text-anchor="middle">${esc(fmtNs(d))}</text>`);
  }
  PERCENTILES.forEach(([label, key], i) => {
    const v = s[key];
    const y = LAT.top + i * LAT.rowH;
    const end = x(v);
    parts.push(
      `<text x="${LAT.labelW - 6}" y="${y + 13}" text-anchor="end">${esc(label)}</text>` +
        `<rect x="${LAT.labelW}" y="${y + 3}" width="${Math.max(1, end - LAT.labelW).toFixed(1)}" height="${LAT.rowH - 6}" fill="${PALETTE[i]}"><title>${esc(`${label} ${fmtNs(v)}`)}</title></rect>` +
        `<text x="${(end + 4).toFixed(1)}" y="${y + 13}">${esc(fmtNs(v))}</text>`,
    );
  });
  return `<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(`${kind} latency percentiles`)}">${parts.join('')}</svg></div>`;
}

function latencySection(doc: ResultsDocument): string {
  const known = LATENCY_KINDS as readonly string[];
  const kinds = [...known, ...Object.keys(doc.latencyNs).filter((k) => !known.includes(k))].filter(
    (k) => (doc.latencyNs[k]?.count ?? 0) > 0,
  );
  if (kinds.length === 0) return '<p>Nothing was timed.</p>';
  const sums = kinds.map((k) => doc.latencyNs[k]);
  const smallest = Math.max(1, Math.min(...sums.map((s) => Math.max(1, s.p50))));
  const largest = Math.max(10, ...sums.map((s) => s.max));
  const lo = 10 ** Math.floor(Math.log10(smallest));
  let hi = 10 ** Math.ceil(Math.log10(largest));
  if (hi <= lo) hi = lo * 10;
  const rows = kinds.map((k, i) => {
    const s = sums[i];
    return [kindLabel(k), fmtInt(s.count), fmtNs(s.mean), fmtNs(s.p50), fmtNs(s.p90), fmtNs(s.p99), fmtNs(s.p999), fmtNs(s.max)];
  });
  return (
    `<div class="charts">${kinds.map((k, i) => latencyChart(k, sums[i], lo, hi)).join('\n')}</div>\n` +
    table(['kind', 'count', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'], rows)
  );
}

/**
 * The resolved config as users write it: one row per key of the key table, the value in the
 * key's own units (`host.memory` 4G, `duration` 5s, `warmup` 2s or a count).
 */
function configRows(config: Record<string, unknown>): [string, string][] {
  const rows: [string, string][] = [];
  for (const spec of KEYS) {
    const v = keyValueOf(config, spec);
    if (v === undefined) continue;
    const text = Array.isArray(v) ? (v.length > 0 ? v.map(String).join(', ') : '(none)') : formatValue(spec, v);
    rows.push([spec.key, text]);
  }
  return rows;
}

function lockRow(name: string, l: LockStats): Cell[] {
  return [
    name,
    fmtInt(l.acquisitions),
    fmtInt(l.contended),
    fmtPct(l.contended, l.acquisitions),
    fmtNs(l.waitNs),
    l.acquisitions > 0 ? fmtNs(l.waitNs / l.acquisitions) : '-',
  ];
}

function violationsSection(doc: ResultsDocument): string {
  const ch = doc.checks;
  const byInv = Object.entries(ch.byInvariant).filter(([, n]) => n > 0);
  const parts = [
    `<p>${fmtInt(ch.violations)} violations, ${fmtInt(ch.audits)} audits, ${fmtInt(ch.lostWrites)} lost writes.</p>`,
  ];
  if (byInv.length > 0) parts.push(table(['invariant', 'violations'], byInv.map(([k, n]) => [k, fmtInt(n)])));
  if (doc.violations.length > 0) {
    const items = doc.violations.map((v) => {
      const fields: [string, string | undefined][] = [
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
      return (
        `<li><span class="inv">${esc(v.invariant)}</span> vCPU ${esc(v.vcpu)} at ${esc(v.timeMs.toFixed(1))} ms: ` +
        `${esc(v.message)}${detail === '' ? '' : `<br>${detail}`}</li>`
      );
    });
    parts.push(`<ol class="viol">\n${items.join('\n')}\n</ol>`);
    if (ch.violations > doc.violations.length) {
      parts.push(`<p>Only the first ${fmtInt(doc.violations.length)} are recorded in detail.</p>`);
    }
  }
  return parts.join('\n');
}

export function renderHtml(doc: ResultsDocument): string {
  const file = typeof doc.config['file'] === 'string' ? doc.config['file'] : '(inline config)';
  const protocol = typeof doc.config['protocol'] === 'string' ? doc.config['protocol'] : '?';
  const c = doc.counts;
  const violations = doc.checks.violations;

  // invalid/error outcomes only when they happened; the contract kinds always.
  const faultRows = FAULT_KIND_NAMES
    .filter((k) => c.faults[k] > 0 || (FAULT_KINDS as readonly string[]).includes(k))
    .map((k): [string, number] => [kindLabel(k), c.faults[k]]);

  const countRows: Cell[][] = [
    ['accesses', fmtInt(c.accesses), fmtPct(c.accesses, c.accesses)],
    ['loads', fmtInt(c.loads), fmtPct(c.loads, c.accesses)],
    ['stores', fmtInt(c.stores), fmtPct(c.stores, c.accesses)],
    ['fetches', fmtInt(c.fetches), fmtPct(c.fetches, c.accesses)],
    ['TLB hits', fmtInt(c.tlbHits), fmtPct(c.tlbHits, c.accesses)],
    ['TLB misses', fmtInt(c.tlbMisses), fmtPct(c.tlbMisses, c.accesses)],
    ['shadow walk hits', fmtInt(c.walkHits), fmtPct(c.walkHits, c.accesses)],
    ['faults', fmtInt(c.faultsTotal), fmtPct(c.faultsTotal, c.accesses)],
    ['L1 handler runs', fmtInt(c.l1Handled), fmtPct(c.l1Handled, c.accesses)],
    ['writes completed', fmtInt(c.writesCompleted), fmtPct(c.writesCompleted, c.accesses)],
  ];

  const inv = doc.invalidations;
  const config = configRows(doc.config);

  const title = `nestsim: ${file}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="sub">${esc(
    `${doc.tool.name} ${doc.tool.version} · ${doc.run.vcpus} vCPUs · seed ${doc.run.seed} · protocol ${protocol} · ` +
      `${fmtMs(doc.run.durationMs)} measured (${fmtMs(doc.run.wallMs)} wall) · node ${doc.run.node}, ${doc.run.cpus} cpus`,
  )}</p>
<div class="cards">
${card('accesses / s', fmtCount(doc.throughput.accessesPerSec))}
${card('faults / s', fmtCount(doc.throughput.faultsPerSec))}
${card('TLB hit rate', fmtPct(c.tlbHits, c.accesses))}
${card('violations', fmtInt(violations), violations === 0 ? 'ok' : 'bad')}
</div>

<h2>Fault kinds</h2>
${c.faultsTotal > 0 ? barChart(faultRows, c.faultsTotal) : '<p>No faults.</p>'}

<h2>Counts</h2>
${table(['', 'count', '% of accesses'], countRows)}

<h2>Latency percentiles (log scale)</h2>
<p>${esc(samplingNote(doc))}</p>
${latencySection(doc)}

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
${table(['', 'acquisitions', 'contended', 'contended %', 'total wait', 'wait / acquisition'], [
    lockRow('mmu_lock', doc.locks.mmuLock),
    lockRow('tlb_lock', doc.locks.tlbLock),
  ])}

<h2>Actors</h2>
${table(['', 'events'], Object.entries(doc.actors).map(([k, n]) => [kindLabel(k), fmtInt(n)]))}

<h2>Per vCPU</h2>
${table(['vCPU', 'accesses', 'faults'], doc.perVcpu.map((v) => [v.vcpu, fmtInt(v.accesses), fmtInt(v.faults)]))}

<h2>Checks</h2>
${violationsSection(doc)}

<h2>Configuration (resolved)</h2>
${table(['key', 'value'], config)}
</body>
</html>
`;
}
