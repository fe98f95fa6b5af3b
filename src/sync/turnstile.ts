/**
 * Controlled interleavings (docs/schedules.md): the vCPU threads keep running on their own
 * workers, but only one of them runs at a time between two schedule points. A turn word in a
 * shared control buffer says whose turn it is; at each point the thread holding the turn asks a
 * seeded chooser who runs next and, if it is another thread, hands the turn over (`Atomics.notify`
 * on that thread's go word) and sleeps on its own. Only the turn holder touches the chooser's
 * state, so a schedule depends on nothing but its seed (or its list of choices) and the code.
 *
 * A thread that cannot go on (a lock held by another, a tlbie waiting for a vCPU to pass an access
 * boundary, an audit barrier) blocks on a condition over a word of the machine; the chooser only
 * picks a blocked thread once its condition holds. No runnable thread while some are blocked is a
 * deadlock; a long run of `yield` points (threads polling for something no one makes happen) is
 * a livelock. Both abandon the schedule: every thread leaves at its next point with
 * `ScheduleAbandoned`, and the outcome names each thread's last point.
 *
 * The interleavings explored are sequentially consistent ones (JS Atomics are); POWER's weaker
 * ordering is not modeled here (docs/schedules.md says which reorderings that leaves out).
 */
import { C, COND, P, PER, POINT_ID, ST, ABANDONED, STRATEGY_CODE, TRAIL_STEPS, TRAIL_WORDS, TRAIL_HAS_PTE, OUTCOMES, YIELD, choiceChosen, choicePoint, choiceYielder, nextRandom, packChoice, regions, type PointName, type Regions } from './schedule-layout.js';

/** Thrown out of a schedule point once the schedule is abandoned: the thread's run ends there. */
export class ScheduleAbandoned extends Error {
  constructor() {
    super('controlled schedule abandoned');
  }
}

/** A thread's side of the turnstile. */
export class Turnstile {
  private readonly c: Int32Array;
  private readonly f: Float64Array;
  private readonly r: Regions;
  private readonly n: number;
  private readonly me: number;
  private readonly mine: number;
  private readonly cand: Int32Array;
  /** The trail index of this thread's last step (pteValues writes into it), -1 before any. */
  private lastStep = -1;
  /** Where the modeled strategy reads this thread's clock (its context). */
  clock: { readonly cyc: number } | null = null;

  constructor(
    sab: SharedArrayBuffer,
    me: number,
    /** The machine's words that block conditions name. */
    private readonly w: Int32Array,
  ) {
    this.c = new Int32Array(sab);
    this.f = new Float64Array(sab);
    this.n = this.c[C.n];
    this.r = regions(this.n, this.c[C.choicesLen], this.c[C.logCap]);
    this.me = me;
    this.mine = this.r.per + me * PER;
    this.cand = new Int32Array(this.n);
  }

  /** Arrive; the last thread to arrive makes the first choice. Returns when it is this thread's turn. */
  begin(): void {
    const c = this.c;
    c[this.mine + P.status] = ST.runnable;
    c[this.mine + P.lastPoint] = 0;
    if (Atomics.add(c, C.arrived, 1) + 1 === this.n) {
      // The first choice is nobody's point (whoever arrived last made it): it is logged as thread 255.
      const next = this.choose(0, false, 0xff);
      this.handTo(next, false);
    }
    this.waitTurn();
  }

  /** A schedule point (`arg`: the word it is about, a lock's, or -1): the chooser may give the turn to another thread. */
  point(name: string, arg = -1): void {
    const id = POINT_ID.get(name) ?? YIELD;
    if (this.c[C.turn] === ABANDONED) throw new ScheduleAbandoned();
    this.step(id, false, arg);
  }

  /**
   * Delay this thread: for the next `steps` steps the chooser runs the others whenever one can
   * run (the controlled form of a `stress.pause` sleep: a window held open while others run).
   */
  delay(steps: number): void {
    const c = this.c;
    c[this.mine + P.sleepUntil] = c[C.steps] + steps;
  }

  /** A thread polling for a change it cannot make itself: others run first when they can. */
  yieldPoint(): void {
    if (this.c[C.turn] === ABANDONED) throw new ScheduleAbandoned();
    this.step(YIELD, true);
  }

  /** Block until the condition on `w[idx]` holds (COND), at point `name`. */
  blockUntil(name: PointName, kind: number, idx: number, val: number, aux: number): void {
    const c = this.c;
    const b = this.mine;
    if (c[C.turn] === ABANDONED) throw new ScheduleAbandoned();
    if (this.holds(kind, idx, val, aux)) return;
    c[b + P.kind] = kind;
    c[b + P.idx] = idx;
    c[b + P.val] = val;
    c[b + P.aux] = aux;
    c[b + P.status] = ST.blocked;
    this.step(POINT_ID.get(name) ?? YIELD, false, idx);
    c[b + P.status] = ST.runnable;
  }

  /** This thread failed (an error other than the schedule's own): end the schedule for everyone. */
  fail(): void {
    if (this.c[C.turn] === ABANDONED) return;
    try {
      this.abandon('failed');
    } catch {
      // abandon throws for the caller's sake; the caller has its own error to raise
    }
  }

  /**
   * The PTE update this thread's last step (a `point` named `name`) was about: its word before
   * and after, shown in the timeline. Nothing when that step has left the trail ring or was
   * another point.
   */
  pteValues(name: 'pte-update' | 'hw-rc-update', old: number, now: number): void {
    const c = this.c;
    const t = this.lastStep;
    if (t < 0 || c[C.trailLen] - t > TRAIL_STEPS) return;
    const at = this.r.trail + TRAIL_WORDS * (t % TRAIL_STEPS);
    if (c[at] !== ((POINT_ID.get(name)! << 8) | this.me)) return;
    c[at] |= TRAIL_HAS_PTE;
    c[at + 2] = old;
    c[at + 3] = now;
  }

  /**
   * A violation was just reported on this thread: keep the steps that led to it (once for the
   * first violation, and again for the first unexplained one if that comes later).
   */
  noteViolation(unexplained: boolean): void {
    const c = this.c;
    const kind = c[C.frozenKind];
    if (kind === 2 || (kind === 1 && !unexplained)) return;
    c[C.frozenKind] = unexplained ? 2 : 1;
    c[C.frozenLen] = c[C.trailLen];
    c.copyWithin(this.r.frozen, this.r.trail, this.r.trail + TRAIL_WORDS * TRAIL_STEPS);
  }

  /** This thread is done: the turn passes on for good. */
  end(): void {
    const c = this.c;
    if (c[C.turn] === ABANDONED) return;
    c[this.mine + P.lastPoint] = 1;
    c[this.mine + P.status] = ST.done;
    const next = this.choose(1, false);
    if (next >= 0) this.handTo(next);
    else if (this.anyBlocked()) this.abandon('deadlock');
    else Atomics.store(c, C.outcome, OUTCOMES.indexOf('completed'));
  }

  private step(id: number, isYield: boolean, arg = -1): void {
    const c = this.c;
    c[this.mine + P.lastPoint] = id;
    if (this.clock !== null) this.f[this.r.clocksF64 + this.me] = this.clock.cyc;
    const s = c[C.steps] + 1;
    if (s > 0x3fffffff) {
      c[C.stepsHi]++;
      c[C.steps] = 0;
    } else c[C.steps] = s;
    const t = c[C.trailLen]++;
    const at = this.r.trail + TRAIL_WORDS * (t % TRAIL_STEPS);
    c[at] = (id << 8) | this.me;
    c[at + 1] = arg;
    this.lastStep = t;
    if (isYield) {
      if (++c[C.idle] > c[C.maxIdle]) this.abandon('livelock');
    } else c[C.idle] = 0;
    if (c[C.strategy] === STRATEGY_CODE.pct) this.pctChange(s);
    const next = this.choose(id, isYield);
    if (next === this.me) return;
    if (next < 0) this.abandon('deadlock');
    if (c[this.mine + P.status] === ST.runnable && !isYield) c[C.preemptions]++;
    this.handTo(next);
    this.waitTurn();
  }

  /** PCT: at the next change point, the running thread's priority drops below every initial one. */
  private pctChange(step: number): void {
    const c = this.c;
    const k = c[C.pctNext];
    if (k < c[C.pctDepth] - 1 && c[this.r.pct + k] <= step) {
      c[this.mine + P.prio] = c[C.pctDepth] - 1 - k;
      c[C.pctNext] = k + 1;
    }
  }

  private holds(kind: number, idx: number, val: number, aux: number): boolean {
    const v = Atomics.load(this.w, idx);
    if (kind === COND.eqMasked) return (v & aux) === val;
    if (kind === COND.neMasked) return (v & aux) !== val;
    return v >= Atomics.load(this.w, aux) + val;
  }

  private anyBlocked(): boolean {
    for (let t = 0; t < this.n; t++) if (this.c[this.r.per + t * PER + P.status] === ST.blocked) return true;
    return false;
  }

  /** The next thread to run, or -1 when none can. */
  private choose(pointId: number, isYield: boolean, who = this.me): number {
    const c = this.c;
    const cand = this.cand;
    let m = 0;
    for (let t = 0; t < this.n; t++) {
      const b = this.r.per + t * PER;
      const st = c[b + P.status];
      if (st === ST.runnable || (st === ST.blocked && this.holds(c[b + P.kind], c[b + P.idx], c[b + P.val], c[b + P.aux]))) cand[m++] = t;
    }
    if (isYield && m > 1) {
      // A polling thread goes last: whatever it waits for can only come from another.
      let k = 0;
      for (let i = 0; i < m; i++) if (cand[i] !== this.me) cand[k++] = cand[i];
      m = k;
    }
    if (m > 1) {
      // Delayed threads go after the others (all delayed: all stay candidates).
      const now = c[C.steps];
      let k = 0;
      for (let i = 0; i < m; i++) if (c[this.r.per + cand[i] * PER + P.sleepUntil] <= now) cand[k++] = cand[i];
      if (k > 0) m = k;
    }
    if (m <= 1) return m === 1 ? cand[0] : -1;
    const d = c[C.decisions]++;
    let next = -1;
    if (d < c[C.choicesLen]) {
      const want = c[this.r.choices + d];
      const chosen = choiceChosen(want);
      const matches = choiceYielder(want) === who && choicePoint(want) === pointId;
      let runnable = false;
      for (let i = 0; i < m; i++) if (cand[i] === chosen) runnable = true;
      if (runnable && (matches || c[C.lenient] !== 0)) next = chosen;
      if ((!matches || !runnable) && c[C.divergedAt] < 0) {
        c[C.divergedAt] = d;
        c[C.divergedWant] = want;
        c[C.divergedFound] = packChoice(who, pointId, 0xff);
      }
    }
    if (next < 0) next = this.strategyChoice(cand, m, who);
    if (d < c[C.logCap]) {
      c[this.r.log + d] = packChoice(who, pointId, next);
      let mask = 0;
      for (let i = 0; i < m; i++) mask |= 1 << cand[i];
      c[this.r.cands + d] = mask;
    }
    c[C.logLen] = Math.min(d + 1, c[C.logCap]);
    return next;
  }

  private strategyChoice(cand: Int32Array, m: number, who: number): number {
    const c = this.c;
    const s = c[C.strategy];
    if (s === STRATEGY_CODE.random) {
      if (c[C.preempt] < 65536 && (nextRandom(c) & 0xffff) >= c[C.preempt]) {
        for (let i = 0; i < m; i++) if (cand[i] === who) return who;
      }
      return cand[nextRandom(c) % m];
    }
    if (s === STRATEGY_CODE.pct) {
      let best = cand[0];
      for (let i = 1; i < m; i++) if (c[this.r.per + cand[i] * PER + P.prio] > c[this.r.per + best * PER + P.prio]) best = cand[i];
      return best;
    }
    if (s === STRATEGY_CODE.exhaustive) {
      // The search's default: no preemption (the running thread goes on while it can, else the
      // lowest-numbered one); its explorer adds preemptions by choice lists.
      for (let i = 0; i < m; i++) if (cand[i] === who) return who;
      return cand[0];
    }
    // modeled: the lowest modeled clock runs next (ties: the lowest thread).
    let best = cand[0];
    for (let i = 1; i < m; i++) if (this.f[this.r.clocksF64 + cand[i]] < this.f[this.r.clocksF64 + best]) best = cand[i];
    return best;
  }

  private handTo(next: number, counts = true): void {
    const c = this.c;
    if (counts && next !== this.me) c[C.switches]++;
    Atomics.store(c, C.turn, next);
    const g = this.r.per + next * PER + P.go;
    Atomics.add(c, g, 1);
    Atomics.notify(c, g, 1);
  }

  private waitTurn(): void {
    const c = this.c;
    const g = this.mine + P.go;
    for (;;) {
      const seen = Atomics.load(c, g);
      const turn = Atomics.load(c, C.turn);
      if (turn === this.me) return;
      if (turn === ABANDONED) throw new ScheduleAbandoned();
      Atomics.wait(c, g, seen, 1000);
    }
  }

  private abandon(why: 'deadlock' | 'livelock' | 'failed'): never {
    const c = this.c;
    Atomics.store(c, C.outcome, OUTCOMES.indexOf(why));
    Atomics.store(c, C.turn, ABANDONED);
    for (let t = 0; t < this.n; t++) {
      const g = this.r.per + t * PER + P.go;
      Atomics.add(c, g, 1);
      Atomics.notify(c, g);
    }
    throw new ScheduleAbandoned();
  }
}

/**
 * This thread's turnstile while a controlled run is on it (module state is per worker thread):
 * locks, waits and named points consult it; null in free-running mode.
 */
export let current: Turnstile | null = null;

export function setCurrentTurnstile(t: Turnstile | null): void {
  current = t;
}
