/**
 * `nestsim compare <base...> -- <new...>`: each figure's change from the base documents to the
 * new ones, with its uncertainty, critcmp and hyperfine style.
 *
 * - Run documents: one value per document and figure; with 2 or more documents a side, Welch's
 *   t-test on the means (replicates are runs with different seeds, or repeats).
 * - Stress documents: one value per round (each round is a replicate with its own seed), pooled
 *   over a side's documents; the Mann-Whitney U test on the two distributions.
 *
 * The p-values of all figures tested are Holm-adjusted (many figures are compared at once), and a
 * change is called at `alpha` after adjustment; otherwise "no change" (or "n/a" without
 * replicates). The direction says better or worse where a figure has one.
 */
import type { RunDocument, StressDocument } from '../stats/document.js';
import { holm, mannWhitney, summarize, welch, type Summary } from '../stats/tests.js';

type Better = 'higher' | 'lower' | 'none';

interface Figure<D> {
  name: string;
  better: Better;
  /** Values of one document: one for a run, one per round for a stress document. */
  values: (doc: D) => number[];
}

const one = (v: number | null | undefined): number[] => (v === null || v === undefined || !Number.isFinite(v) ? [] : [v]);

const LATENCY = ['shadowInsert', 'hostInstantiate', 'reflected'] as const;

const RUN_FIGURES: ReadonlyArray<Figure<RunDocument>> = [
  { name: 'modeled faults/s', better: 'higher', values: (d) => one(d.modeled?.faultsPerSec) },
  { name: 'modeled accesses/s', better: 'higher', values: (d) => one(d.modeled?.accessesPerSec) },
  ...LATENCY.flatMap((k): Array<Figure<RunDocument>> => [
    { name: `modeled ${k} p50 (ns)`, better: 'lower', values: (d) => one(d.modeled?.latencyNs[k]?.p50) },
    { name: `modeled ${k} p99 (ns)`, better: 'lower', values: (d) => one(d.modeled?.latencyNs[k]?.p99) },
  ]),
  { name: 'wall faults/s', better: 'higher', values: (d) => one(d.throughput.faultsPerSec) },
  { name: 'wall accesses/s', better: 'higher', values: (d) => one(d.throughput.accessesPerSec) },
  ...LATENCY.map((k): Figure<RunDocument> => ({ name: `wall ${k} p50 (ns)`, better: 'lower', values: (d) => one(d.latencyNs[k]?.p50) })),
  { name: 'faults per access', better: 'none', values: (d) => one(d.counts.accesses > 0 ? d.counts.faultsTotal / d.counts.accesses : null) },
  { name: 'violations', better: 'lower', values: (d) => one(d.checks.violations) },
];

const STRESS_FIGURES: ReadonlyArray<Figure<StressDocument>> = [
  { name: 'violations per round', better: 'none', values: (d) => d.rounds.map((r) => r.violations) },
  { name: 'unexplained per round', better: 'none', values: (d) => d.rounds.map((r) => r.unexplained) },
  { name: 'violating round (0/1)', better: 'none', values: (d) => d.rounds.map((r) => (r.unexplained > 0 ? 1 : 0)) },
  { name: 'faults per 1k accesses', better: 'none', values: (d) => d.rounds.filter((r) => r.accesses > 0).map((r) => (1000 * r.faults) / r.accesses) },
  { name: 'round wall ms', better: 'lower', values: (d) => d.rounds.map((r) => r.durationMs) },
];

export interface ComparedFigure {
  name: string;
  base: Summary;
  new: Summary;
  /** (new - base) / base, or NaN. */
  change: number;
  test: 'welch' | 'mann-whitney' | null;
  /** Holm-adjusted p, or NaN when no test could run. */
  p: number;
  verdict: 'better' | 'worse' | 'higher' | 'lower' | 'no change' | 'n/a';
}

export class CompareError extends Error {
  override name = 'CompareError';
}

/** Compare two sides of documents of one kind (run or stress). */
export function compareDocuments(base: readonly (RunDocument | StressDocument)[], next: readonly (RunDocument | StressDocument)[], alpha = 0.05): ComparedFigure[] {
  if (base.length === 0 || next.length === 0) throw new CompareError('expected at least one document on each side of --');
  const kinds = new Set([...base, ...next].map((d) => d.kind));
  if (kinds.size !== 1) throw new CompareError(`expected documents of one kind, found ${[...kinds].join(' and ')}`);
  const kind = [...kinds][0];
  if (kind !== 'run' && kind !== 'stress') throw new CompareError(`expected run or stress documents, found ${kind} documents`);
  const figures = (kind === 'run' ? RUN_FIGURES : STRESS_FIGURES) as ReadonlyArray<Figure<RunDocument | StressDocument>>;
  const rows = figures.map((f) => {
    const a = base.flatMap((d) => f.values(d));
    const b = next.flatMap((d) => f.values(d));
    const t = kind === 'run' ? welch(a, b) : mannWhitney(a, b);
    return { f, a: summarize(a), b: summarize(b), t };
  });
  const adjusted = holm(rows.map((r) => (r.t === undefined ? NaN : r.t.p)));
  return rows
    .filter((r) => r.a.n > 0 || r.b.n > 0)
    .map((r) => {
      const p = adjusted[rows.indexOf(r)];
      const change = r.a.mean !== 0 ? (r.b.mean - r.a.mean) / Math.abs(r.a.mean) : r.b.mean === 0 ? 0 : NaN;
      let verdict: ComparedFigure['verdict'] = 'n/a';
      if (!Number.isNaN(p)) {
        if (p >= alpha || r.b.mean === r.a.mean) verdict = 'no change';
        else if (r.f.better === 'none') verdict = r.b.mean > r.a.mean ? 'higher' : 'lower';
        else verdict = (r.b.mean > r.a.mean) === (r.f.better === 'higher') ? 'better' : 'worse';
      }
      return { name: r.f.name, base: r.a, new: r.b, change, test: r.t?.test ?? null, p, verdict };
    });
}

// Large values as whole numbers with separators, so a mean and its spread read in one unit
// (was "0.3447M ± 13.25": the mean in millions, the spread in ones).
const num = (x: number): string => (Number.isNaN(x) ? '-' : Math.abs(x) >= 1e4 ? Math.round(x).toLocaleString('en-US') : `${+x.toPrecision(4)}`);
const side = (s: Summary): string => (s.n === 0 ? '-' : s.n === 1 ? num(s.mean) : `${num(s.mean)} ± ${num(s.sd)} (n=${s.n})`);
const pct = (c: number): string => (Number.isNaN(c) ? '-' : `${c >= 0 ? '+' : ''}${(c * 100).toFixed(1)}%`);
const pText = (r: ComparedFigure): string => (r.test === null ? '-' : `${r.p < 0.001 ? '<0.001' : r.p.toFixed(3)} (${r.test === 'welch' ? 't' : 'U'})`);

/** The comparison as a terminal table (`markdown` false) or a Markdown one. */
export function renderComparison(rows: readonly ComparedFigure[], alpha: number, markdown: boolean): string {
  const header = ['figure', 'base', 'new', 'change', 'p (Holm)', 'verdict'];
  const cells = rows.map((r) => [r.name, side(r.base), side(r.new), pct(r.change), pText(r), r.verdict]);
  const note = `Welch's t on document means (run documents) or Mann-Whitney U on per-round values (stress); p-values Holm-adjusted over the ${rows.filter((r) => r.test !== null).length} figures tested; alpha ${alpha}.`;
  if (markdown) {
    const line = (c: string[]): string => `| ${c.join(' | ')} |`;
    return [line(header), line(header.map((_, i) => (i === 0 || i === 5 ? '---' : '---:'))), ...cells.map(line), '', note].join('\n') + '\n';
  }
  const all = [header, ...cells];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return [...all.map((r) => r.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()), '', note].join('\n') + '\n';
}
