/**
 * Modeled time on mmu_lock and the tlb_locks: the bookkeeping in each lock's line that lets an
 * acquirer queue, in modeled time, behind the holds that overlap its arrival (HvContext.mmuLock,
 * tlbLock; docs/cost-model.md).
 *
 * A lock's line (16 words): word 0 the lock, word 1 the count of its holds (every release adds
 * one, under the lock, with or without the cost model: `holdsOf`), Float64 1 (words 2-3) the
 * latest modeled release; for mmu_lock, Float64 2-7 its MMU_LOCK_HOLDS [acquire, release] pairs (a
 * tlb_lock's TLB_LOCK_HOLDS pairs are in the layout's `tlbHoldsWord`). The modeled time shares
 * the lock's line, which its holder has just taken: in a line of its own it cost more (fault-storm,
 * 2 vCPUs in one L1, clocks free: 0.63x-0.73x the rate without a cost model over 6 rounds, against
 * 0.70x-0.78x in the lock's line), a second line moving between the threads at every hand-over.
 * Everything here is read and written under the lock itself, so the lock orders it.
 */
import { COUNTER } from '../stats/counters.js';
import { COST_CAT } from '../cost/model.js';
import { TLB_LOCK_HOLDS } from '../memory/records.js';

export const HOLDS_COUNT_WORD = 1;
/** Float64 offsets in a lock's line. */
export const LATEST_RELEASE_F64 = 1;
export const HOLDS_F64 = 2;
/**
 * Modeled holds mmu_lock remembers: as many as fit its line, which its acquirer owns already (its
 * holds are short and it is taken several times a fault by every vCPU: a ring in other lines
 * cost 25% of fault-storm's rate at 2 vCPUs, measured).
 */
export const MMU_LOCK_HOLDS = 3;

/** What the queueing charges: the acquiring thread's clock and counters. */
export interface LockClock {
  readonly counters: Float64Array;
  readonly counterBase: number;
  charge(cat: number, cycles: number): void;
  modeledStage(k: number, cycles: number): void;
}

/**
 * An arrival at modeled time `arrive` before the lock's latest remembered release: the acquirer
 * takes the lock at its arrival unless that falls inside a remembered hold, and then at that
 * hold's end (again until it falls in none). Queueing follows modeled time even when a thread
 * that trails in modeled time reaches the lock later in wall time, as threads on fewer host cores
 * than vCPUs do. Such an arrival, before the latest holder's modeled acquisition, counts as an
 * inversion; holds older than the last `cap` are forgotten (an arrival that far back queues
 * behind none of them). Charges the wait; returns the modeled acquisition time.
 */
export function queueBehind(c: LockClock, w: Int32Array, f: Float64Array, li: number, holds: number, cap: number, waitCounter: number, stage: number, arrive: number): number {
  const k = w[li + HOLDS_COUNT_WORD];
  const n = remembered(k, cap);
  if (n > 0 && arrive < f[holds + 2 * ((k + cap - 1) % cap)]) c.counters[c.counterBase + COUNTER.lockInversions]++;
  let t = arrive;
  for (let pass = 0; pass < cap; pass++) {
    let moved = false;
    for (let j = 0; j < n; j++) {
      const at = holds + 2 * j;
      if (t >= f[at] && t < f[at + 1]) {
        t = f[at + 1];
        moved = true;
      }
    }
    if (!moved) break;
  }
  if (t > arrive) chargeWait(c, waitCounter, stage, t - arrive);
  return t;
}

/**
 * Before remembering a hold [acquired, released] that began before the lock's latest remembered
 * release: keep it from overlapping any remembered hold, which it can (two holders at once in
 * modeled time) when a hold remembered earlier in wall time starts inside it: the acquirer's
 * arrival fell in a gap (`queueBehind`) too short for its hold. The hold moves past each hold it
 * overlaps until it fits a gap; the move is charged as a wait for the lock. Returns the modeled
 * acquisition time.
 */
export function fitHold(c: LockClock, w: Int32Array, f: Float64Array, li: number, holds: number, cap: number, waitCounter: number, stage: number, acquired: number, released: number): number {
  const n = remembered(w[li + HOLDS_COUNT_WORD], cap);
  const h = released - acquired;
  let s = acquired;
  for (let pass = 0; pass < cap; pass++) {
    let moved = false;
    for (let j = 0; j < n; j++) {
      const at = holds + 2 * j;
      if (s < f[at + 1] && s + h > f[at]) {
        s = f[at + 1];
        moved = true;
      }
    }
    if (!moved) break;
  }
  if (s > acquired) chargeWait(c, waitCounter, stage, s - acquired);
  return s;
}

/** How many of a lock's `cap` ring slots hold a remembered hold, after `k` holds (modulo 2^32). */
function remembered(k: number, cap: number): number {
  return k >= cap || k < 0 ? cap : k;
}

/** Charge a modeled wait of `cycles` for a lock: its wait counter, the clock (lockWait) and its stage. */
function chargeWait(c: LockClock, waitCounter: number, stage: number, cycles: number): void {
  c.counters[c.counterBase + waitCounter] += cycles;
  c.charge(COST_CAT.lockWait, cycles);
  c.modeledStage(stage, cycles);
}

/**
 * The release side: remember the hold [acquired, released] at Float64 `at` (the caller's ring
 * slot: the hold count `k` modulo its ring size, a constant there), count the hold, and raise the
 * lock's latest release.
 */
export function rememberHold(w: Int32Array, f: Float64Array, li: number, k: number, at: number, acquired: number, released: number): void {
  f[at] = acquired;
  f[at + 1] = released;
  w[li + HOLDS_COUNT_WORD] = (k + 1) | 0;
  const lr = (li >>> 1) + LATEST_RELEASE_F64;
  if (released > f[lr]) f[lr] = released;
}

/** Count a hold without modeled time (no cost model, or no other vCPU shares the lock). */
export function countHold(w: Int32Array, li: number): void {
  w[li + HOLDS_COUNT_WORD] = (w[li + HOLDS_COUNT_WORD] + 1) | 0;
}

/**
 * Holds of the lock at word `li` (mmu_lock or a tlb_lock) since the machine was built, modulo
 * 2^32: every release through HvContext adds one, so it counts that lock's acquisitions by every
 * thread, whichever L1 the thread runs in.
 */
export function holdsOf(w: Int32Array, li: number): number {
  return w[li + HOLDS_COUNT_WORD] >>> 0;
}

// The tlb_locks' ring slot is the hold count masked (HvContext.tlbUnlock): its size must be a power of two.
if ((TLB_LOCK_HOLDS & (TLB_LOCK_HOLDS - 1)) !== 0) throw new Error('TLB_LOCK_HOLDS must be a power of two');
