/**
 * Building a ready machine from a resolved config: the shared buffer, the host's backing and
 * L1's page-size choices, L1's partition table for its guests, invalid TLBs. Used by the
 * coordinator and by tests that drive the protocol from one thread.
 */
import { MMU_LOCK_SPINS } from '../sync/lock.js';
import { FIXES, type Mutation, type ResolvedConfig, type PageSizeMix } from '../workload/types.js';
import { CTRL } from '../memory/records.js';
import { createMachine, type Machine } from '../memory/machine.js';
import { HvContext, type ContextOptions } from '../hv/context.js';
import { l1SetPartitionEntry, lpidOfSlot } from '../hv/guests.js';
import { resetTlbs } from '../hw/tlb.js';
import { markP1Survivors, tlbieBroadcaster } from '../hw/shootdown.js';
import { pauseOutsideModeledTime } from '../hw/clock.js';
import type { Turnstile } from '../sync/turnstile.js';
import { guestSlotOfVcpu } from './vcpu-map.js';

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
  // Each L1 registers its partition table and an entry for each of its nested guests.
  for (let k = 0; k < m.L.l1Count; k++) {
    const ctx = new HvContext(m.forL1(k), { vcpu: -1, worker: m.L.workers - 1 });
    for (let s = 0; s < cfg.guests.count; s++) l1SetPartitionEntry(ctx, s, true);
  }
  return m;
}

/**
 * Spins before an mmu_lock waiter sleeps: MMU_LOCK_SPINS, with more vCPU threads than processors
 * too. Sleeping at once when oversubscribed was measured and lost: 16 vCPUs on 2 cores did 0.40M
 * faults/s with no spinning against 0.61-0.81M with 2,000 spins (docs/performance.md).
 * `NESTSIM_MMU_SPINS` overrides it, to measure the policy again.
 */
export function mmuSpinsFor(): number {
  const forced = process.env.NESTSIM_MMU_SPINS;
  return forced !== undefined && /^\d+$/.test(forced) ? Number(forced) : MMU_LOCK_SPINS;
}

/** A context for `cfg`'s protocol profile with the real broadcast invalidation wired in. */
export function contextFor(m: Machine, cfg: ResolvedConfig, vcpu: number, worker: number, extra?: Partial<ContextOptions>): HvContext {
  const fixes = cfg.protocol === 'fixed' ? FIXES : cfg.fixes;
  return new HvContext(m, {
    vcpu,
    worker,
    mutations: cfg.mutations,
    fixes,
    rc: cfg.hardware.rc,
    faultSample: cfg.stats.faultSample,
    accessSample: cfg.stats.accessSample,
    l1Rc: cfg.hardware.l1Rc,
    shootdown: tlbieBroadcaster(),
    markP1Survivors,
    mmuSpins: mmuSpinsFor(),
    cost: cfg.cost,
    ...(cfg.stress.pause > 0 ? { hook: pauseHook(cfg.stress.pause, cfg.seed, vcpu, cfg.mutations.some((mu) => RC_WINDOW_MUTATIONS.includes(mu))) } : {}),
    ...extra,
  });
}

/** Length of one `stress.pause` sleep. */
export const STRESS_PAUSE_MS = 0.05;
/**
 * Length of the `stress.pause` sleep on both sides of the race that M5 (nonatomic-rc) and M6
 * (nonatomic-unmap) open: at 'nonatomic-rmw', between the mutated read and write of a PTE word of
 * L0's table for L1 (a point only the mutated code has), and at 'hw-rc-update', between the
 * hardware's read of that leaf and its CAS setting C (hw/l1-direct.ts). Both sides are needed:
 * the software side holds mmu_lock, so while it sleeps the other vCPUs soon wait for the lock at
 * their next fault and make almost no accesses (measured: 0.34 L1 accesses per 0.5 ms window);
 * a hardware update already under way when the window opens is what lands inside it.
 */
export const STRESS_RCW_PAUSE_MS = 0.5;

/** Mutations whose race with the hardware's R/C update both 'nonatomic-rmw' and 'hw-rc-update' widen. */
const RC_WINDOW_MUTATIONS: readonly Mutation[] = ['nonatomic-rc', 'nonatomic-unmap'];

/**
 * The `stress.pause` hook: at each named point of the fault path, with probability `p` (from a
 * seeded per-vCPU stream), sleep about STRESS_PAUSE_MS so the other threads run inside whatever
 * window the fault has open there. A schedule perturbation only: it changes no state, so a
 * correct protocol stays clean, while a protection that only works because a window is short
 * (M3, M4, M11, M14) fails sooner. With M5 or M6 on (`rcWindow`), the two sides of their race
 * sleep STRESS_RCW_PAUSE_MS every time instead; without them 'hw-rc-update' is an ordinary point
 * (probability `p`), so the intact protocol's schedule and every other mutation's figures stay as
 * they were. (The intact protocol also stays clean with 'hw-rc-update' sleeping every time:
 * docs/mutations.md.)
 */
function pauseHook(p: number, seed: number, vcpu: number, rcWindow: boolean): NonNullable<ContextOptions['hook']> {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const limit = Math.round(p * 2 ** 32);
  let x = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ (vcpu + 2)) | 1;
  return (point, ctx) => {
    if (point === 'nonatomic-rmw' || (rcWindow && point === 'hw-rc-update')) {
      pauseOutsideModeledTime(ctx, cell, STRESS_RCW_PAUSE_MS);
      return;
    }
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    if (x >>> 0 < limit) pauseOutsideModeledTime(ctx, cell, STRESS_PAUSE_MS);
  };
}

/**
 * Schedule steps a `stress.pause` lasts under a controlled schedule, per ms of the free-running
 * sleep: the delayed thread runs after the others for that many steps (at a few µs of work per
 * step, about what the sleep lets the others do).
 */
export const DELAY_STEPS_PER_PAUSE_MS = 200;

/**
 * The hook of a vCPU under a controlled schedule: each named point is a schedule point, and
 * `stress.pause` becomes a delay (Turnstile.delay) decided as the free-running hook decides its
 * sleeps (same points, same probability, a seeded per-vCPU stream), so the windows it holds open
 * stay open while the other threads run.
 */
export function controlledHook(t: Turnstile, cfg: ResolvedConfig, vcpu: number): NonNullable<ContextOptions['hook']> {
  const p = cfg.stress.pause;
  if (p <= 0) return (point) => t.point(point);
  const rcWindow = cfg.mutations.some((mu) => RC_WINDOW_MUTATIONS.includes(mu));
  const limit = Math.round(p * 2 ** 32);
  const pauseSteps = Math.round(STRESS_PAUSE_MS * DELAY_STEPS_PER_PAUSE_MS);
  const rcwSteps = Math.round(STRESS_RCW_PAUSE_MS * DELAY_STEPS_PER_PAUSE_MS);
  let x = (Math.imul(cfg.seed ^ 0x9e3779b9, 0x85ebca6b) ^ (vcpu + 2)) | 1;
  return (point) => {
    if (point === 'nonatomic-rmw' || (rcWindow && point === 'hw-rc-update')) t.delay(rcwSteps);
    else {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (x >>> 0 < limit) t.delay(pauseSteps);
    }
    t.point(point);
  };
}

/**
 * L1 lpid of the guest vCPU `v` runs: among its L1's vCPUs, by `guests.vcpuMap` over that L1's
 * guests (engine/vcpu-map.ts).
 */
export function guestOfVcpu(cfg: ResolvedConfig, v: number): number {
  return lpidOfSlot(guestSlotOfVcpu(cfg, v));
}
