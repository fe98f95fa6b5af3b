/**
 * The stop-the-world barrier in shared memory: the auditor (vCPU 0) raises a request, every
 * other running vCPU parks at its next safe point (out of guest mode, holding no lock), the
 * auditor works on a quiescent machine, then resumes everyone. Monotonic counters throughout,
 * so a wake-up is never lost.
 */
import { CTRL } from '../memory/records.js';
import type { Machine } from '../memory/machine.js';
import type { Cpu } from '../hw/cpu.js';
import { current } from '../sync/turnstile.js';
import { COND } from '../sync/schedule-layout.js';

/**
 * A safe point: if an audit is in progress that this vCPU has not joined, park (leave guest
 * mode), count in, and sleep until the auditor resumes everyone. Returns the request seen.
 */
export function auditPoint(m: Machine, cpu: Cpu, seen: number): number {
  const w = m.w;
  const req = Atomics.load(w, m.ctrl(CTRL.auditRequest));
  if (req === seen || cpu.ctx.vcpu === 0) return req;
  if (Atomics.load(w, m.ctrl(CTRL.auditResume)) === req) return req;
  cpu.park();
  Atomics.add(w, m.ctrl(CTRL.auditParked), 1);
  Atomics.notify(w, m.ctrl(CTRL.auditParked));
  const resumeIdx = m.ctrl(CTRL.auditResume);
  if (current !== null) current.blockUntil('audit-park', COND.eqMasked, resumeIdx, req, -1);
  for (;;) {
    const r = Atomics.load(w, resumeIdx);
    if (r === req) break;
    Atomics.wait(w, resumeIdx, r, 50);
  }
  cpu.resume();
  return req;
}

/**
 * Stop the world (vCPU 0's duty): request, wait until every other running vCPU has parked,
 * run `fn`, resume everyone.
 */
export function stopTheWorld(m: Machine, fn: () => void): void {
  const w = m.w;
  const reqIdx = m.ctrl(CTRL.auditRequest);
  const parkedIdx = m.ctrl(CTRL.auditParked);
  Atomics.store(w, parkedIdx, 0);
  const req = Atomics.add(w, reqIdx, 1) + 1;
  // Controlled: every other running vCPU parks at its next safe point, when chosen.
  if (current !== null) current.blockUntil('audit-wait', COND.geWord, parkedIdx, -1, m.ctrl(CTRL.running));
  for (;;) {
    const parked = Atomics.load(w, parkedIdx);
    if (parked >= Atomics.load(w, m.ctrl(CTRL.running)) - 1) break;
    Atomics.wait(w, parkedIdx, parked, 20);
  }
  try {
    fn();
  } finally {
    Atomics.store(w, m.ctrl(CTRL.auditResume), req);
    Atomics.notify(w, m.ctrl(CTRL.auditResume));
  }
}

