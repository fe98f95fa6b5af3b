/**
 * instantiate_l1_page (kvmppc_book3s_instantiate_page, docs/model.md §3.4): L0 faults in the
 * host page behind an L1 gpa and maps it in its table for L1. Flags (EXEC and R always, C exactly
 * when mapped writable, "upgrade" on a read of a writable slot), the level from the host mapping
 * and dirty logging, GUP failure, and window P3 (a vanished host entry returns 0) as written and
 * with `fixes: [p3]`, directly and through the nested fault (step G).
 */
import { describe, expect, it } from 'vitest';
import { InstantiateResult, book3sInstantiatePage } from '../../src/hv/radix.js';
import { l1TableOf } from '../../src/hv/l1-table.js';
import { EAGAIN, EFAULT, RESUME_GUEST } from '../../src/hv/outcome.js';
import { FAULT_KIND } from '../../src/stats/kinds.js';
import { hostFaultIn, markBlockBusyLocked } from '../../src/memory/host.js';
import { hostMigrate } from '../../src/hv/notifier.js';
import { BACKING_BUSY, SLOT_MAIN, SLOT_READONLY } from '../../src/memory/machine.js';
import { CTRL, L1CTRL } from '../../src/memory/records.js';
import { PAGE_ACCESSED, PAGE_DIRTY, PAGE_EXEC, PAGE_READ, PAGE_WRITE, isPresent, makeLeaf, pteRpn, pteToIsa } from '../../src/mmu/pte.js';
import { pteUpdate } from '../../src/mmu/tree.js';
import {
  backingHostPn,
  backingOrderOf,
  dataGpaPn,
  dataL2Pn,
  fault,
  hostLeafOf,
  l1Map,
  makeRig,
  pageOf,
  rmapOf,
  shadowOf,
  type Rig,
} from './helpers.js';

const R_X_A = PAGE_READ | PAGE_EXEC | PAGE_ACCESSED;
const RWXAD = R_X_A | PAGE_WRITE | PAGE_DIRTY;

function instantiate(r: Rig, gpaPn: number, write: boolean, ro = false, slot = ro ? SLOT_READONLY : SLOT_MAIN): { ret: number; out: InstantiateResult } {
  const out = new InstantiateResult();
  const ret = book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpaPn, r.m.slotFlags(slot), write, ro, out);
  return { ret, out };
}

/** Back L1 page `page` with a host frame, then mark its host entry as going away (THP split/collapse, migration). */
/**
 * The host entry of `page` gone with no invalidation pending: a state Linux's order (entries
 * cleared only inside the notifier bracket) never produces, and nestsim's host no longer does
 * either; kept to pin what the P3 code path does when it is entered.
 */
function vanishing(r: Rig, page: number): void {
  expect(hostFaultIn(r.m, page)).not.toBe(0);
  Atomics.or(r.w, r.m.L.backingWord + page, BACKING_BUSY);
}

describe('instantiate_l1_page: flags', () => {
  const cases: Array<[string, boolean, boolean, number]> = [
    ['read of a writable slot -> upgraded: R|W|X|A|C', false, false, RWXAD],
    ['write -> R|W|X|A|C', true, false, RWXAD],
    ['read of a read-only slot -> R|X|A only (no W, no C)', false, true, R_X_A],
  ];
  for (const [name, write, ro, flags] of cases) {
    it(name, () => {
      const r = makeRig();
      const gpa = ro ? (r.m.L.l1MainPages + 1) * r.m.L.basePn : dataGpaPn(r);
      const { ret, out } = instantiate(r, gpa, write, ro);
      expect(ret).toBe(0);
      const host = backingHostPn(r, pageOf(r, gpa));
      expect(out.hp).toBe(makeLeaf(host, flags));
      expect(out.level).toBe(0);
      expect(hostLeafOf(r, gpa)).toMatchObject({ value: out.hp, level: 0 });
      expect(pteToIsa(out.hp) & 0x1ffn).toBe(ro ? 0x105n : 0x187n);
    });
  }
});

describe('instantiate_l1_page: level from the host mapping', () => {
  it('host 2M block, slot not dirty-logging -> 2M leaf (level 1) at the aligned gpa, RPN = first frame of the block', () => {
    const r = makeRig({ host: { backing: { base: 0, '2M': 1 } } });
    const gpa = dataGpaPn(r) + 0x25;
    const { ret, out } = instantiate(r, gpa, true);
    expect(ret).toBe(0);
    expect(out.level).toBe(1);
    expect(backingOrderOf(r, pageOf(r, gpa))).toBe(1);
    const first = backingHostPn(r, pageOf(r, dataGpaPn(r)));
    expect(first % 512).toBe(0);
    expect(out.hp).toBe(makeLeaf(first, RWXAD));
    expect(hostLeafOf(r, dataGpaPn(r) + 0x1ff)).toMatchObject({ value: out.hp, level: 1, shift: 21 });
  });

  it('host 2M block, slot dirty-logging -> base leaf (level 0) for the page, RPN = its own frame', () => {
    const r = makeRig({ host: { backing: { base: 0, '2M': 1 } }, l1: { dirtyLog: true } });
    const gpa = dataGpaPn(r) + 0x25;
    const { ret, out } = instantiate(r, gpa, true);
    expect(ret).toBe(0);
    expect(out.level).toBe(0);
    expect(pteRpn(out.hp)).toBe(backingHostPn(r, pageOf(r, dataGpaPn(r))) + 0x25);
    expect(hostLeafOf(r, gpa + 1).value).toBe(0);
  });

  it('host 1G block -> 1G leaf (level 2)', () => {
    const r = makeRig({ l1: { memory: '2G' }, host: { memory: '2G', backing: { base: 0, '1G': 1 } } });
    const gpa = dataGpaPn(r) + 0x25;
    const { ret, out } = instantiate(r, gpa, false);
    expect(ret).toBe(0);
    expect(out.level).toBe(2);
    expect(backingOrderOf(r, pageOf(r, gpa))).toBe(2);
    expect(pteRpn(out.hp) % 0x4_0000).toBe(0);
    expect(hostLeafOf(r, 0)).toMatchObject({ value: out.hp, level: 2, shift: 30 });
  });

  it('64K base page, host 2M block -> 2M leaf; with dirty logging -> 64K leaf with the offset folded in', () => {
    const huge = makeRig({ basePageSize: '64K', host: { backing: { base: 0, '2M': 1 } } });
    const gpa = dataGpaPn(huge) + 0x30; // 4 KiB units: L1 page 3 of the 2M block
    expect(instantiate(huge, gpa, true).out.level).toBe(1);
    const logged = makeRig({ basePageSize: '64K', host: { backing: { base: 0, '2M': 1 } }, l1: { dirtyLog: true } });
    const { out } = instantiate(logged, gpa, true);
    expect(out.level).toBe(0);
    expect(pteRpn(out.hp)).toBe(backingHostPn(logged, pageOf(logged, dataGpaPn(logged))) + 0x30);
    expect(hostLeafOf(logged, gpa + 0xf)).toMatchObject({ level: 0, shift: 16 });
  });
});

describe('instantiate_l1_page: failures', () => {
  it('GUP fails (host out of memory) -> -EFAULT, nothing inserted', () => {
    const r = makeRig();
    r.w[r.m.ctrl(CTRL.hostBump)] = r.m.L.hostFrames;
    const { ret } = instantiate(r, dataGpaPn(r), true);
    expect(ret).toBe(EFAULT);
    expect(hostLeafOf(r, dataGpaPn(r)).value).toBe(0);
  });

  it('P3 as written: host entry vanished before the locked re-read -> returns 0, result left untouched, nothing inserted', () => {
    const r = makeRig();
    const gpa = dataGpaPn(r);
    vanishing(r, pageOf(r, gpa));
    const out = new InstantiateResult();
    out.hp = 0x1234;
    out.level = 2;
    expect(book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), true, false, out)).toBe(0);
    expect([out.hp, out.level]).toEqual([0x1234, 2]);
    expect(hostLeafOf(r, gpa).value).toBe(0);
  });

  it('P3 with fixes [p3]: host entry vanished -> -EAGAIN', () => {
    const r = makeRig({ fixes: ['p3'] });
    const gpa = dataGpaPn(r);
    vanishing(r, pageOf(r, gpa));
    expect(instantiate(r, gpa, true).ret).toBe(EAGAIN);
    expect(hostLeafOf(r, gpa).value).toBe(0);
  });

  it('invalidation in progress at the re-read (retry(seq2)) -> host entry treated as absent (0 as written, -EAGAIN fixed)', () => {
    for (const protocol of ['mainline', 'fixed'] as const) {
      const r = makeRig({ protocol });
      Atomics.add(r.w, r.m.l1ctrl(L1CTRL.mmuInProgress), 1);
      expect(instantiate(r, dataGpaPn(r), true).ret).toBe(protocol === 'fixed' ? EAGAIN : 0);
      expect(hostLeafOf(r, dataGpaPn(r)).value).toBe(0);
    }
  });
});

describe('G. instantiate through the nested fault (window P3)', () => {
  it('P3 as written: vanished host entry -> stale hp (none) used: empty shadow word "installed" and an rmap entry added', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    vanishing(r, pageOf(r, gpa));
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    expect(isPresent(shadowOf(r, l2).value)).toBe(false);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([[1, l2]]); // the garbage entry; harmless (pfn check)
  });

  it('P3 as written after an earlier instantiate on this vCPU -> no shadow leaf to the earlier page frame', () => {
    const r = makeRig();
    const other = dataL2Pn(r, 1);
    const otherGpa = dataGpaPn(r, 1);
    l1Map(r, other, otherGpa);
    expect(fault(r, other, { store: true }).v.kind).toBe(FAULT_KIND.hostInstantiate);
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    vanishing(r, pageOf(r, gpa));
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    // The kernel keeps its own stale copy of the L1-table leaf (none here), never another page's.
    expect(isPresent(shadowOf(r, l2).value)).toBe(false);
    expect(pteRpn(shadowOf(r, l2).value)).not.toBe(backingHostPn(r, pageOf(r, otherGpa)));
  });

  it('P3 as written with a stale read-only L1-table leaf and a store -> read-only shadow leaf (L2 re-faults)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    expect(instantiate(r, gpa, false).ret).toBe(0);
    pteUpdate(r.w, hostLeafOf(r, gpa).word, PAGE_WRITE | PAGE_DIRTY, 0);
    const stale = hostLeafOf(r, gpa).value;
    vanishing(r, pageOf(r, gpa));
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    expect(shadowOf(r, l2).value).toBe(stale);
    expect(shadowOf(r, l2).value & PAGE_WRITE).toBe(0);
  });

  it('P3 with fixes [p3]: vanished host entry -> retried, no shadow leaf, no rmap entry', () => {
    const r = makeRig({ fixes: ['p3'] });
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    vanishing(r, pageOf(r, gpa));
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.retried);
    expect(shadowOf(r, l2).value).toBe(0);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([]);
  });
});

describe('P3 with the host ordered as Linux orders it (entries cleared inside the notifier bracket)', () => {
  it('the host cannot clear an entry outside an invalidation: markBlockBusyLocked refuses', () => {
    const r = makeRig();
    const page = pageOf(r, dataGpaPn(r));
    expect(hostFaultIn(r.m, page)).not.toBe(0);
    expect(() => markBlockBusyLocked(r.m, page, 1, true)).toThrow(/outside an MMU-notifier bracket/);
    Atomics.add(r.w, r.m.l1ctrl(L1CTRL.mmuInProgress), 1);
    expect(() => markBlockBusyLocked(r.m, page, 1, true)).not.toThrow();
  });

  it('P3 as written, reached the only way Linux can reach it: instantiate returns 0, and the nested fault\'s own create_pte sees the retry -> retried, no shadow leaf, no rmap entry', () => {
    const r = makeRig({ protocol: 'mainline' });
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    const page = pageOf(r, gpa);
    expect(hostFaultIn(r.m, page)).not.toBe(0);
    // invalidate_range_start has begun KVM's invalidation; the host then clears its entry.
    Atomics.add(r.w, r.m.l1ctrl(L1CTRL.mmuInProgress), 1);
    markBlockBusyLocked(r.m, page, 1, true);
    expect(instantiate(r, gpa, true).ret).toBe(0); // P3: the vanished entry counts as success
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.retried); // kvmppc_create_pte: mmu_invalidate_retry -> -EAGAIN
    expect(shadowOf(r, l2).value).toBe(0);
    expect(rmapOf(r, page)).toEqual([]);
  });

  it('a migration run through the host (notifier, entries cleared, frames moved) leaves no translation of the old frames', () => {
    const r = makeRig({ protocol: 'mainline' });
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    expect(fault(r, l2, { store: true }).v.kind).toBe(FAULT_KIND.hostInstantiate);
    expect(isPresent(shadowOf(r, l2).value)).toBe(true);
    expect(hostMigrate(r.ctx, pageOf(r, gpa))).toBe(true);
    expect(shadowOf(r, l2).value).toBe(0);
    expect(hostLeafOf(r, gpa).value).toBe(0);
    expect(r.w[r.m.l1ctrl(L1CTRL.mmuInProgress)]).toBe(0);
  });
});
