/**
 * Turning the shared violation ring into readable records: which invariant, which check fired,
 * what was seen, where (lpid, addresses), the PTE values as Power ISA 64-bit values, which vCPU
 * and when, and the window of the kernel as written whose code path produced it, if any. The
 * records are written by invariants/violations.ts; fields are read by name (`VIOLATION`).
 */
import { CTRL, VIOLATION, VIOLATION_SLOTS, VIOLATION_WORDS } from '../memory/records.js';
import type { Machine } from '../memory/machine.js';
import { describePte, hex64, pteToIsa } from '../mmu/pte.js';
import { pnToBytes } from '../mmu/geometry.js';
import type { ViolationRecord } from '../stats/results.js';
import { INVARIANTS } from '../invariants/names.js';
import { KERNEL_WINDOWS, windowName } from '../invariants/windows.js';
import { VIOLATION_KIND as K } from '../invariants/violations.js';

const hexPn = (pn: number): string => '0x' + pnToBytes(pn).toString(16);
const isa = (w: number): string => hex64(pteToIsa(w));

/** One record as read from the ring. */
interface RawViolation {
  kind: number;
  lpid: number;
  pn: number;
  v0: number;
  v1: number;
  v2: number;
}

/**
 * The violation records (at most the ring's worth), the count per invariant, the count per kernel
 * window (only violations the window's own code path tagged, invariants/windows.ts), and the total.
 */
export function decodeViolations(m: Machine): { records: ViolationRecord[]; byInvariant: Record<string, number>; byWindow: Record<string, number>; total: number } {
  const w = m.w;
  const total = Atomics.load(w, m.ctrl(CTRL.violationCount));
  const byInvariant: Record<string, number> = {};
  INVARIANTS.forEach((name, i) => {
    const n = Atomics.load(w, m.ctrl(CTRL.violationByInvariant + i));
    if (n > 0) byInvariant[name] = n;
  });
  const byWindow: Record<string, number> = {};
  KERNEL_WINDOWS.forEach((name, i) => {
    const n = Atomics.load(w, m.ctrl(CTRL.violationByWindow + i + 1));
    if (n > 0) byWindow[name] = n;
  });
  const records: ViolationRecord[] = [];
  for (let k = 0; k < Math.min(total, VIOLATION_SLOTS); k++) {
    const at = m.L.violationsWord + k * VIOLATION_WORDS;
    const inv = w[at + VIOLATION.invariant];
    const raw: RawViolation = {
      kind: w[at + VIOLATION.kind],
      lpid: w[at + VIOLATION.lpid],
      pn: w[at + VIOLATION.pn],
      v0: w[at + VIOLATION.value0],
      v1: w[at + VIOLATION.value1],
      v2: w[at + VIOLATION.value2],
    };
    const rec = describe(raw, m.L.basePn);
    const window = windowName(w[at + VIOLATION.window]);
    records.push({
      invariant: INVARIANTS[inv] ?? `#${inv}`,
      message: window ? `${rec.message} (window ${window} of the kernel as written, docs/model.md §7)` : rec.message,
      ...(window ? { window } : {}),
      vcpu: w[at + VIOLATION.vcpu],
      // Which L1 it was found in, when there are several.
      ...(m.L.l1Count > 1 ? { l1: w[at + VIOLATION.l1] } : {}),
      timeMs: w[at + VIOLATION.timeMs],
      ...rec.fields,
    });
  }
  return { records, byInvariant, byWindow, total };
}

function describe(r: RawViolation, basePn: number): { message: string; fields: Partial<ViolationRecord> } {
  const { lpid, pn, v0, v1, v2 } = r;
  const l2 = hexPn(pn);
  switch (r.kind) {
    case K.staleShadow:
      return {
        message: `shadow leaf at L2 ${l2} -> ${describePte(v0)} is not backed by L0's leaf ${describePte(v1)} for L1 ${hexPn(v2)}`,
        fields: { lpid, l2Ra: l2, l1Ra: hexPn(v2), pte: { shadow: isa(v0), l1Table: isa(v1) } },
      };
    case K.shadowWithoutRmap:
      return {
        message: `shadow leaf at L2 ${l2} has no rmap entry in its L1 page's slot`,
        fields: { lpid, l2Ra: l2, pte: { shadow: isa(v0), l1Table: isa(v1) } },
      };
    case K.shadowWithoutL1Leaf:
    case K.shadowBeyondL1Leaf:
    case K.shadowBeyondHostLeaf:
      return {
        message: `shadow leaf at L2 ${l2} grants ${describePte(v0)} beyond ${r.kind === K.shadowBeyondHostLeaf ? "L0's leaf for L1" : "L1's leaf"} ${describePte(v1)}`,
        fields: { lpid, l2Ra: l2, pte: { shadow: isa(v0), limit: isa(v1) } },
      };
    case K.storeAfterWRevoked:
      return {
        message: `a store to L2 ${l2} went through a writable translation ${describePte(v0)} after L1 removed W and its tlbie completed`,
        fields: { lpid, l2Ra: l2, pte: { tlb: isa(v0) } },
      };
    case K.storeAfterCCleared:
      return {
        message: `a store to L2 ${l2} went through a dirty translation ${describePte(v0)} after L1 cleared C and its tlbie completed`,
        fields: { lpid, l2Ra: l2, pte: { tlb: isa(v0) } },
      };
    case K.rcChainBroken:
      return {
        message: `shadow leaf at L2 ${l2} ${describePte(v0)} has R/C that L0's leaf ${describePte(v1)} or L1's leaf ${describePte(v2)} lacks`,
        fields: { lpid, l2Ra: l2, pte: { shadow: isa(v0), l1Table: isa(v1), l1Own: isa(v2) } },
      };
    case K.tlbBeyondL1Table:
      return {
        message: `vCPU ${v2}'s TLB entry for L1 ${hexPn(pn)} (L1's own lpid ${lpid}) ${describePte(v0)} grants more than L0's leaf for L1 ${describePte(v1)}`,
        fields: { lpid, l1Ra: hexPn(pn), pte: { tlb: isa(v0), l1Table: isa(v1) } },
      };
    case K.tlbBeyondShadow:
      return {
        message: `vCPU ${v2}'s TLB entry for L2 ${l2} (lpid ${lpid}) ${describePte(v0)} grants more than the shadow leaf ${describePte(v1)}`,
        fields: { lpid, l2Ra: l2, pte: { tlb: isa(v0), shadow: isa(v1) } },
      };
    case K.storeToRetiredFrame:
      return {
        message: `a store landed in host frame ${v0}, retired since the translation was cached (generation ${v1} -> ${v2})`,
        fields: { lpid, hostRa: '0x' + v0.toString(16) },
      };
    case K.writesMissing:
      return { message: `${v0} completed stores are missing from guest memory (${v1} completed, ${v2} found)`, fields: {} };
    case K.dirtyPageMissed:
      return {
        message: `L1 page ${hexPn(pn * basePn)} was written (${v0} -> ${v1} stores) since the last harvest but not reported dirty`,
        fields: { l1Ra: hexPn(pn * basePn) },
      };
    case K.faultInFreedGuest:
      return { message: `a fault ran in nested guest lpid ${lpid} (generation ${v0}) after it was freed`, fields: { lpid } };
    case K.refcountBelowZero:
      return { message: `nested guest lpid ${lpid}'s reference count fell to ${v0}`, fields: { lpid } };
    case K.releasedWhileFaulting:
      return { message: `nested guest lpid ${lpid} was released with ${v0} fault(s) still running in it`, fields: { lpid } };
    case K.lockOfFreedGuest:
    case K.lockOfFreedGuestAllLpids:
      return {
        message: `tlbie emulation${r.kind === K.lockOfFreedGuestAllLpids ? ' (all lpids, no reference held)' : ''} released the tlb_lock of nested guest lpid ${lpid} (generation ${v0}) after it was freed`,
        fields: { lpid },
      };
    case K.refcountMismatch:
      return { message: `nested guest lpid ${lpid} holds ${v0} references but has ${v1} holders`, fields: { lpid } };
    case K.livelockL1:
      return { message: `L1's own access to L1 ${hexPn(pn)} made no progress after repeated faults (DSISR 0x${(v0 >>> 0).toString(16)}): livelock`, fields: { lpid, l1Ra: hexPn(pn) } };
    case K.livelockL2:
      return { message: `access to L2 ${l2} made no progress after repeated faults (DSISR 0x${(v0 >>> 0).toString(16)}): livelock`, fields: { lpid, l2Ra: l2 } };
    case K.rpnMerge:
      return {
        message: `create_pte merged two different real page numbers at ${l2}: ${describePte(v0)} | ${describePte(v1)}`,
        fields: { lpid, l2Ra: l2, pte: { old: isa(v0), new: isa(v1) } },
      };
    default:
      return { message: `violation kind #${r.kind}`, fields: {} };
  }
}
