/**
 * Broadcast invalidation (tlbie + tlbsync) across every vCPU's TLB (hw/tlb.ts).
 *
 * `tlbieBroadcaster()` makes the `Shootdown` hook of a context: bump the global epoch, drop every
 * matching entry in every vCPU's TLB, bump `tlbDone`, then wait until each vCPU whose TLB held a
 * match has passed an access boundary (or left guest mode), so no access that started with the
 * old translation is still in flight when the tlbie "completes". A vCPU filling an entry re-reads
 * the epoch after the fill and drops the entry (and retries the access) if it moved, which closes
 * the walk/fill race (hw/walker.ts). A vCPU probes a private mirror of its tags and re-syncs it
 * after each access boundary and guest entry at which `tlbDone` has moved, so a hit costs no
 * atomic operation.
 */
import { CTRL, LINE_WORDS, TLB_ENTRY_WORDS, VCPU_CTL, VSTATE_IN_GUEST, VSTATE_WAITING } from '../memory/records.js';
import type { Machine } from '../memory/machine.js';
import { pnAlign, pnCount } from '../mmu/geometry.js';
import { COUNTER } from '../stats/counters.js';
import type { HvContext, Shootdown } from '../hv/context.js';
import { current } from '../sync/turnstile.js';
import { COND } from '../sync/schedule-layout.js';
import { TLB_GEN, TLB_GEN_P1_STALE, TLB_INVALID, TLB_LPID, TLB_TAG, tlbBase } from './tlb.js';

export function vcpuCtl(m: Machine, v: number, field: number): number {
  return m.L.vcpuCtlWord + v * LINE_WORDS + field;
}

/**
 * Drop matching entries of vCPU v's TLB; returns how many. `shift` 0 = the whole lpid.
 * `vpnFirst`/`vpnCount` in base pages.
 */
function dropEntries(m: Machine, v: number, lpid: number, vpnFirst: number, vpnCount: number, wholeLpid: boolean): number {
  const w = m.w;
  const sets = m.L.tlbSets;
  const ways = m.L.tlbWays;
  const base = tlbBase(m, v);
  let dropped = 0;
  if (!wholeLpid && vpnCount <= 4) {
    for (let k = 0; k < vpnCount; k++) {
      const vpn = vpnFirst + k;
      const set = base + (vpn & (sets - 1)) * ways * TLB_ENTRY_WORDS;
      for (let way = 0; way < ways; way++) {
        const e = set + way * TLB_ENTRY_WORDS;
        if (Atomics.load(w, e + TLB_TAG) === vpn && Atomics.load(w, e + TLB_LPID) === lpid) {
          Atomics.store(w, e + TLB_TAG, TLB_INVALID);
          dropped++;
        }
      }
    }
    return dropped;
  }
  const end = vpnFirst + vpnCount;
  const n = sets * ways;
  for (let k = 0; k < n; k++) {
    const e = base + k * TLB_ENTRY_WORDS;
    const tag = Atomics.load(w, e + TLB_TAG);
    if (tag === TLB_INVALID || Atomics.load(w, e + TLB_LPID) !== lpid) continue;
    if (wholeLpid || (tag >= vpnFirst && tag < end)) {
      Atomics.store(w, e + TLB_TAG, TLB_INVALID);
      dropped++;
    }
  }
  return dropped;
}

/**
 * A context's `StaleMarker`: flag every TLB entry of (lpid, [pn, pn + 2^shift)) in every vCPU's
 * TLB as left behind by window P1's tlbie (TLB_GEN_P1_STALE), so what happens through it later is
 * told apart as the window's. Called only by P1's own code path (hv/rmap.ts).
 */
export function markP1Survivors(ctx: HvContext, lpid: number, pn: number, shift: number): void {
  const m = ctx.m;
  const w = m.w;
  const vpnFirst = Math.floor(pnAlign(pn, shift) / m.L.basePn);
  const end = vpnFirst + Math.max(1, pnCount(shift) / m.L.basePn);
  const n = m.L.tlbSets * m.L.tlbWays;
  for (let v = 0; v < m.L.vcpus; v++) {
    const base = tlbBase(m, v);
    for (let k = 0; k < n; k++) {
      const e = base + k * TLB_ENTRY_WORDS;
      const tag = Atomics.load(w, e + TLB_TAG);
      if (tag === TLB_INVALID || tag < vpnFirst || tag >= end || Atomics.load(w, e + TLB_LPID) !== lpid) continue;
      Atomics.or(w, e + TLB_GEN, TLB_GEN_P1_STALE);
    }
  }
}

/** Largest vCPU count (the `vcpus` key's maximum). */
const MAX_VCPUS = 256;

/**
 * A context's `Shootdown` hook: tlbie(lpid, address, size) followed by tlbsync.
 * `shift` > 0: the translation(s) covering [pn, pn + 2^shift); 0: every entry of `lpid`;
 * < 0: a page-walk-cache flush. No walk is cached here, but a walk in flight may hold a pointer
 * into the table being detached (and about to be freed and reused): bumping the epoch makes it
 * drop what it found and walk again. Each hook owns the list of vCPUs one broadcast waits for
 * (no allocation per tlbie).
 */
export function tlbieBroadcaster(): Shootdown {
  const waitFor = new Int32Array(MAX_VCPUS);
  return (ctx: HvContext, lpid: number, pn: number, shift: number): void => {
    const m = ctx.m;
    const w = m.w;
    current?.point('tlbie');
    Atomics.add(w, m.ctrl(CTRL.tlbEpoch), 1);
    if (shift < 0) return;
    const basePn = m.L.basePn;
    const whole = shift === 0;
    const vpnFirst = whole ? 0 : Math.floor(pnAlign(pn, shift) / basePn);
    const vpnCount = whole ? 0 : Math.max(1, pnCount(shift) / basePn);
    let total = 0;
    let waits = 0;
    for (let v = 0; v < m.L.vcpus; v++) {
      const dropped = dropEntries(m, v, lpid, vpnFirst, vpnCount, whole);
      if (dropped === 0) continue;
      total += dropped;
      if (v !== ctx.vcpu) waitFor[waits++] = v;
      else ctx.ownTlbDropped?.();
    }
    if (total === 0) return;
    // Every drop is in memory: vCPUs that cache tags privately resync at their next quiescence
    // point (which reads this after bumping its generation) or guest entry. Then wait for them.
    Atomics.add(w, m.ctrl(CTRL.tlbDone), 1);
    for (let k = 0; k < waits; k++) waitQuiescent(m, waitFor[k]);
    ctx.count(COUNTER.tlbShootdowns);
    ctx.count(COUNTER.tlbFlushes, total);
  };
}

/** Wait until vCPU v has passed an access boundary or is out of guest mode. */
function waitQuiescent(m: Machine, v: number): void {
  const w = m.w;
  const i = vcpuCtl(m, v, VCPU_CTL.state);
  const snap = Atomics.load(w, i);
  if ((snap & VSTATE_IN_GUEST) === 0) return;
  if (current !== null) {
    // Controlled: v runs only when chosen; block until its word moves past `snap`.
    current.blockUntil('tlbie-wait', COND.neMasked, i, snap & ~VSTATE_WAITING, ~VSTATE_WAITING);
    return;
  }
  Atomics.or(w, i, VSTATE_WAITING);
  for (;;) {
    const cur = Atomics.load(w, i);
    if (((cur ^ snap) & ~VSTATE_WAITING) !== 0) return; // passed a boundary, or left guest mode
    Atomics.wait(w, i, cur, 2);
  }
}

/**
 * The vCPU side: one atomic add to its state word (VSTATE_QUIESCE at an access boundary,
 * VSTATE_IN_GUEST to enter or leave guest mode); a waiting shootdown is woken.
 */
export function vcpuTransition(w: Int32Array, stateIdx: number, delta: number): void {
  if ((Atomics.add(w, stateIdx, delta) & VSTATE_WAITING) !== 0) {
    Atomics.and(w, stateIdx, ~VSTATE_WAITING);
    Atomics.notify(w, stateIdx);
  }
}
