/**
 * Piscina worker entry: one simulated L2 vCPU. Thin: attaches to the shared machine and runs
 * the vCPU loop (src/engine/vcpu-loop.ts).
 */
import { runVcpu, type VcpuTask, type VcpuResult } from '../src/engine/vcpu-loop.js';

export default function vcpuWorker(task: VcpuTask): VcpuResult {
  return runVcpu(task);
}
