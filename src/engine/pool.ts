/**
 * The vCPU worker pool, in a module of its own so a command can start the workers (each loads the
 * whole simulator) before it loads the rest of the engine itself: the two loads overlap.
 */
import type { Piscina } from 'piscina';
import { requireLazily } from '../util/lazy.js';
import type { ResolvedConfig } from '../workload/types.js';
import { vcpuWorkerFile } from '../util/paths.js';
import { placeVcpus } from './vcpu-map.js';

/** A worker pool of `threads` vCPU threads. */
export function makePool(threads: number): Piscina {
  // Loaded here: a run small enough for the coordinator's own thread never starts a pool.
  const { Piscina: Pool } = requireLazily('piscina') as typeof import('piscina');
  return new Pool({
    filename: vcpuWorkerFile(),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    concurrentTasksPerWorker: 1,
  });
}

/** Worker threads for a run's vCPUs (engine/vcpu-map.ts, `placeVcpus`: one choice for run, stress and the command line's pool). */
export function threadsFor(cfg: ResolvedConfig, perVcpu = false): number {
  return placeVcpus(cfg, perVcpu).threads;
}
