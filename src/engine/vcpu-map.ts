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
 *   descheduled holding a lock (engine/vcpu-thread.ts). Under a cost model the vCPUs of one
 *   pace group share a thread (`paceKey`: a nested guest, or an L1 whose memory the host's
 *   actors work on): every fault of a guest's vCPUs takes its tlb_lock, and on one thread their
 *   modeled order there is exact, the run repeats exactly, and no thread waits on another for it
 *   (the skew bound, hw/clock.ts, which paces only a group's vCPUs). The groups go round-robin
 *   over the threads; without a cost model the vCPUs do.
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
  // A thread per pace group (`paceKey`) up to the processors, the groups numbered by their first vCPU.
  const group = new Map<string, number>();
  const groupOf = Array.from({ length: n }, (_, v) => {
    const key = paceKey(cfg, v);
    if (!group.has(key)) group.set(key, group.size);
    return group.get(key)!;
  });
  const threads = Math.min(group.size, cores);
  return { threads, threadOf: groupOf.map((g) => g % threads) };
}

/**
 * Whether the host works on L1 memory (any `actors.host` rate): migration, swap, aging, dirty-log
 * harvest and memslot flushes change what every nested guest of the L1 maps, so its guests'
 * vCPUs then meet in modeled time beyond mmu_lock.
 */
export function hostActorsOn(cfg: ResolvedConfig): boolean {
  return Object.values(cfg.actors.host).some((rate) => rate > 0);
}

/**
 * The vCPUs that keep modeled pace with each other (hw/clock.ts) and share a thread by default
 * under a cost model: a nested guest's, whose faults queue on its tlb_lock; the whole L1's when
 * the host's actors work on its memory (`hostActorsOn`), so that their effects on the other
 * guests land in one modeled order and the run repeats exactly.
 */
export function paceKey(cfg: ResolvedConfig, v: number): string {
  return hostActorsOn(cfg) ? String(l1OfVcpu(cfg, v)) : guestKey(cfg, v);
}

/** The nested guest vCPU `v` runs in, as a key unique over the L1s. */
export function guestKey(cfg: ResolvedConfig, v: number): string {
  return `${l1OfVcpu(cfg, v)}/${guestSlotOfVcpu(cfg, v)}`;
}

/** The other vCPUs of vCPU `v`'s pace group (`paceKey`): those it keeps modeled pace with (hw/clock.ts). */
export function paceMates(cfg: ResolvedConfig, v: number): number[] {
  const key = paceKey(cfg, v);
  const out: number[] = [];
  for (let u = 0; u < cfg.vcpus; u++) if (u !== v && paceKey(cfg, u) === key) out.push(u);
  return out;
}

/**
 * Accesses (over all vCPUs) up to which a run may run its vCPUs on the coordinator's thread
 * instead of workers (`runsHere`). A worker costs about 0.1 s before its first access (Node's
 * bootstrap, then the simulator's code); 4,096 faults of cold code take 0.2-0.25 s, still 0.05 s
 * less than on a worker (docs/performance.md, "Small runs on the coordinator's thread").
 */
export const HERE_MAX_ACCESSES = 4096;

/**
 * Whether a run's vCPUs run on the coordinator's thread, all of them multiplexed as one worker
 * would run them: it is bounded by a little work (`HERE_MAX_ACCESSES`, no timed warm-up), runs
 * freely, and leaves the threads to nestsim (`threads` auto) or asks for one. Its wall-clock
 * figures would be start-up and cold code on any thread; its modeled ones are a thread's exact
 * order. The coordinator does nothing else meanwhile (no progress, no time series sample, Ctrl-C
 * seen at the end), which a run this short does not miss.
 */
export function runsHere(cfg: ResolvedConfig): boolean {
  return cfg.threads <= 1 && cfg.schedule.strategy === 'free' && cfg.accesses > 0 && cfg.warmupMs === 0 && cfg.accesses * cfg.vcpus <= HERE_MAX_ACCESSES;
}

/** The vCPUs `p` puts on thread `t`, in vCPU order. */
export function vcpusOfThread(p: Placement, t: number): number[] {
  const out: number[] = [];
  p.threadOf.forEach((th, v) => {
    if (th === t) out.push(v);
  });
  return out;
}
