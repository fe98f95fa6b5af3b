/**
 * Thresholds, k6 style: `thresholds:` in the config and `--threshold EXPR` on the command line.
 * An expression is a path of the results document, a comparison and a value with its unit:
 *
 *     latencyNs.shadowInsert.p99 < 10us
 *     modeled.faultsPerSec > 2e6
 *     checks.byInvariant.I5-no-lost-write == 0
 *
 * The grammar (docs/results.md, "Thresholds"): `PATH OP VALUE`, where PATH is dot-separated
 * field names (a number indexes an array: `perVcpu.0.faults`), OP one of `<`, `<=`, `>`, `>=`,
 * `==`, `!=`, and VALUE a number (`2e6`, `0.5`) with an optional unit: `ns`, `us` (or `µs`),
 * `ms`, `s` for a time field (one whose path has a segment ending in `Ns` or `Ms`: the value is
 * converted to the field's unit), or `k`, `M`, `G` (thousands, millions, billions) for any field.
 * Parsing is here (the config checks the grammar as it loads); whether the path names a number
 * field of the document is checked against the results schema before a run (report/thresholds.ts).
 */

export const THRESHOLD_OPS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type ThresholdOp = (typeof THRESHOLD_OPS)[number];

export interface Threshold {
  /** The expression as written. */
  readonly expr: string;
  readonly path: readonly string[];
  readonly op: ThresholdOp;
  /** The value in the field's own unit (ns for an `...Ns` field, ms for an `...Ms` field). */
  readonly value: number;
}

/** One threshold's verdict, as a document's header records it (report/thresholds.ts evaluates). */
export interface ThresholdResult {
  expr: string;
  pass: boolean;
  /** The field's value (at `at`, for a sweep), or null when it held none (nothing recorded). */
  actual: number | null;
  /** For a sweep: the point the verdict was taken at (its swept values), else null. */
  at: string | null;
}

/** What a threshold expression looks like, for error messages. */
export const THRESHOLD_GRAMMAR = 'PATH OP VALUE[unit], like "latencyNs.shadowInsert.p99 < 10us" (OP one of < <= > >= == !=; unit ns, us, ms, s for a time field, or k, M, G)';

const TIME_UNITS_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 };
const SCALES: Readonly<Record<string, number>> = { k: 1e3, M: 1e6, G: 1e9 };

/** The unit a path's field is in: ns, ms, or none (counts, rates, fractions). */
export function fieldTimeUnit(path: readonly string[]): 'ns' | 'ms' | null {
  for (let i = path.length - 1; i >= 0; i--) {
    if (/Ns$/.test(path[i])) return 'ns';
    if (/Ms$/.test(path[i])) return 'ms';
  }
  return null;
}

/** Parse one expression; a string saying what is wrong when it does not parse. */
export function parseThreshold(expr: string): Threshold | string {
  const m = /^\s*([A-Za-z0-9_.-]+)\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ]*)\s*$/.exec(expr);
  if (m === null) {
    if (!/(<=|>=|==|!=|<|>)/.test(expr)) return 'no comparison: expected one of < <= > >= == !=';
    if (!/^\s*[A-Za-z0-9_.-]+\s*(<=|>=|==|!=|<|>)/.test(expr)) return 'the path before the comparison is not field names separated by dots';
    return 'the value after the comparison is not a number with an optional unit';
  }
  const path = m[1].split('.');
  if (path.some((s) => s === '')) return `expected a path of field names separated by single dots, found "${m[1]}"`;
  const op = m[2] as ThresholdOp;
  let value = Number(m[3]);
  const unit = m[4];
  if (unit !== '') {
    const time = TIME_UNITS_NS[unit];
    const scale = SCALES[unit];
    if (time !== undefined) {
      const fieldUnit = fieldTimeUnit(path);
      if (fieldUnit === null) return `"${unit}" is a time unit, but ${m[1]} is not a time field (its name does not end in Ns or Ms)`;
      value = fieldUnit === 'ns' ? value * time : (value * time) / 1e6;
    } else if (scale !== undefined) value *= scale;
    else return `unknown unit "${unit}" (expected ns, us, ms, s, k, M or G)`;
  }
  return { expr: expr.trim(), path, op, value };
}

/**
 * A config's `thresholds` value (the key table's check): a list of expressions (or one string),
 * each parsed; the expressions as written, duplicates dropped, or the first bad one's index and why.
 */
export function thresholdList(raw: unknown): { ok: true; value: string[] } | { ok: false; expected: string; index?: number; hint: string } {
  const expected = `a threshold, ${THRESHOLD_GRAMMAR}`;
  if (!Array.isArray(raw) && typeof raw !== 'string') return { ok: false, expected, hint: '(expected a list of expressions)' };
  const items: unknown[] = typeof raw === 'string' ? [raw] : raw;
  const out: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const parsed = typeof item === 'string' ? parseThreshold(item) : 'expected an expression (a string)';
    if (typeof parsed === 'string') return { ok: false, expected, ...(Array.isArray(raw) ? { index: i } : {}), hint: `(${parsed})` };
    if (!out.includes(parsed.expr)) out.push(parsed.expr);
  }
  return { ok: true, value: out };
}

/** Whether `actual OP value` holds. */
export function compare(actual: number, op: ThresholdOp, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}
