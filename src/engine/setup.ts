/**
 * Building a ready machine from a resolved config: the shared buffer, the host's backing and
 * L1's page-size choices, L1's partition table for its guests, invalid TLBs. Used by the
 * coordinator and by tests that drive the protocol from one thread.
 */
import type { ResolvedConfig, PageSizeMix } from '../workload/types.js';
import { CTRL } from '../memory/layout.js';
import { createMachine, type Machine } from '../memory/machine.js';
import { HvContext, type ContextOptions } from '../hv/context.js';
import { l1SetPartitionEntry } from '../hv/guests.js';
import { resetTlbs, tlbieBroadcast } from '../hw/tlb.js';

/** Thresholds (0..65535) for "1 GiB" and "2 MiB" from a mix: P(1G) and P(2M | not 1G). */
export function mixThresholds(mix: PageSizeMix): [number, number] {
  const total = mix.base + mix['2M'] + mix['1G'];
  if (total <= 0) return [0, 0];
  const p1 = mix['1G'] / total;
  const rest = mix.base + mix['2M'];
  const p2 = rest > 0 ? mix['2M'] / rest : 0;
  return [Math.round(p1 * 65536), Math.round(p2 * 65536)];
}

export function setupMachine(cfg: ResolvedConfig, workers?: number): Machine {
  const m = createMachine(cfg, workers);
  const w = m.w;
  const [h1, h2] = mixThresholds(cfg.host.backing);
  const [l1a, l1b] = mixThresholds(cfg.l1.pageSizes);
  w[m.ctrl(CTRL.backingSeed)] = cfg.seed | 0;
  w[m.ctrl(CTRL.backingMix1G)] = h1;
  w[m.ctrl(CTRL.backingMix2M)] = h2;
  w[m.ctrl(CTRL.l1Mix1G)] = l1a;
  w[m.ctrl(CTRL.l1Mix2M)] = l1b;
  resetTlbs(m);
  // L1 registers its partition table and an entry for each of its nested guests.
  const ctx = new HvContext(m, { vcpu: -1, worker: m.L.workers - 1 });
  for (let s = 0; s < cfg.guests.count; s++) l1SetPartitionEntry(ctx, s, true);
  return m;
}

/** A context for `cfg`'s protocol profile with the real broadcast invalidation wired in. */
export function contextFor(m: Machine, cfg: ResolvedConfig, vcpu: number, worker: number, extra?: Partial<ContextOptions>): HvContext {
  const fixes = cfg.protocol === 'fixed' ? (['p1', 'p2', 'p3', 'p4', 'p5'] as const) : cfg.fixes;
  return new HvContext(m, {
    vcpu,
    worker,
    mutations: cfg.mutations,
    fixes,
    rc: cfg.hardware.rc,
    l1Rc: cfg.hardware.l1Rc,
    shootdown: tlbieBroadcast,
    ...(cfg.stress.pause > 0 ? { hook: pauseHook(cfg.stress.pause, cfg.seed, vcpu) } : {}),
    ...extra,
  });
}

/** Length of one `stress.pause` sleep. */
export const STRESS_PAUSE_MS = 0.05;
/**
 * Length of the `stress.pause` sleep at 'nonatomic-rmw', taken every time (not with probability
 * `stress.pause`): that point exists only in the code M5/M6 made non-atomic, between its read and
 * its write, so sleeping there leaves the intact protocol's schedule alone, and the race it opens
 * (the hardware setting R/C in L0's table for L1 between the two) needs an L1 store to the very
 * page inside the window.
 */
export const STRESS_RMW_PAUSE_MS = 0.5;

/**
 * The `stress.pause` hook: at each named point of the fault path, with probability `p` (from a
 * seeded per-vCPU stream), sleep about STRESS_PAUSE_MS so the other threads run inside whatever
 * window the fault has open there. A schedule perturbation only: it changes no state, so a
 * correct protocol stays clean, while a protection that only works because a window is short
 * (M3, M4, M11, M14) fails sooner.
 */
function pauseHook(p: number, seed: number, vcpu: number): NonNullable<ContextOptions['hook']> {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const limit = Math.round(p * 2 ** 32);
  let x = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ (vcpu + 2)) | 1;
  return (point) => {
    if (point === 'nonatomic-rmw') {
      Atomics.wait(cell, 0, 0, STRESS_RMW_PAUSE_MS);
      return;
    }
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    if (x >>> 0 < limit) Atomics.wait(cell, 0, 0, STRESS_PAUSE_MS);
  };
}

/** L1 lpid of the guest vCPU `v` runs. */
export function guestOfVcpu(cfg: ResolvedConfig, v: number): number {
  const n = cfg.guests.count;
  const slot = cfg.guests.vcpuMap === 'spread' ? v % n : Math.min(n - 1, Math.floor((v * n) / cfg.vcpus));
  return slot + 1;
}
