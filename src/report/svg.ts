/**
 * The HTML reports' building blocks: escaping, tables, cards, the page shell, and SVG charts
 * drawn here (no script, no external asset: a report opens offline and reads without
 * JavaScript). Every chart is a `<figure class="chart">` whose data marks carry class `mark`,
 * so a browser test can check that each one drew something.
 */

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function esc(text: unknown): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:24px 32px;color:#1d232b;background:#f6f7f9;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
.sub{color:#5b6672;margin:0 0 16px}.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #d8dde3;border-radius:8px;padding:12px 18px;min-width:160px}
.card .v{font-size:26px;font-weight:600}.card .l{color:#5b6672;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.ok .v{color:#1a7f37}.bad .v{color:#cf222e}.warn .v{color:#9a6700}
table{border-collapse:collapse;background:#fff;border:1px solid #d8dde3;margin:4px 0}
th,td{padding:4px 12px;border-bottom:1px solid #eceff2;text-align:right;white-space:nowrap}
th{background:#eef1f4;font-weight:600}td:first-child,th:first-child{text-align:left}
code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}pre{background:#fff;border:1px solid #d8dde3;padding:8px 12px;white-space:pre-wrap;word-break:break-all}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure.chart{margin:0;background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px}
figcaption{font-weight:600;font-size:13px;margin:0 0 4px}
svg text{font:11px system-ui,sans-serif;fill:#1d232b}svg .axis{stroke:#c4cbd3;stroke-width:1}svg .grid{stroke:#eceff2;stroke-width:1}
ol.viol li{margin-bottom:6px}.inv{color:#cf222e;font-weight:600}.win{color:#9a6700;font-weight:600}
table.timeline td.pt{text-align:left;background:#f6f8fa}table.timeline td.idle{color:#c4cbd3}table.timeline tr.viol-step td{background:#ffebe9}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:0}dl.meta dt{color:#5b6672}dl.meta dd{margin:0}
`;

export const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#bab0ac', '#ff9da6', '#17becf', '#8c564b'];

export type Cell = string | number;

/** A table; all cells escaped. */
export function table(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const th = header.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function card(label: string, value: string, cls = ''): string {
  return `<div class="card ${cls}"><div class="v">${esc(value)}</div><div class="l">${esc(label)}</div></div>`;
}

/** Key-value lines (the document's header: command, host, commit). */
export function meta(rows: ReadonlyArray<[string, string]>): string {
  return `<dl class="meta">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

/** A whole page: the head with the inline style, then `body`. */
export function page(title: string, body: string): string {
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
${body}
</body>
</html>
`;
}

function figure(name: string, caption: string, w: number, h: number, inner: string): string {
  return `<figure class="chart" data-chart="${esc(name)}"><figcaption>${esc(caption)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(caption)}">${inner}</svg></figure>`;
}

/** Ticks 1, 2 or 5 times a power of ten covering lo..hi (linear axes). */
function niceTicks(lo: number, hi: number, target = 5, integer = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = integer ? Math.max(1, (hi - lo) / target) : (hi - lo) / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

export interface Series {
  readonly name: string;
  /** [x, y] by increasing x. */
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly color?: string;
}

export interface LineChartOptions {
  readonly name: string;
  readonly caption: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xLog?: boolean;
  readonly xFmt?: (x: number) => string;
  readonly yFmt?: (y: number) => string;
  /** Category labels: x values are their indices (a sweep axis of sizes or names). */
  readonly xCategories?: readonly string[];
  /** Draw y from 0 (default) or from the data's minimum. */
  readonly yFromZero?: boolean;
  /** Steps (a CDF) instead of straight segments. */
  readonly step?: boolean;
  /** y counts whole things: ticks at whole numbers only. */
  readonly yInteger?: boolean;
  readonly width?: number;
  readonly height?: number;
}

const M = { left: 64, right: 180, top: 12, bottom: 40 } as const;

/** Lines on shared axes, with a legend; an empty series list draws a note instead. */
export function lineChart(series: readonly Series[], o: LineChartOptions): string {
  const w = o.width ?? 600;
  const h = o.height ?? 260;
  const pw = w - M.left - M.right;
  const ph = h - M.top - M.bottom;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.xLog || x > 0));
  const fx = o.xFmt ?? ((x: number) => String(x));
  const fy = o.yFmt ?? ((y: number) => String(y));
  if (all.length === 0) return figure(o.name, o.caption, w, 40, `<text x="8" y="24">no data</text>`);
  let x0 = Math.min(...all.map((p) => p[0]));
  let x1 = Math.max(...all.map((p) => p[0]));
  let y0 = o.yFromZero === false ? Math.min(...all.map((p) => p[1])) : Math.min(0, ...all.map((p) => p[1]));
  let y1 = Math.max(...all.map((p) => p[1]));
  if (o.xCategories) {
    x0 = -0.5;
    x1 = o.xCategories.length - 0.5;
  }
  if (o.xLog) {
    x0 = 10 ** Math.floor(Math.log10(x0));
    x1 = 10 ** Math.ceil(Math.log10(x1));
    if (x1 <= x0) x1 = x0 * 10;
  } else if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const yt = niceTicks(y0, y1, 5, o.yInteger);
  y1 = Math.max(y1, yt[yt.length - 1]);
  const X = (x: number): number => M.left + (o.xLog ? (Math.log10(x) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0)) : (x - x0) / (x1 - x0)) * pw;
  const Y = (y: number): number => M.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  for (const t of yt) {
    const gy = Y(t).toFixed(1);
    parts.push(`<line class="grid" x1="${M.left}" y1="${gy}" x2="${M.left + pw}" y2="${gy}"/><text x="${M.left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${esc(fy(t))}</text>`);
  }
  const xt: Array<[number, string]> = o.xCategories
    ? o.xCategories.map((c, i) => [i, c])
    : o.xLog
      ? Array.from({ length: Math.round(Math.log10(x1 / x0)) + 1 }, (_, i): [number, string] => [x0 * 10 ** i, fx(x0 * 10 ** i)])
      : niceTicks(x0, x1).map((t): [number, string] => [t, fx(t)]);
  for (const [t, label] of xt) {
    const gx = X(t).toFixed(1);
    parts.push(`<line class="axis" x1="${gx}" y1="${M.top + ph}" x2="${gx}" y2="${M.top + ph + 4}"/><text x="${gx}" y="${M.top + ph + 16}" text-anchor="middle">${esc(label)}</text>`);
  }
  parts.push(`<line class="axis" x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}"/><line class="axis" x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${h - 6}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.xLog || x > 0));
    if (pts.length === 0) return;
    let d = '';
    pts.forEach(([x, y], k) => {
      if (k === 0) d += `M${X(x).toFixed(1)} ${Y(y).toFixed(1)}`;
      else if (o.step) d += `H${X(x).toFixed(1)}V${Y(y).toFixed(1)}`;
      else d += `L${X(x).toFixed(1)} ${Y(y).toFixed(1)}`;
    });
    parts.push(`<path class="mark" d="${d}" fill="none" stroke="${color}" stroke-width="1.8"><title>${esc(s.name)}</title></path>`);
    if (pts.length <= 40) {
      for (const [x, y] of pts) parts.push(`<circle class="mark" cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.6" fill="${color}"><title>${esc(`${s.name}: ${fx(x)}, ${fy(y)}`)}</title></circle>`);
    }
    const ly = M.top + 8 + i * 16;
    parts.push(`<rect x="${M.left + pw + 12}" y="${ly - 7}" width="10" height="10" fill="${color}"/><text x="${M.left + pw + 26}" y="${ly + 2}">${esc(s.name)}</text>`);
  });
  return figure(o.name, o.caption, w, h, parts.join(''));
}

/** Horizontal bars, one per [label, value], each labelled with its value and share of `total`. */
export function barChart(name: string, caption: string, rows: ReadonlyArray<readonly [string, number]>, total: number, fmt: (v: number) => string): string {
  const labelW = 160;
  const barW = 380;
  const valueW = 130;
  const rowH = 22;
  const maxV = Math.max(1, ...rows.map(([, v]) => v));
  const w = labelW + barW + valueW;
  const h = rows.length * rowH + 12;
  const parts = rows.map(([label, v], i) => {
    const y = 6 + i * rowH;
    const bw = v > 0 ? Math.max(1, (v / maxV) * barW) : 0;
    const share = total > 0 ? `${((100 * v) / total).toFixed(1)}%` : '-';
    return (
      `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end">${esc(label)}</text>` +
      `<rect class="mark" x="${labelW}" y="${y + 3}" width="${bw.toFixed(1)}" height="${rowH - 6}" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(`${label}: ${fmt(v)} (${share})`)}</title></rect>` +
      `<text x="${(labelW + bw + 6).toFixed(1)}" y="${y + 15}">${esc(`${fmt(v)} (${share})`)}</text>`
    );
  });
  return figure(name, caption, w, h, parts.join(''));
}

export interface Column {
  readonly label: string;
  readonly value: number;
  readonly color?: string;
  readonly title?: string;
}

/** Vertical columns on a shared y axis (per vCPU, per round); labels thinned to fit. */
export function columnChart(name: string, caption: string, cols: readonly Column[], o: { yLabel: string; xLabel: string; yFmt?: (v: number) => string; width?: number; height?: number }): string {
  const w = o.width ?? Math.min(900, Math.max(420, M.left + 20 + cols.length * 14));
  const h = o.height ?? 220;
  const pw = w - M.left - 20;
  const ph = h - M.top - M.bottom;
  const fy = o.yFmt ?? ((v: number) => String(v));
  if (cols.length === 0) return figure(name, caption, w, 40, `<text x="8" y="24">no data</text>`);
  const yt = niceTicks(0, Math.max(1e-9, ...cols.map((c) => c.value)));
  const y1 = Math.max(yt[yt.length - 1], 1e-9);
  const slot = pw / cols.length;
  const bw = Math.max(1, slot * 0.8);
  const Y = (v: number): number => M.top + ph - (v / y1) * ph;
  const parts: string[] = [];
  for (const t of yt) {
    const gy = Y(t).toFixed(1);
    parts.push(`<line class="grid" x1="${M.left}" y1="${gy}" x2="${M.left + pw}" y2="${gy}"/><text x="${M.left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${esc(fy(t))}</text>`);
  }
  const every = Math.max(1, Math.ceil(cols.length / Math.max(1, Math.floor(pw / 36))));
  cols.forEach((c, i) => {
    const x = M.left + i * slot + (slot - bw) / 2;
    const top = Y(c.value);
    // A zero still draws a hairline so every column is visible.
    const height = Math.max(1, M.top + ph - top);
    parts.push(`<rect class="mark" x="${x.toFixed(1)}" y="${(M.top + ph - height).toFixed(1)}" width="${bw.toFixed(1)}" height="${height.toFixed(1)}" fill="${c.color ?? PALETTE[0]}"><title>${esc(c.title ?? `${c.label}: ${fy(c.value)}`)}</title></rect>`);
    if (i % every === 0) parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${M.top + ph + 14}" text-anchor="middle">${esc(c.label)}</text>`);
  });
  parts.push(`<line class="axis" x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${h - 6}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  return figure(name, caption, w, h, parts.join(''));
}
