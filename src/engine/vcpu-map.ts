/**
 * Where each vCPU runs: its L1 (round-robin over `l1.count`), its nested guest (`guests.vcpuMap`
 * over its L1's guests) and its worker thread. Pure functions of the config, in a module that
 * loads nothing of the simulator, so the command line can size its worker pool before it loads
 * the engine.
 */
import { availableParallelism } from 'node:os';
import type { ResolvedConfig } from '../workload/types.js';

/** The L1 vCPU `v` runs in: round-robin over the L1s. */
export function l1OfVcpu(cfg: ResolvedConfig, v: number): number {
  return v % cfg.l1.count;
}

/** How many vCPUs run in L1 `k`. */
export function vcpusOfL1(cfg: ResolvedConfig, k: number): number {
  return Math.floor((cfg.vcpus - 1 - k) / cfg.l1.count) + 1;
}

/** Slot of the nested guest vCPU `v` runs in its L1: among its L1's vCPUs (the j-th of n), by `guests.vcpuMap`. */
export function guestSlotOfVcpu(cfg: ResolvedConfig, v: number): number {
  const n = cfg.guests.count;
  const j = Math.floor(v / cfg.l1.count);
  const mine = vcpusOfL1(cfg, l1OfVcpu(cfg, v));
  return cfg.guests.vcpuMap === 'spread' ? j % n : Math.min(n - 1, Math.floor((j * n) / mine));
}

/** Which worker thread runs each vCPU. */
export interface Placement {
  /** Worker threads. */
  readonly threads: number;
  /** Thread of each vCPU, by vCPU number; each thread runs at least one. */
  readonly threadOf: readonly number[];
}

/**
 * The run's worker threads and which vCPUs each runs:
 * - `threads` set (or `given`, a caller's count): vCPU v on thread v mod threads;
 * - under a controlled schedule, or `auto` where races are the question (`perVcpu`: stress,
 *   whose oversubscribed threads are preempted mid-fault, widening race windows as a busy host
 *   does): one thread per vCPU;
 * - `auto` otherwise: no more threads than the host's processors, so no vCPU thread is
 *   descheduled holding a lock (engine/vcpu-thread.ts). Under a cost model the vCPUs of one L1
 *   share a thread: they meet on its mmu_lock and their guests' tlb_locks, and on one thread
 *   their modeled order is exact, the run repeats exactly, and no thread waits on another for it
 *   (the skew bound, which two threads of one L1 paid for in wall time: docs/performance.md,
 *   "One thread per L1"). The L1s go round-robin over the threads; without a cost model the
 *   vCPUs do.
 */
export function placeVcpus(cfg: ResolvedConfig, perVcpu = false, given?: number): Placement {
  const n = cfg.vcpus;
  const roundRobin = (t: number): Placement => ({ threads: t, threadOf: Array.from({ length: n }, (_, v) => v % t) });
  if (cfg.schedule.strategy !== 'free') return roundRobin(n);
  if (given !== undefined) return roundRobin(Math.max(1, Math.min(given, n)));
  if (cfg.threads > 0) return roundRobin(Math.min(cfg.threads, n));
  if (perVcpu) return roundRobin(n);
  const cores = availableParallelism();
  if (cfg.cost.model === 'none') return roundRobin(Math.min(n, cores));
  // A thread per L1 up to the processors (vCPU v is in L1 v mod l1.count).
  const threads = Math.min(cfg.l1.count, n, cores);
  return { threads, threadOf: Array.from({ length: n }, (_, v) => l1OfVcpu(cfg, v) % threads) };
}

/**
 * Accesses (over all vCPUs) up to which a run whose vCPUs share one thread runs them on the
 * coordinator's thread instead of a worker (`runsHere`). A worker costs about 0.1 s before its
 * first access (Node's bootstrap, then the simulator's code); 4,096 faults of cold code take
 * 0.2-0.25 s, still 0.05 s less than on a worker (docs/performance.md, "Small runs").
 */
export const HERE_MAX_ACCESSES = 4096;

/**
 * Whether a run's vCPUs run on the coordinator's thread: one thread would run them all anyway
 * (`placement`), it is bounded by a little work (`HERE_MAX_ACCESSES`, no timed warm-up) and runs
 * freely. The same vCPUs run the same way, multiplexed as on a worker; the coordinator only does
 * nothing else meanwhile (no progress, no time series sample, Ctrl-C seen at the end), which a run
 * this short does not miss.
 */
export function runsHere(cfg: ResolvedConfig, threads: number): boolean {
  return threads === 1 && cfg.schedule.strategy === 'free' && cfg.accesses > 0 && cfg.warmupMs === 0 && cfg.accesses * cfg.vcpus <= HERE_MAX_ACCESSES;
}

/** The vCPUs `p` puts on thread `t`, in vCPU order. */
export function vcpusOfThread(p: Placement, t: number): number[] {
  const out: number[] = [];
  p.threadOf.forEach((th, v) => {
    if (th === t) out.push(v);
  });
  return out;
}
