/**
 * The exhaustive strategy's search (docs/schedules.md): preemption-bounded depth-first search over
 * controlled schedules, in the manner of CHESS's iterative context bounding. Each run follows a
 * prefix of choices and then the default policy (no preemption). Its log says, at every decision,
 * which threads could have run; each other candidate at a decision past the prefix is a child:
 * the log up to there, then that thread. A child that would need more than `bound` preemptions
 * (switches away from a thread that could go on) is not explored. Without state hashing, two
 * children may reach the same state; the bound keeps the count finite.
 */
import { choiceChosen, choicePoint, choiceYielder, packChoice } from '../sync/schedule-layout.js';

/** A child not yet run: the first `len` choices of `base`, then `last`. */
interface Pending {
  base: Int32Array;
  len: number;
  last: number;
}

/** Whether decision `c`, with candidates `mask`, switched away from a thread that could go on. */
export function isPreemption(c: number, mask: number): boolean {
  const y = choiceYielder(c);
  return y !== 0xff && (mask & (1 << y)) !== 0 && choiceChosen(c) !== y;
}

export class PreemptionBoundedSearch {
  private readonly stack: Pending[] = [{ base: new Int32Array(0), len: 0, last: -1 }];
  /** Schedules handed out so far. */
  schedules = 0;

  constructor(readonly bound: number) {}

  /** The next schedule's choice prefix, or undefined when the search is exhausted. */
  next(): Int32Array | undefined {
    const p = this.stack.pop();
    if (p === undefined) return undefined;
    this.schedules++;
    if (p.last === -1) return p.base;
    const out = new Int32Array(p.len + 1);
    out.set(p.base.subarray(0, p.len));
    out[p.len] = p.last;
    return out;
  }

  /** Whether schedules are left to run. */
  get exhausted(): boolean {
    return this.stack.length === 0;
  }

  /** The children of a run that followed `prefix` and made the decisions `log` (with `cands`). */
  expand(prefixLength: number, log: Int32Array, cands: Int32Array): void {
    const preAt = new Int32Array(log.length + 1);
    for (let i = 0; i < log.length; i++) preAt[i + 1] = preAt[i]! + (isPreemption(log[i]!, cands[i]!) ? 1 : 0);
    // Earlier decisions first on the stack, so the latest one's alternatives run first (depth first).
    for (let i = prefixLength; i < log.length; i++) {
      const c = log[i]!;
      const mask = cands[i]!;
      const y = choiceYielder(c);
      for (let t = 0; t < 31; t++) {
        if ((mask & (1 << t)) === 0 || t === choiceChosen(c)) continue;
        const alt = packChoice(y, choicePoint(c), t);
        if (preAt[i]! + (isPreemption(alt, mask) ? 1 : 0) > this.bound) continue;
        this.stack.push({ base: log, len: i, last: alt });
      }
    }
  }
}
