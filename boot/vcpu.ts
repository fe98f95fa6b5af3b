/**
 * The vCPU worker piscina starts (built to dist/workers/vcpu-boot.cjs): runs the worker's one-file
 * bundle beside it (dist/workers/vcpu.bundle.cjs, built from workers/vcpu.ts) from V8's code cache
 * (src/util/code-cache.ts), and writes that cache after its first task when it had none: by then
 * the thread has compiled everything a vCPU runs.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VcpuResult, VcpuTask } from '../src/engine/vcpu-loop.js';
import { loadCached } from '../src/util/code-cache.js';

const bundle = loadCached(join(dirname(fileURLToPath(import.meta.url)), 'vcpu.bundle.cjs'));
const run = (bundle.exports as { default: (tasks: VcpuTask[]) => VcpuResult[] }).default;

export default function vcpuWorker(tasks: VcpuTask[]): VcpuResult[] {
  const results = run(tasks);
  bundle.save();
  return results;
}
