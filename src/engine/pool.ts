/**
 * The vCPU worker pool, in a module of its own so a command can start the workers (each loads the
 * whole simulator) before it loads the rest of the engine itself: the two loads overlap.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ResolvedConfig } from '../workload/types.js';
import { vcpuWorkerFile } from '../util/paths.js';

/** A worker pool of `threads` vCPU threads. */
export function makePool(threads: number): Piscina {
  return new Piscina({
    filename: vcpuWorkerFile(),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    concurrentTasksPerWorker: 1,
  });
}

/**
 * Worker threads for a run's vCPUs: `threads` when set; under a controlled schedule one per vCPU
 * (the schedule itself decides who runs); else, for `auto`, one per vCPU where races are the
 * question (`perVcpu`: stress, whose oversubscribed threads are preempted mid-fault, widening
 * race windows as a busy host does), and otherwise no more than the host's processors, so no
 * vCPU thread is descheduled holding a lock (engine/vcpu-thread.ts).
 */
export function threadsFor(cfg: ResolvedConfig, perVcpu = false): number {
  if (cfg.schedule.strategy !== 'free') return cfg.vcpus;
  if (cfg.threads > 0) return Math.min(cfg.threads, cfg.vcpus);
  return perVcpu ? cfg.vcpus : Math.min(cfg.vcpus, availableParallelism());
}

/** The vCPUs thread `t` of `threads` runs: t, t + threads, ... */
export function vcpusOfThread(vcpus: number, threads: number, t: number): number[] {
  const out: number[] = [];
  for (let v = t; v < vcpus; v += threads) out.push(v);
  return out;
}
