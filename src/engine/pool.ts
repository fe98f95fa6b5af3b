/**
 * The vCPU worker pool, in a module of its own so a command can start the workers (each loads the
 * whole simulator) before it loads the rest of the engine itself: the two loads overlap.
 */
import { Piscina } from 'piscina';
import { vcpuWorkerFile } from '../util/paths.js';

/** A worker pool for `threads` vCPUs. */
export function makePool(threads: number): Piscina {
  return new Piscina({
    filename: vcpuWorkerFile(),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    concurrentTasksPerWorker: 1,
  });
}
