/**
 * Locks in shared memory (docs/architecture.md, "Shared-memory rules").
 *
 * A three-state futex lock (0 free, 1 held, 2 held with sleepers), in the style of Drepper's
 * "Futexes are tricky": uncontended acquire is one compare-exchange, contended waiters spin
 * briefly and then sleep in `Atomics.wait`, so more vCPUs than cores do not burn the cores.
 * `mmu_lock` (a spinlock in the kernel) spins longer before sleeping; a nested guest's
 * `tlb_lock` (a mutex in the kernel) sleeps almost at once.
 *
 * Statistics go to the caller's counter block: acquisitions, contended acquisitions and wait
 * time. The clock is read only on the contended path (a timer call costs more than the lock).
 */
import { performance } from 'node:perf_hooks';
import { current } from './turnstile.js';
import { COND } from './schedule-layout.js';

/**
 * Spins before an `mmu_lock` waiter sleeps: about 20 µs (the kernel's spinlock never sleeps).
 * A futex sleep and wake-up costs the waiter and the unlocking holder microseconds, more than
 * the holds waited for; measured with 2 and 4 vCPUs, 2,000 spins beat 200 by 5-40% in faults/s.
 */
export const MMU_LOCK_SPINS = 2000;
/** Spins before a `tlb_lock` waiter sleeps (a sleeping mutex). */
export const MUTEX_SPINS = 20;

/** `lockWord` result: acquired after waiting, the wait not timed. */
export const CONTENDED_UNTIMED = -1;

/**
 * Acquire the lock word `w[i]`. Returns 0 when uncontended; after a wait, the wait in ns (>= 1)
 * when `timed`, else CONTENDED_UNTIMED. Timing a wait needs a clock read after the acquisition,
 * which lengthens the critical section by a timer call (~60 ns, longer than most of nestsim's
 * mmu_lock holds), so callers time only a sample of their waits.
 */
export function lockWord(w: Int32Array, i: number, spins: number, timed = true): number {
  if (current !== null) return controlledLock(w, i);
  if (Atomics.compareExchange(w, i, 0, 1) === 0) return 0;
  const t0 = timed ? performance.now() : 0;
  let s = 0;
  for (; s < spins; s++) {
    if (Atomics.load(w, i) === 0 && Atomics.compareExchange(w, i, 0, 1) === 0) break;
  }
  // Mark "held with sleepers" and sleep until the holder hands the word back as 0.
  if (s === spins) while (Atomics.exchange(w, i, 2) !== 0) Atomics.wait(w, i, 2);
  return timed ? Math.max(1, (performance.now() - t0) * 1e6) : CONTENDED_UNTIMED;
}

/**
 * Under a controlled schedule: a schedule point before the attempt (another thread may take the
 * lock first), then, while the lock is held, block until it is free (nobody sleeps on the word).
 */
function controlledLock(w: Int32Array, i: number): number {
  const t = current!;
  t.point('lock-acquire', i);
  if (Atomics.compareExchange(w, i, 0, 1) === 0) return 0;
  do t.blockUntil('lock-acquire', COND.eqMasked, i, 0, -1);
  while (Atomics.compareExchange(w, i, 0, 1) !== 0);
  return CONTENDED_UNTIMED;
}

/** Try once; true when acquired. */
export function tryLockWord(w: Int32Array, i: number): boolean {
  current?.point('lock-acquire', i);
  return Atomics.compareExchange(w, i, 0, 1) === 0;
}

export function unlockWord(w: Int32Array, i: number): void {
  if (current !== null) {
    Atomics.store(w, i, 0);
    current.point('lock-release', i);
    return;
  }
  // 1 -> 0 means nobody sleeps; 2 -> 1 means sleepers: hand the word back and wake one.
  if (Atomics.sub(w, i, 1) !== 1) {
    Atomics.store(w, i, 0);
    Atomics.notify(w, i, 1);
  }
}

export function isLockedWord(w: Int32Array, i: number): boolean {
  return Atomics.load(w, i) !== 0;
}
