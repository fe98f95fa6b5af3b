/**
 * A controlled run's `schedule` section and its replay token (docs/schedules.md).
 *
 * A token is data: a format version, the `run` command that rebuilds the round's config (the
 * config file and every override, the seed and the schedule's strategy among them), a hash of
 * the config file (a changed file is noticed), the first violation the run reported, and
 * optionally the explicit list of choices, each named by the thread at the point, the point and
 * the thread chosen. `nestsim replay` needs nothing else.
 */
import { hashHex, zlib } from '../util/lazy.js';
import { readFileSync } from 'node:fs';
import { choiceChosen, choicePoint, choiceYielder, POINTS, type ScheduleResult } from '../sync/schedule-layout.js';
import { hex64, pteToIsa } from '../mmu/pte.js';

export const TOKEN_PREFIX = 'nsx1.';
export const TOKEN_VERSION = 1;

/** The first violation a token expects its replay to reproduce. */
export interface ExpectedViolation {
  invariant: string;
  vcpu: number;
  message: string;
}

export interface TokenData {
  v: number;
  /** argv (after `nestsim`) of the `run` that rebuilds the config. */
  argv: string[];
  /** `configHash` of the config file. */
  config: string;
  first: ExpectedViolation | null;
  /** Packed choices (schedule-layout.ts `packChoice`), deflated, base64url; absent: the strategy decides. */
  choices?: string;
  /** Follow the choices' threads whatever point each decision is at (a shrunk list). */
  lenient?: boolean;
}

export class TokenError extends Error {
  override name = 'TokenError';
}

/**
 * A short hash of the config file `cfg` was read from: the token's argv rebuilds the rest, so a
 * replay notices when the file changed since (empty when it cannot be read).
 */
export function configHash(cfg: { file: string }): string {
  try {
    return hashHex('sha256', readFileSync(cfg.file)).slice(0, 12);
  } catch {
    return '';
  }
}

export function packChoices(choices: Int32Array): string {
  return zlib().deflateRawSync(Buffer.from(choices.buffer, choices.byteOffset, choices.byteLength)).toString('base64url');
}

export function unpackChoices(s: string): Int32Array {
  let bytes: Buffer;
  try {
    bytes = zlib().inflateRawSync(Buffer.from(s, 'base64url'));
  } catch {
    throw new TokenError('the token\'s choice list is damaged (it does not inflate)');
  }
  if (bytes.length % 4 !== 0) throw new TokenError(`the token's choice list is damaged (${bytes.length} bytes, not a multiple of 4)`);
  const out = new Int32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt32LE(i * 4);
  return out;
}

export function encodeToken(d: TokenData): string {
  return TOKEN_PREFIX + zlib().deflateRawSync(Buffer.from(JSON.stringify(d))).toString('base64url');
}

export function decodeToken(s: string): TokenData {
  const t = s.trim();
  if (!t.startsWith(TOKEN_PREFIX)) {
    const m = /^nsx(\d+)\./.exec(t);
    throw new TokenError(m ? `a schedule token of format ${m[1]}, which this nestsim (format ${TOKEN_VERSION}) does not read` : `a schedule token (starting ${TOKEN_PREFIX}), found "${t.slice(0, 24)}${t.length > 24 ? '...' : ''}"`);
  }
  let d: unknown;
  try {
    d = JSON.parse(zlib().inflateRawSync(Buffer.from(t.slice(TOKEN_PREFIX.length), 'base64url')).toString('utf8'));
  } catch {
    throw new TokenError('a schedule token, found one that is damaged (it does not decode; was it cut short?)');
  }
  const o = d as Partial<TokenData>;
  if (typeof o !== 'object' || o === null || o.v !== TOKEN_VERSION || !Array.isArray(o.argv) || !o.argv.every((a) => typeof a === 'string') || typeof o.config !== 'string') {
    throw new TokenError('a schedule token, found one whose contents are not a schedule');
  }
  return o as TokenData;
}

export interface ScheduleSection {
  strategy: 'random' | 'pct' | 'modeled' | 'exhaustive';
  /** The seed its choices derive from (the run's seed). */
  seed: number;
  /** pct: depth d, the step count k its change points were drawn from, and the bound 1 / (n k^(d-1)) on finding a depth-d bug per run. */
  pct: { depth: number; steps: number; probabilityBound: number } | null;
  outcome: 'completed' | 'deadlock' | 'livelock' | 'failed';
  points: number;
  decisions: number;
  switches: number;
  preemptions: number;
  /** Each vCPU's last schedule point (where a deadlock or livelock left it). */
  lastPoints: string[];
  diverged: ScheduleResult['diverged'];
  /** The steps before the first violation (or the run's last steps), oldest first; `detail` names the lock of a lock point. */
  timeline: Array<{ step: number; vcpu: number; point: string; detail?: string }>;
  timelineAt: 'first-violation' | 'end';
  /** `nestsim replay TOKEN` reruns this run's schedule. */
  token: string;
  /** The same with the explicit choice list (reports where a replay diverges); null when the list overflowed. */
  choicesToken: string | null;
}

/** Schedule steps a document's timeline keeps. */
export const TIMELINE_STEPS = 64;

export function scheduleSection(
  r: ScheduleResult,
  o: {
    strategy: ScheduleSection['strategy'];
    seed: number;
    depth: number;
    steps: number;
    vcpus: number;
    argv: string[];
    config: string;
    first: ExpectedViolation | null;
    /** The name of the word a point is about (a lock's), if it has one. */
    nameOf?: (word: number) => string | undefined;
  },
): ScheduleSection {
  const base: TokenData = { v: TOKEN_VERSION, argv: o.argv, config: o.config, first: o.first };
  return {
    strategy: o.strategy,
    seed: o.seed,
    pct: o.strategy === 'pct' ? { depth: o.depth, steps: o.steps, probabilityBound: 1 / (o.vcpus * o.steps ** (o.depth - 1)) } : null,
    outcome: r.outcome === 'running' ? 'completed' : r.outcome,
    points: r.steps,
    decisions: r.decisions,
    switches: r.switches,
    preemptions: r.preemptions,
    lastPoints: r.lastPoints,
    diverged: r.diverged,
    timeline: r.trail.slice(-TIMELINE_STEPS).map((e) => {
      // A lock point names its lock; a PTE update shows the word before and after, as ISA values.
      const detail = e.pte !== null ? `${hex64(pteToIsa(e.pte.old))} -> ${hex64(pteToIsa(e.pte.new))}` : e.arg >= 0 ? o.nameOf?.(e.arg) : undefined;
      return { step: e.step, vcpu: e.vcpu, point: e.point, ...(detail !== undefined ? { detail } : {}) };
    }),
    timelineAt: r.trailAt,
    // An exhaustive search's run is its choice list (the seed alone gives the search's first run).
    token: o.strategy === 'exhaustive' && !r.truncated ? encodeToken({ ...base, choices: packChoices(r.choices) }) : encodeToken(base),
    choicesToken: r.truncated ? null : encodeToken({ ...base, choices: packChoices(r.choices) }),
  };
}

/** Points whose detail is a PTE's word before and after (long): shown after the row, not in its column. */
const PTE_POINTS: ReadonlySet<string> = new Set(['pte-update', 'hw-rc-update']);

/**
 * The timeline as a table: a row per step, a column per vCPU naming the point it passed (and its
 * lock); a PTE update's word before and after follows the row.
 */
export function renderTimeline(s: Pick<ScheduleSection, 'timeline' | 'timelineAt'>, vcpus: number, rows = 24): string {
  const steps = s.timeline.slice(-rows);
  if (steps.length === 0) return '';
  const label = (e: ScheduleSection['timeline'][number]): string => (e.detail !== undefined && !PTE_POINTS.has(e.point) ? `${e.point} ${e.detail}` : e.point);
  const width = Math.max(14, ...POINTS.map((p) => p.length), ...steps.map((e) => label(e).length)) + 1;
  const head = `${'step'.padStart(8)}  ${Array.from({ length: vcpus }, (_, v) => `vCPU ${v}`.padEnd(width)).join('')}`.trimEnd();
  const lines = [`schedule ${s.timelineAt === 'first-violation' ? 'up to the first violation' : 'at the end of the run'} (last ${steps.length} steps):`, head];
  for (const e of steps) {
    const cols = Array.from({ length: vcpus }, (_, v) => (v === e.vcpu ? label(e) : '.').padEnd(width)).join('');
    const pte = e.detail !== undefined && PTE_POINTS.has(e.point) ? `  ${e.detail}` : '';
    lines.push(`${String(e.step).padStart(8)}  ${cols}${pte}`.trimEnd());
  }
  return lines.join('\n');
}

/** A choice, readable: "vCPU 1 at lock-acquire -> vCPU 0". */
export function describeChoice(c: number): string {
  const y = choiceYielder(c);
  return `${y === 0xff ? 'the start' : `vCPU ${y} at ${POINTS[choicePoint(c)] ?? '?'}`} -> vCPU ${choiceChosen(c)}`;
}
