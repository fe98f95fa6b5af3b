/**
 * Thresholds on a results document (stats/thresholds.ts has the grammar): before a command runs,
 * every path is checked against the results schema of the document it will write (a path that
 * names no number field is a config error, exit 2); after it, each threshold is evaluated and
 * printed pass or fail, and any failure makes the command exit 1. A sweep evaluates each
 * threshold at every point (paths are a point's fields) and fails it at the first point where it
 * does not hold.
 */
import { compare, fieldTimeUnit, parseThreshold, type Threshold, type ThresholdResult } from '../stats/thresholds.js';
import type { AnyDocument, DocumentKind, SweepDocument } from '../stats/document.js';
import { FAULT_KIND_NAMES } from '../stats/kinds.js';
import { resultsSchema } from './schema.js';

type Schema = Record<string, unknown>;

/** The schema of the object a threshold's path starts from, for documents of `kind`. */
function rootOf(kind: DocumentKind): { props: Record<string, Schema>; defs: Record<string, Schema> } {
  const s = resultsSchema() as { properties: Record<string, Schema>; $defs: Record<string, Schema> };
  const defs = s.$defs;
  const body = defs[`${kind}Body`] as { properties: Record<string, Schema> };
  if (kind === 'sweep') {
    // A point: its own fields and a run body's (its allOf).
    const point = ((body.properties.points as Schema).items as Schema) ?? {};
    const run = (defs.runBody as { properties: Record<string, Schema> }).properties;
    return { props: { ...run, ...((point.properties as Record<string, Schema>) ?? {}) }, defs };
  }
  return { props: { ...s.properties, ...body.properties }, defs };
}

function deref(s: Schema, defs: Record<string, Schema>): Schema {
  let out = s;
  while (typeof out.$ref === 'string') out = defs[(out.$ref as string).replace('#/$defs/', '')];
  // A nullable section (`oneOf: [null, {...}]`): its object branch.
  if (Array.isArray(out.oneOf)) out = deref((out.oneOf as Schema[]).find((b) => b.type !== 'null') ?? out, defs);
  return out;
}

function typesOf(s: Schema): string[] {
  return Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
}

/** Why `t`'s path names no number field of a `kind` document, or undefined when it names one. */
export function pathProblem(t: Threshold, kind: DocumentKind): string | undefined {
  const { props, defs } = rootOf(kind);
  let here: Schema = { type: 'object', properties: props };
  for (let i = 0; i < t.path.length; i++) {
    const seg = t.path[i];
    const s = deref(here, defs);
    const at = t.path.slice(0, i).join('.') || 'the document';
    let next: Schema | undefined;
    if (typesOf(s).includes('array')) next = /^\d+$/.test(seg) ? (s.items as Schema) : undefined;
    else {
      const own = (s.properties as Record<string, Schema> | undefined)?.[seg];
      const names = (s.propertyNames as { enum?: string[] } | undefined)?.enum;
      if (own !== undefined) next = own;
      else if (names !== undefined && !names.includes(seg)) next = undefined;
      // Latency maps may hold every fault kind, beyond the ones they always have; nothing else.
      else if (typeof s.additionalProperties === 'object' && (s.properties === undefined || (FAULT_KIND_NAMES as readonly string[]).includes(seg))) next = s.additionalProperties as Schema;
    }
    if (next === undefined) {
      const known = s.properties !== undefined ? Object.keys(s.properties as object) : ((s.propertyNames as { enum?: string[] } | undefined)?.enum ?? []);
      return `${at} has no field "${seg}"${known.length > 0 ? ` (it has ${known.slice(0, 12).join(', ')}${known.length > 12 ? ', ...' : ''})` : ''}`;
    }
    here = next;
  }
  const leaf = deref(here, defs);
  const types = typesOf(leaf);
  if (!types.includes('number') && !types.includes('integer')) return `${t.path.join('.')} is ${types.length > 0 ? `${/^[aeiou]/.test(types[0]) ? 'an' : 'a'} ${types.join(' or ')}` : 'not a single value'}, not a number`;
  return undefined;
}

/** Parse and check every expression for a `kind` document; the first problem as text. */
export function checkThresholds(exprs: readonly string[], kind: DocumentKind): { thresholds: Threshold[]; problem?: { expr: string; why: string } } {
  const thresholds: Threshold[] = [];
  for (const expr of exprs) {
    const t = parseThreshold(expr);
    if (typeof t === 'string') return { thresholds, problem: { expr, why: t } };
    const why = pathProblem(t, kind);
    if (why !== undefined) return { thresholds, problem: { expr, why } };
    thresholds.push(t);
  }
  return { thresholds };
}

function valueAt(obj: unknown, path: readonly string[]): number | null {
  let v: unknown = obj;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[seg];
  }
  // A tally (checks.byInvariant) lists only what happened: an absent name counts 0.
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : null;
}

/** Evaluate checked thresholds on the document they were checked for. */
export function evaluateThresholds(doc: AnyDocument, thresholds: readonly Threshold[]): ThresholdResult[] {
  return thresholds.map((t) => {
    if (doc.kind !== 'sweep') {
      const actual = valueAt(doc, t.path);
      return { expr: t.expr, pass: actual !== null && compare(actual, t.op, t.value), actual, at: null };
    }
    const points = (doc as SweepDocument).points;
    let last: ThresholdResult = { expr: t.expr, pass: true, actual: null, at: null };
    for (const p of points) {
      const actual = valueAt(p, t.path);
      const at = Object.entries(p.values).map(([k, v]) => `${k}=${v}`).join(' ');
      last = { expr: t.expr, pass: actual !== null && compare(actual, t.op, t.value), actual, at };
      if (!last.pass) return last;
    }
    return last;
  });
}

/** The terminal lines: the tally, then one per threshold, pass or fail, with the value found (only the failed ones with `onlyFailed`). */
export function renderThresholds(results: readonly ThresholdResult[], color: boolean, onlyFailed = false): string {
  if (results.length === 0) return '';
  const paint = (ok: boolean, s: string): string => (color ? `\x1b[${ok ? 32 : 31}m${s}\x1b[0m` : s);
  const failed = results.filter((r) => !r.pass).length;
  const lines = [`Thresholds  ${results.length - failed} passed, ${failed} failed`];
  for (const r of results) {
    if (onlyFailed && r.pass) continue;
    const t = parseThreshold(r.expr);
    const unit = typeof t === 'string' ? null : fieldTimeUnit(t.path);
    const found = r.actual === null ? 'no value: nothing recorded' : `found ${+r.actual.toPrecision(6)}${unit !== null ? ` ${unit}` : ''}`;
    lines.push(`  ${paint(r.pass, r.pass ? 'pass' : 'FAIL')}  ${r.expr}  (${found}${r.at !== null ? ` at ${r.at}` : ''})`);
  }
  return lines.join('\n') + '\n';
}
