/**
 * The shared control buffer of a controlled run (sync/turnstile.ts): its words, the named
 * schedule points, the packed form of a choice, and the coordinator's side (making the buffer,
 * reading what the run did). Only the thread holding the turn writes the chooser's words.
 */

/** How the next thread is chosen; `free` is no control at all (threads run freely). */
export const SCHEDULES = ['free', 'random', 'pct', 'modeled', 'exhaustive'] as const;
export type Schedule = (typeof SCHEDULES)[number];

/** Named schedule points, in a fixed order: a point's index is how logs and tokens name it. */
export const POINTS = [
  'start', 'end', 'yield',
  'after-translate', 'after-seq-read', 'after-l1-lookup', 'before-commit', 'nonatomic-rmw', 'hw-rc-update',
  'lock-acquire', 'lock-release', 'pte-update', 'rmap-update', 'tlbie', 'tlbie-wait', 'actor-step',
  'guest-entry', 'guest-exit', 'audit-park', 'audit-wait', 'srcu-grace',
] as const;
export type PointName = (typeof POINTS)[number];
export const POINT_ID: ReadonlyMap<string, number> = new Map(POINTS.map((p, i) => [p, i]));
export const YIELD = 2;

/** Block conditions on a machine word `w[idx]`. */
export const COND = {
  /** (w[idx] & aux) === val */
  eqMasked: 1,
  /** (w[idx] & aux) !== val */
  neMasked: 2,
  /** w[idx] >= w[aux] + val */
  geWord: 3,
} as const;

// Control words.
export const C = {
  turn: 0, steps: 1, decisions: 2, switches: 3, arrived: 4, outcome: 5, prng: 6, strategy: 7,
  n: 8, idle: 9, maxIdle: 10, logLen: 11, logCap: 12, choicesLen: 13, divergedAt: 14, divergedWant: 15,
  divergedFound: 16, pctNext: 17, pctDepth: 18, preemptions: 19, trailLen: 20, stepsHi: 21,
  frozenLen: 22, frozenKind: 23, lenient: 24, preempt: 25,
} as const;
export const HEAD = 32;
export const PER = 9;
/** Per thread: state, block condition, wake-up word, PCT priority, last point, and the step a delay ends at. */
export const P = { status: 0, kind: 1, idx: 2, val: 3, aux: 4, go: 5, prio: 6, lastPoint: 7, sleepUntil: 8 } as const;
export const ST = { absent: 0, runnable: 1, blocked: 2, done: 3 } as const;
/** The turn word once the schedule is abandoned (deadlock, livelock). */
export const ABANDONED = -2;
/** PCT change points kept (depth - 1 of them). */
export const MAX_PCT_DEPTH = 16;
/** Steps the explanation keeps, most recent last. */
export const TRAIL_STEPS = 256;
/**
 * Words per trail entry: (point << 8) | thread (with TRAIL_HAS_PTE when the next two hold a
 * PTE's update), the point's argument (a lock's word, or -1), the PTE word before and after.
 */
export const TRAIL_WORDS = 4;
export const TRAIL_HAS_PTE = 1 << 20;

export const OUTCOMES = ['running', 'completed', 'deadlock', 'livelock', 'failed'] as const;
export type ScheduleOutcomeName = (typeof OUTCOMES)[number];

/** What a controlled run is told: strategy and seed, or an explicit list of choices to follow first. */
export interface ScheduleSpec {
  strategy: Exclude<Schedule, 'free'>;
  seed: number;
  /** PCT: the bug depth d (d - 1 priority change points). */
  depth: number;
  /** PCT: the step count k the change points are drawn from. */
  steps: number;
  /**
   * random: the probability that a decision draws the next thread at random (1: every one does);
   * otherwise the running thread goes on, so a thread paused inside a window stays paused longer.
   */
  preempt?: number;
  /** Consecutive `yield` steps that count as a livelock. */
  maxIdle: number;
  /** Packed choices (see `packChoice`) to follow before the strategy takes over. */
  choices?: Int32Array;
  /**
   * Follow the choices' threads whenever they can run, whatever point the decision is at (a
   * shrunk list, whose edits shift the points); a mismatch is still reported as the divergence.
   */
  lenient?: boolean;
  /** Decisions the log keeps (the choice list a token can carry). */
  logCapacity: number;
}

/** One decision: the thread at the point, the point, the thread chosen. */
export const packChoice = (yielder: number, point: number, chosen: number): number => (point << 16) | (yielder << 8) | chosen;
export const choiceChosen = (c: number): number => c & 0xff;
export const choiceYielder = (c: number): number => (c >>> 8) & 0xff;
export const choicePoint = (c: number): number => (c >>> 16) & 0xffff;

export interface Regions {
  per: number;
  clocksF64: number;
  pct: number;
  choices: number;
  log: number;
  cands: number;
  trail: number;
  /** The trail as it stood at the first violation (`Turnstile.noteViolation`). */
  frozen: number;
  words: number;
}

export function regions(n: number, choices: number, logCap: number): Regions {
  const per = HEAD;
  const clockWord = per + n * PER + ((per + n * PER) & 1);
  const pct = clockWord + 2 * n;
  const ch = pct + MAX_PCT_DEPTH;
  const log = ch + choices;
  // Each logged decision's candidates, a bit per thread (the exhaustive search branches on them).
  const cands = log + logCap;
  const trail = cands + logCap;
  // The trail ring and its copy at the first violation, TRAIL_WORDS per entry.
  const words = trail + 2 * TRAIL_WORDS * TRAIL_STEPS;
  // Whole 8-byte units: the buffer is viewed as Float64 too.
  return { per, clocksF64: clockWord / 2, pct, choices: ch, log, cands, trail, frozen: trail + TRAIL_WORDS * TRAIL_STEPS, words: words + (words & 1) };
}

/** xorshift32 step on the control word (only the turn holder calls it). */
export function nextRandom(c: Int32Array): number {
  let x = c[C.prng];
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  c[C.prng] = x;
  return x >>> 0;
}

function seedWord(seed: number, salt: number): number {
  let h = (Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ salt) | 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h;
}

export const STRATEGY_CODE: Record<ScheduleSpec['strategy'], number> = { random: 1, pct: 2, modeled: 3, exhaustive: 4 };

/** A control buffer for `n` threads following `spec`; the coordinator makes it before the run. */
export function makeScheduleBuffer(n: number, spec: ScheduleSpec): SharedArrayBuffer {
  const nChoices = spec.choices?.length ?? 0;
  const r = regions(n, nChoices, spec.logCapacity);
  const sab = new SharedArrayBuffer(r.words * 4);
  const c = new Int32Array(sab);
  c[C.turn] = -1;
  c[C.n] = n;
  c[C.strategy] = STRATEGY_CODE[spec.strategy];
  c[C.prng] = seedWord(spec.seed, 0x5c4ed);
  c[C.maxIdle] = spec.maxIdle;
  c[C.logCap] = spec.logCapacity;
  c[C.choicesLen] = nChoices;
  c[C.divergedAt] = -1;
  c[C.lenient] = spec.lenient === true ? 1 : 0;
  c[C.preempt] = Math.round((spec.preempt ?? 1) * 65536);
  if (spec.choices) c.set(spec.choices, r.choices);
  if (spec.strategy === 'pct') {
    // Burckhardt et al.: distinct initial priorities d..d+n-1 in random order, and d - 1 change
    // points drawn from [1, k]; at the i-th, the running thread's priority drops to d - i.
    const d = Math.max(1, Math.min(MAX_PCT_DEPTH, spec.depth));
    c[C.pctDepth] = d;
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = nextRandom(c) % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let i = 0; i < n; i++) c[r.per + order[i]! * PER + P.prio] = d + i;
    const points = Array.from({ length: d - 1 }, () => 1 + (nextRandom(c) % Math.max(1, spec.steps)));
    points.sort((a, b) => a - b);
    points.forEach((p, i) => (c[r.pct + i] = p));
  }
  return sab;
}

/** End a schedule from outside (the coordinator, when a vCPU failed): every waiting thread leaves. */
export function abandonSchedule(sab: SharedArrayBuffer): void {
  const c = new Int32Array(sab);
  const n = c[C.n];
  if (Atomics.load(c, C.turn) === ABANDONED) return;
  Atomics.store(c, C.outcome, OUTCOMES.indexOf('failed'));
  Atomics.store(c, C.turn, ABANDONED);
  for (let t = 0; t < n; t++) {
    const g = HEAD + t * PER + P.go;
    Atomics.add(c, g, 1);
    Atomics.notify(c, g);
  }
}

/** What a controlled run did, read by the coordinator after it. */
export interface ScheduleResult {
  outcome: ScheduleOutcomeName;
  steps: number;
  decisions: number;
  switches: number;
  preemptions: number;
  /** Each thread's last point (a deadlock's or livelock's report). */
  lastPoints: PointName[];
  /** The decisions made, packed (`packChoice`); `truncated` when the log filled. */
  choices: Int32Array;
  /** Each logged decision's candidates, a bit per thread. */
  candidates: Int32Array;
  truncated: boolean;
  /** The first decision where a list of choices could not be followed, or null. */
  diverged: { decision: number; expected: { vcpu: number; point: PointName; chose: number }; found: { vcpu: number; point: PointName } } | null;
  /**
   * The steps (up to TRAIL_STEPS) that led to the first violation (the first unexplained one when
   * there is one), oldest first, or the run's last steps when none was reported.
   */
  trail: Array<{ step: number; vcpu: number; point: PointName; arg: number; pte: { old: number; new: number } | null }>;
  trailAt: 'first-violation' | 'end';
}

export function readScheduleResult(sab: SharedArrayBuffer): ScheduleResult {
  const c = new Int32Array(sab);
  const n = c[C.n];
  const r = regions(n, c[C.choicesLen], c[C.logCap]);
  const steps = c[C.stepsHi] * 0x40000000 + c[C.steps];
  const name = (id: number): PointName => POINTS[id] ?? 'yield';
  const frozen = c[C.frozenKind] !== 0;
  const ring = frozen ? r.frozen : r.trail;
  const trailLen = frozen ? c[C.frozenLen] : c[C.trailLen];
  const trail: ScheduleResult['trail'] = [];
  for (let t = Math.max(0, trailLen - TRAIL_STEPS); t < trailLen; t++) {
    const at = ring + TRAIL_WORDS * (t % TRAIL_STEPS);
    const e = c[at];
    const pte = (e & TRAIL_HAS_PTE) !== 0 ? { old: c[at + 2], new: c[at + 3] } : null;
    trail.push({ step: t + 1, vcpu: e & 0xff, point: name((e & ~TRAIL_HAS_PTE) >>> 8), arg: c[at + 1], pte });
  }
  const dAt = c[C.divergedAt];
  const want = c[C.divergedWant];
  const found = c[C.divergedFound];
  return {
    outcome: OUTCOMES[c[C.outcome]] ?? 'running',
    steps,
    decisions: c[C.decisions],
    switches: c[C.switches],
    preemptions: c[C.preemptions],
    lastPoints: Array.from({ length: n }, (_, t) => name(c[r.per + t * PER + P.lastPoint])),
    choices: c.slice(r.log, r.log + c[C.logLen]),
    candidates: c.slice(r.cands, r.cands + c[C.logLen]),
    truncated: c[C.decisions] > c[C.logCap],
    diverged:
      dAt < 0
        ? null
        : {
            decision: dAt,
            expected: { vcpu: choiceYielder(want), point: name(choicePoint(want)), chose: choiceChosen(want) },
            found: { vcpu: choiceYielder(found), point: name(choicePoint(found)) },
          },
    trail,
    trailAt: frozen ? 'first-violation' : 'end',
  };
}
