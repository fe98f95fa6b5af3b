/**
 * Step D and the RC path (docs/model.md §4): an HDSI with DSISR_SET_RC. L0 sets R (and C for a
 * store) in its table for L1 and in the shadow leaf, in ONE mmu_lock hold, but only if L1's own
 * pte already has them; otherwise the fault is reflected to L1 with the original DSISR. A set
 * that cannot be done (leaf gone, or not writable) ends in INVAL.
 */
import { describe, expect, it } from 'vitest';
import { DSISR_ISSTORE, DSISR_PROTFAULT, DSISR_SET_RC } from '../../src/hv/regs.js';
import { FAULT_KIND } from '../../src/stats/kinds.js';
import { handleNestedSetRc } from '../../src/hv/nested-fault.js';
import { EINVAL, RESUME_GUEST, RESUME_HOST } from '../../src/hv/outcome.js';
import { hostMigrate, radixTestClearDirty } from '../../src/hv/notifier.js';
import { invalidateShadowPtes } from '../../src/hv/tlbie.js';
import { l1Clean } from '../../src/hv/l1-handler.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_READ, PAGE_WRITE, isPresent, pteToIsa } from '../../src/mmu/pte.js';
import { pteUpdate } from '../../src/mmu/tree.js';
import { Cpu } from '../../src/hw/cpu.js';
import { ACCESS_STORE } from '../../src/hw/walker.js';
import {
  L1_RWX_RC,
  backingHostPn,
  counter,
  dataGpaPn,
  dataL2Pn,
  fault,
  hostLeafOf,
  l1LeafOf,
  l1Map,
  makeRig,
  pageOf,
  shadowOf,
  type Rig,
} from './helpers.js';

const RWX = PAGE_READ | PAGE_WRITE | PAGE_EXEC;
const SET_RC_LOAD = DSISR_SET_RC;
const SET_RC_STORE = DSISR_SET_RC | DSISR_ISSTORE;

/**
 * L1 maps `l2` with `l1Flags` and L2 loads from it: the shadow leaf exists, writable if L1 and L0
 * allow, but never dirty (a load), and without R if L1's pte lacks R. Returns the addresses.
 */
function loaded(r: Rig, l1Flags: number): { l2: number; gpa: number; page: number } {
  const l2 = dataL2Pn(r);
  const gpa = dataGpaPn(r);
  l1Map(r, l2, gpa, l1Flags);
  expect(fault(r, l2).ret).toBe(RESUME_GUEST);
  expect(isPresent(shadowOf(r, l2).value)).toBe(true);
  expect(shadowOf(r, l2).value & PAGE_DIRTY).toBe(0);
  return { l2, gpa, page: pageOf(r, gpa) };
}

/** Clear bits in L0's leaf for L1 (what aging or a harvest leaves behind). */
function clearHostBits(r: Rig, gpa: number, bits: number): void {
  pteUpdate(r.w, hostLeafOf(r, gpa).word, bits, 0);
}

describe('D. nested_set_rc', () => {
  it('SET_RC load, L1 pte has R -> R set in L1-table leaf and shadow leaf, RESUME_GUEST (rcFixed)', () => {
    const r = makeRig();
    const { l2, gpa } = loaded(r, RWX); // L1 pte without R: the shadow leaf gets no R
    expect(shadowOf(r, l2).value & PAGE_ACCESSED).toBe(0);
    l1Map(r, l2, gpa, RWX | PAGE_ACCESSED); // L1's handler set R (no tlbie needed)
    clearHostBits(r, gpa, PAGE_ACCESSED); // aged by L0
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_LOAD });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.rcFixed);
    expect(hostLeafOf(r, gpa).value & PAGE_ACCESSED).toBe(PAGE_ACCESSED);
    expect(shadowOf(r, l2).value & (PAGE_ACCESSED | PAGE_DIRTY)).toBe(PAGE_ACCESSED);
  });

  it('SET_RC store, L1 pte has R and C -> R|C set in both leaves (shadow = L1-table leaf)', () => {
    const r = makeRig();
    const { l2, gpa, page } = loaded(r, L1_RWX_RC);
    clearHostBits(r, gpa, PAGE_DIRTY); // harvested by L0
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.rcFixed);
    const host = backingHostPn(r, page);
    expect(pteToIsa(hostLeafOf(r, gpa).value)).toBe(0xc000_0000_0000_0187n | (BigInt(host) << 12n));
    expect(pteToIsa(shadowOf(r, l2).value)).toBe(0xc000_0000_0000_0187n | (BigInt(host) << 12n));
  });

  it('SET_RC store, L1 pte lacks C -> reflect to L1 with the original DSISR (rcReflected), nothing set', () => {
    const r = makeRig();
    const { l2, gpa } = loaded(r, RWX | PAGE_ACCESSED);
    clearHostBits(r, gpa, PAGE_DIRTY);
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.rcReflected);
    expect(v.faultDsisr).toBe(SET_RC_STORE);
    expect(hostLeafOf(r, gpa).value & PAGE_DIRTY).toBe(0);
    expect(shadowOf(r, l2).value & PAGE_DIRTY).toBe(0);
  });

  it('SET_RC load, L1 pte lacks R -> reflect to L1 (rcReflected)', () => {
    const r = makeRig();
    const { l2 } = loaded(r, RWX);
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_LOAD });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.rcReflected);
    expect(v.faultDsisr).toBe(SET_RC_LOAD);
    expect(shadowOf(r, l2).value & PAGE_ACCESSED).toBe(0);
  });

  it('SET_RC store, L1-table leaf not writable -> set in L1 table refused -> INVAL drops the shadow leaf', () => {
    const r = makeRig();
    const { l2, gpa } = loaded(r, L1_RWX_RC);
    expect(shadowOf(r, l2).value & PAGE_WRITE).toBe(PAGE_WRITE);
    clearHostBits(r, gpa, PAGE_WRITE | PAGE_DIRTY);
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.inval);
    expect(shadowOf(r, l2).value).toBe(0);
    expect(hostLeafOf(r, gpa).value & PAGE_DIRTY).toBe(0);
  });

  it('SET_RC after the host unmapped the L1 page (migration) -> L1-table leaf gone -> INVAL', () => {
    const r = makeRig();
    const { l2, gpa, page } = loaded(r, L1_RWX_RC);
    expect(hostMigrate(r.actor, page)).toBe(true);
    expect(hostLeafOf(r, gpa).value).toBe(0);
    expect(shadowOf(r, l2).value).toBe(0); // found through the rmap and unmapped
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.inval);
    expect(hostLeafOf(r, gpa).value).toBe(0);
  });

  it('SET_RC with the shadow leaf gone -> L1-table leaf marked, shadow set refused -> INVAL (extra dirty mark only)', () => {
    const r = makeRig();
    const { l2, gpa } = loaded(r, L1_RWX_RC);
    clearHostBits(r, gpa, PAGE_DIRTY);
    invalidateShadowPtes(r.ctx, r.slot, l2, 12); // an L1 tlbie removed the shadow leaf
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.inval);
    expect(hostLeafOf(r, gpa).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  it('SET_RC | PROTFAULT -> R/C set, then continues to the insert path (not rcFixed)', () => {
    const r = makeRig();
    // L1 grants W but not R/X: the shadow leaf has no READ, so a load raises PROTFAULT (plus
    // SET_RC); translate_l2 allows it because write implies read.
    const { l2, gpa } = loaded(r, PAGE_WRITE | PAGE_ACCESSED | PAGE_DIRTY);
    clearHostBits(r, gpa, PAGE_ACCESSED);
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_LOAD | DSISR_PROTFAULT });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.shadowInsert);
    expect(hostLeafOf(r, gpa).value & PAGE_ACCESSED).toBe(PAGE_ACCESSED);
    expect(shadowOf(r, l2).value & (RWX | PAGE_ACCESSED | PAGE_DIRTY)).toBe(PAGE_WRITE | PAGE_ACCESSED);
  });

  it('both sets happen in one mmu_lock hold (F1): one acquisition, no window', () => {
    const r = makeRig();
    const { l2, gpa } = loaded(r, L1_RWX_RC);
    clearHostBits(r, gpa, PAGE_DIRTY);
    const before = counter(r, 'mmuLockAcq');
    r.trace.length = 0;
    expect(handleNestedSetRc(r.ctx, r.slot, l2, l1LeafOf(r, l2), gpa, SET_RC_STORE, r.fs)).toBe(0);
    expect(counter(r, 'mmuLockAcq') - before).toBe(1);
    expect(r.trace).toEqual([]);
    expect(hostLeafOf(r, gpa).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
    expect(shadowOf(r, l2).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
  });

  it('handleNestedSetRc: shadow leaf missing -> -EINVAL after marking the L1-table leaf', () => {
    const r = makeRig();
    const { l2, gpa } = loaded(r, L1_RWX_RC);
    invalidateShadowPtes(r.ctx, r.slot, l2, 12);
    clearHostBits(r, gpa, PAGE_ACCESSED);
    expect(handleNestedSetRc(r.ctx, r.slot, l2, l1LeafOf(r, l2), gpa, SET_RC_LOAD, r.fs)).toBe(EINVAL);
    expect(hostLeafOf(r, gpa).value & PAGE_ACCESSED).toBe(PAGE_ACCESSED);
  });

  it('dirty harvest racing the SET_RC fault: one hold keeps shadow.D => L1-table.D', () => {
    const r = makeRig({ l1: { dirtyLog: true } });
    const { l2, gpa, page } = loaded(r, L1_RWX_RC);
    expect(radixTestClearDirty(r.actor, page)).toBe(1);
    r.hooks['before-commit'] = () => radixTestClearDirty(r.actor, page); // would run between the sets if split
    const { v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(v.kind).toBe(FAULT_KIND.rcFixed);
    expect(r.hooks['before-commit']).toBeDefined(); // never reached: no window
    expect(hostLeafOf(r, gpa).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
    expect(shadowOf(r, l2).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
    // The next harvest reports the page and clears D in both leaves.
    expect(radixTestClearDirty(r.actor, page)).toBe(1);
    expect(shadowOf(r, l2).value & PAGE_DIRTY).toBe(0);
  });

  it('M11 split-rc-lock: a harvest between the two sets leaves shadow.D without L1-table.D (I3 broken)', () => {
    const r = makeRig({ l1: { dirtyLog: true }, mutations: ['split-rc-lock'] });
    const { l2, gpa, page } = loaded(r, L1_RWX_RC);
    expect(radixTestClearDirty(r.actor, page)).toBe(1);
    let harvested = -1;
    r.hooks['before-commit'] = () => (harvested = radixTestClearDirty(r.actor, page));
    const { v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(v.kind).toBe(FAULT_KIND.rcFixed);
    expect(harvested).toBe(1);
    expect(shadowOf(r, l2).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
    expect(hostLeafOf(r, gpa).value & PAGE_DIRTY).toBe(0);
  });

  it('M10 skip-set-rc-check: L1 pte lacks C but L0 sets D anyway (shadow.D without L1 C)', () => {
    const r = makeRig({ mutations: ['skip-set-rc-check'] });
    const { l2 } = loaded(r, RWX | PAGE_ACCESSED);
    const { ret, v } = fault(r, l2, { dsisr: SET_RC_STORE });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.rcFixed);
    expect(shadowOf(r, l2).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
  });
});

describe('RC path end to end (§3.9 worked example)', () => {
  it('L1 clears C + tlbie, next L2 store: NOHPTE insert, SET_RC reflected, SET_RC fixed -> 3 L0 exits, 1 L1 round trip', () => {
    const r = makeRig();
    const cpu = new Cpu(r.ctx, 1);
    expect(cpu.enter()).toBe(true);
    const l2 = dataL2Pn(r);
    expect(cpu.access(l2, ACCESS_STORE)).toBe(true); // cold: reflected + instantiate
    expect(l1Clean(r.ctx, r.slot, l2)).toBe(true); // clears C, H_TLB_INVALIDATE drops the shadow leaf
    expect(shadowOf(r, l2).value).toBe(0);
    const names = ['faultShadowInsert', 'faultRcReflected', 'faultRcFixed', 'l1Handled', 'faultHostInstantiate', 'faultReflected'] as const;
    const before = names.map((n) => counter(r, n));
    expect(cpu.access(l2, ACCESS_STORE)).toBe(true);
    const delta = names.map((n, i) => counter(r, n) - before[i]);
    expect(delta).toEqual([1, 1, 1, 1, 0, 0]);
    expect(shadowOf(r, l2).value & (PAGE_WRITE | PAGE_DIRTY)).toBe(PAGE_WRITE | PAGE_DIRTY);
    cpu.exit();
  });
});
