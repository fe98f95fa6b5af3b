/**
 * Turning the shared violation ring into readable records: which invariant, what was seen,
 * where (lpid, addresses), the PTE values as Power ISA 64-bit values, which vCPU and when, and
 * whether a window of the kernel as written (kernel-model.md §7 P1-P5) explains it.
 */
import { CTRL, VIOLATION_SLOTS, VIOLATION_WORDS } from '../memory/layout.js';
import type { Machine } from '../memory/machine.js';
import { describePte, hex64, pteToIsa } from '../mmu/pte.js';
import type { ViolationRecord } from '../stats/results.js';
import { INVARIANTS, INV, L1_LPID } from '../hv/context.js';
import type { ResolvedConfig } from '../workload/types.js';

const hexPn = (pn: number): string => '0x' + (pn * 4096).toString(16);
const isa = (w: number): string => hex64(pteToIsa(w));

/** Which §7 window can explain a violation of `inv` under this profile, if any. */
export function explainedBy(cfg: ResolvedConfig, inv: number): string | undefined {
  if (cfg.mutations.length > 0 || cfg.protocol === 'fixed' || cfg.hardware.rc === 'auto') return undefined;
  const open = (p: string): boolean => !cfg.fixes.includes(p as never);
  if ((inv === INV['I6-dirty-log'] || inv === INV['I4-tlb']) && open('p1')) return 'P1';
  if ((inv === INV['I6-dirty-log'] || inv === INV['I3-dirty-chain']) && open('p5')) return 'P5';
  if (inv === INV['I7-lifetime'] && open('p2')) return 'P2';
  if (inv === INV['P4-rpn-merge']) return 'P4';
  return undefined;
}

export function decodeViolations(m: Machine, cfg: ResolvedConfig): { records: ViolationRecord[]; byInvariant: Record<string, number>; total: number } {
  const w = m.w;
  const total = Atomics.load(w, m.ctrl(CTRL.violationCount));
  const byInvariant: Record<string, number> = {};
  INVARIANTS.forEach((name, i) => {
    const n = Atomics.load(w, m.ctrl(CTRL.violationByInvariant + i));
    if (n > 0) byInvariant[name] = n;
  });
  const records: ViolationRecord[] = [];
  for (let k = 0; k < Math.min(total, VIOLATION_SLOTS); k++) {
    const at = m.L.violationsWord + k * VIOLATION_WORDS;
    const inv = w[at]!;
    const [vcpu, a, b, c, d, e, timeMs] = [w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!];
    const rec = describe(inv, a, b, c, d, e);
    const why = explainedBy(cfg, inv);
    records.push({
      invariant: INVARIANTS[inv] ?? `#${inv}`,
      message: why ? `${rec.message} (explained by window ${why} of the kernel as written)` : rec.message,
      vcpu,
      timeMs,
      ...rec.fields,
    });
  }
  return { records, byInvariant, total };
}

function describe(inv: number, a: number, b: number, c: number, d: number, e: number): { message: string; fields: Partial<ViolationRecord> } {
  switch (inv) {
    case INV['I1-no-stale-shadow']:
      return {
        message:
          e === -1
            ? `shadow leaf at L2 ${hexPn(b)} has no rmap entry in its L1 page's slot`
            : `shadow leaf at L2 ${hexPn(b)} -> ${describePte(c)} is not backed by L0's leaf ${describePte(d)} for L1 ${hexPn(e)}`,
        fields: { lpid: a, l2Ra: hexPn(b), l1Ra: e > 0 ? hexPn(e) : undefined, pte: { shadow: isa(c), l1Table: isa(d) } },
      };
    case INV['I2-permissions']:
      if (e === 5) {
        return {
          message: `a store to L2 ${hexPn(b)} went through a writable translation ${describePte(c)} after L1 removed W and its tlbie completed`,
          fields: { lpid: a, l2Ra: hexPn(b), pte: { tlb: isa(c) } },
        };
      }
      return {
        message: `shadow leaf at L2 ${hexPn(b)} grants ${describePte(c)} beyond ${e === 3 ? "L0's leaf for L1" : "L1's leaf"} ${describePte(d)}`,
        fields: { lpid: a, l2Ra: hexPn(b), pte: { shadow: isa(c), limit: isa(d) } },
      };
    case INV['I3-dirty-chain']:
      if (e === -5) {
        return {
          message: `a store to L2 ${hexPn(b)} went through a dirty translation ${describePte(c)} after L1 cleared C and its tlbie completed`,
          fields: { lpid: a, l2Ra: hexPn(b), pte: { tlb: isa(c) } },
        };
      }
      return {
        message: `shadow leaf at L2 ${hexPn(b)} ${describePte(c)} has R/C that L0's leaf ${describePte(d)} or L1's leaf ${describePte(e)} lacks`,
        fields: { lpid: a, l2Ra: hexPn(b), pte: { shadow: isa(c), l1Table: isa(d), l1Own: isa(e) } },
      };
    case INV['I4-tlb']:
      if (a === L1_LPID) {
        return {
          message: `vCPU ${e}'s TLB entry for L1 ${hexPn(b)} (L1's own lpid ${a}) ${describePte(c)} grants more than L0's leaf for L1 ${describePte(d)}`,
          fields: { lpid: a, l1Ra: hexPn(b), pte: { tlb: isa(c), l1Table: isa(d) } },
        };
      }
      return {
        message: `vCPU ${e}'s TLB entry for L2 ${hexPn(b)} (lpid ${a}) ${describePte(c)} grants more than the shadow leaf ${describePte(d)}`,
        fields: { lpid: a, l2Ra: hexPn(b), pte: { tlb: isa(c), shadow: isa(d) } },
      };
    case INV['I5-no-lost-write']:
      return e === -1
        ? { message: `${b} completed stores are missing from guest memory (${c} completed, ${d} found)`, fields: {} }
        : { message: `a store landed in host frame ${b}, retired since the translation was cached (generation ${c} -> ${d})`, fields: { lpid: a, hostRa: '0x' + b.toString(16) } };
    case INV['I6-dirty-log']:
      return {
        message: `L1 page ${hexPn(b)} was written (${c} -> ${d} stores) since the last harvest but not reported dirty`,
        fields: { l1Ra: hexPn(b) },
      };
    case INV['I7-lifetime']:
      return { message: `nested guest lpid ${a} used or counted after its last reference (${b}, ${c})`, fields: { lpid: a } };
    case INV.liveness:
      if (a === L1_LPID) return { message: `L1's own access to L1 ${hexPn(b)} made no progress after repeated faults (DSISR 0x${(c >>> 0).toString(16)}): livelock`, fields: { lpid: a, l1Ra: hexPn(b) } };
      return { message: `access to L2 ${hexPn(b)} made no progress after repeated faults (DSISR 0x${(c >>> 0).toString(16)}): livelock`, fields: { lpid: a, l2Ra: hexPn(b) } };
    case INV['P4-rpn-merge']:
      return {
        message: `create_pte merged two different real page numbers at ${hexPn(b)}: ${describePte(c)} | ${describePte(d)}`,
        fields: { lpid: a, l2Ra: hexPn(b), pte: { old: isa(c), new: isa(d) } },
      };
    default:
      return { message: `invariant #${inv}`, fields: {} };
  }
}
