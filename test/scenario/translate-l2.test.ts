/**
 * Step C of the nested fault: translate_l2 (kvmhv_translate_addr_nested, docs/model.md §3.3).
 * L0 walks L1's table for the L2 address and checks the access against L1's permissions; every
 * failure is reflected to L1 (RESUME_HOST) with the DSISR (and, for HISI, the SRR1 image) L0
 * computes, and nothing is mapped.
 */
import { PTBL } from '../../src/memory/records.js';
import { describe, expect, it } from 'vitest';
import {
  DSISR_ISSTORE,
  DSISR_KEYFAULT,
  DSISR_NOEXEC_OR_G,
  DSISR_NOHPTE,
  DSISR_PRTABLE_FAULT,
  DSISR_PROTFAULT,
  DSISR_UNSUPP_MMU,
  SRR1_ISI_N_G_OR_CIP, SRR1_MSR_BITS,
} from '../../src/hv/regs.js';
import { translateAddrNested } from '../../src/hv/nested-fault.js';
import { FAULT_KIND } from '../../src/stats/kinds.js';
import { RESUME_GUEST, RESUME_HOST } from '../../src/hv/outcome.js';
import { ptblWord, updatePtblCache } from '../../src/hv/guests.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_READ, PAGE_WRITE, makeDir } from '../../src/mmu/pte.js';
import { RADIX_RTS_52 } from '../../src/mmu/geometry.js';
import { WALK_OK } from '../../src/mmu/tree.js';
import { Cpu } from '../../src/hw/cpu.js';
import { ACCESS_STORE } from '../../src/hw/walker.js';
import {
  counter,
  dataGpaPn,
  dataL2Pn,
  fault,
  faultRegs,
  hostLeafOf,
  l1Map,
  l1PgdEntry,
  makeRig,
  shadowOf,
  type Rig,
} from './helpers.js';

/** Nothing got mapped for the fault: no shadow leaf and no L1-table leaf. */
function expectNothingMapped(r: Rig, l2Pn: number, gpaPn: number): void {
  expect(shadowOf(r, l2Pn).value).toBe(0);
  expect(hostLeafOf(r, gpaPn).value).toBe(0);
}

describe('translate_l2: walk failures', () => {
  it('L1 pte missing -> reflect to L1 (DSISR_NOHPTE)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(v.faultDsisr).toBe(DSISR_NOHPTE);
    expect(v.faultGpa).toBe(l2 * 4096);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  it('store, L1 pte missing -> reflect to L1 (DSISR_NOHPTE | ISSTORE)', () => {
    const r = makeRig();
    const { ret, v } = fault(r, dataL2Pn(r), { store: true });
    expect(ret).toBe(RESUME_HOST);
    expect(v.faultDsisr).toBe(DSISR_NOHPTE | DSISR_ISSTORE);
  });

  it('L1 PUD directory missing (PGD entry empty) -> reflect (DSISR_NOHPTE)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r));
    Atomics.store(r.w, l1PgdEntry(r, l2), 0);
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_HOST);
    expect(v.faultDsisr).toBe(DSISR_NOHPTE);
  });

  it('L1 table with a wrong NLS (PUD of 2^8 entries) -> reflect (DSISR_UNSUPP_MMU)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    const pgd = l1PgdEntry(r, l2);
    Atomics.store(r.w, pgd, makeDir(r.w[pgd] & 0x01ff_ffff, 8));
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(v.faultDsisr).toBe(DSISR_UNSUPP_MMU | DSISR_ISSTORE);
    expectNothingMapped(r, l2, gpa);
  });

  it("L1's partition-table entry with a wrong RTS (not a 52-bit tree) -> reflect (DSISR_UNSUPP_MMU)", () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r));
    Atomics.store(r.w, ptblWord(r.ctx, 1, PTBL.rts), RADIX_RTS_52 - 1);
    updatePtblCache(r.ctx, r.slot); // what a RIC=2 flush or the next entry would do
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_HOST);
    expect(v.faultDsisr).toBe(DSISR_UNSUPP_MMU);
  });

  it('L1 table entry in unreadable L1 memory (MMIO hole) -> reflect (DSISR_PRTABLE_FAULT), ASDR = address of that entry', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r));
    // L1 points its PUD at a page of its MMIO hole, which L0 cannot read (kvm_read_guest fails).
    const holePn = (r.m.L.l1Pages + 2) * r.m.L.basePn;
    Atomics.store(r.w, l1PgdEntry(r, l2), makeDir(holePn, 9));
    const { ret, v } = fault(r, l2, { offset: 0x123 });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(v.faultDsisr).toBe(DSISR_PRTABLE_FAULT);
    expect(v.faultGpa).toBe(holePn * 4096 + ((l2 >>> 18) & 511) * 8);
    expect(v.faultDar).toBe(l2 * 4096 + 0x123); // DAR untouched
  });

  it('reflected DSISR keeps only ISSTORE plus the reason (other hardware bits dropped)', () => {
    const r = makeRig();
    const { v } = fault(r, dataL2Pn(r), { dsisr: DSISR_NOHPTE | DSISR_ISSTORE | DSISR_KEYFAULT });
    expect(v.faultDsisr).toBe(DSISR_NOHPTE | DSISR_ISSTORE);
  });
});

describe('translate_l2: permission checks against L1 pte', () => {
  it('store, L1 pte read-only -> reflect (DSISR_PROTFAULT | ISSTORE)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa, PAGE_READ | PAGE_EXEC | PAGE_ACCESSED);
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(v.faultDsisr).toBe(DSISR_PROTFAULT | DSISR_ISSTORE);
    expectNothingMapped(r, l2, gpa);
  });

  it('load, L1 pte with neither R nor W -> reflect (DSISR_PROTFAULT)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r), PAGE_EXEC | PAGE_ACCESSED);
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_HOST);
    expect(v.faultDsisr).toBe(DSISR_PROTFAULT);
  });

  it('load, L1 pte write-only -> allowed (write implies read), shadow leaf installed', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r), PAGE_WRITE | PAGE_ACCESSED | PAGE_DIRTY);
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    const s = shadowOf(r, l2).value;
    expect(s & (PAGE_READ | PAGE_WRITE | PAGE_EXEC)).toBe(PAGE_WRITE);
  });

  it('HISI fetch, L1 pte without X -> reflect with the SRR1 no-exec bit, MSR part of SRR1 kept', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r), PAGE_READ | PAGE_WRITE | PAGE_ACCESSED);
    const msr = 0x0000_0020; // a bit outside DSISR_SRR1_MATCH_64S
    const { ret, v } = fault(r, l2, { fetch: true, srr1Msr: msr });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(SRR1_ISI_N_G_OR_CIP).toBe(DSISR_NOEXEC_OR_G);
    expect(v.faultDsisr).toBe(SRR1_ISI_N_G_OR_CIP);
    expect(v.srr1).toBe(msr | SRR1_ISI_N_G_OR_CIP);
  });

  it('HISI reflected: SRR1 keeps the MSR as reg.h SRR1_MSR_BITS (~0x783f0000) in 64 bits: the upper word whole (MSR_SF), the lower word less 0x783f0000 (was: ~DSISR_SRR1_MATCH_64S in 32 bits)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r), PAGE_READ | PAGE_WRITE | PAGE_ACCESSED);
    // MSR_SF in the upper word; EE ME IR DR RI LE below; and 0x20010000, bits inside 0x783f0000
    // that DSISR_SRR1_MATCH_64S does not name (HSRR1_HISI_WRITE among them): cleared.
    const lo = 0x9033 | 0x2001_0000;
    const { v } = fault(r, l2, { fetch: true, srr1Msr: lo, srr1MsrHi: 0x8000_0000 | 0 });
    expect(SRR1_MSR_BITS).toBe(~0x783f_0000);
    expect(v.srr1Hi).toBe(0x8000_0000 | 0);
    expect(v.srr1).toBe(0x9033 | SRR1_ISI_N_G_OR_CIP);
  });

  it('HISI fetch, L1 pte missing -> SRR1 image rewritten to NOHPTE', () => {
    const r = makeRig();
    const { v } = fault(r, dataL2Pn(r), { fetch: true, srr1Msr: 0x20 });
    expect(v.srr1).toBe(0x20 | DSISR_NOHPTE);
  });

  it('HISI fetch, L1 pte executable but not readable -> translated (fetch needs X only)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r), PAGE_EXEC | PAGE_ACCESSED);
    const { ret } = fault(r, l2, { fetch: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(shadowOf(r, l2).value & (PAGE_READ | PAGE_WRITE | PAGE_EXEC)).toBe(PAGE_EXEC);
  });

  it('translateAddrNested OK -> walk result holds L1 leaf, page shift and gpa (2M L1 leaf adds the offset)', () => {
    const r = makeRig();
    const l2 = 0x4000 + 0x37; // inside a 2M-aligned L2 block
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa, PAGE_READ | PAGE_WRITE | PAGE_ACCESSED, 21);
    const v = faultRegs(r, l2);
    expect(translateAddrNested(r.ctx, v, r.slot, l2, v.faultDsisr, r.fs)).toBe(0);
    expect(r.fs.walk.status).toBe(WALK_OK);
    expect(r.fs.walk.pageShift).toBe(21);
    expect(r.fs.walk.raPn).toBe(gpa + 0x37);
    expect(v.faultDsisr).toBe(DSISR_NOHPTE); // untouched on success
  });
});

describe('translate_l2 end to end (hardware walk, L0 and L1 handlers on one vCPU)', () => {
  it('cold store: NOHPTE reflected to L1, L1 maps, NOHPTE again -> host instantiate, store completes', () => {
    const r = makeRig();
    const cpu = new Cpu(r.ctx, 1);
    expect(cpu.enter()).toBe(true);
    const l2 = dataL2Pn(r);
    expect(cpu.access(l2, ACCESS_STORE)).toBe(true);
    expect(counter(r, 'faultReflected')).toBe(1);
    expect(counter(r, 'l1Handled')).toBe(1);
    expect(counter(r, 'faultHostInstantiate')).toBe(1);
    cpu.publish(); // per-access counts reach the shared block in batches
    expect(counter(r, 'writesCompleted')).toBe(1);
    expect(counter(r, 'tlbMisses')).toBe(1);
    // The second store hits the TLB: no more faults.
    expect(cpu.access(l2, ACCESS_STORE)).toBe(true);
    expect(counter(r, 'tlbHits')).toBe(0);
    cpu.publish();
    expect(counter(r, 'tlbHits')).toBe(1);
    expect(counter(r, 'writesCompleted')).toBe(2);
    expect(counter(r, 'faultReflected') + counter(r, 'faultHostInstantiate')).toBe(2);
    cpu.exit();
  });
});
