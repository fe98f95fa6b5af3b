/**
 * Piscina worker entry: one vCPU thread, running one simulated L2 vCPU or several. Thin: attaches
 * to the shared machine and runs the vCPUs (src/engine/vcpu-thread.ts).
 */
import type { VcpuTask, VcpuResult } from '../src/engine/vcpu-loop.js';
import { runVcpus } from '../src/engine/vcpu-thread.js';

export default function vcpuWorker(tasks: VcpuTask[]): VcpuResult[] {
  return runVcpus(tasks);
}
