/**
 * The body of the nested fault, step by step (__kvmhv_nested_page_fault, docs/model.md §3.2):
 * A (cached root), B (n_gpa), C's INVAL exit, E (L1 page size), F (memslot: MMIO, DSI, read-only),
 * G (L1-table lookup after the seq read, instantiate), J (commit with rmap, -EAGAIN, allocation
 * failures). Translate (C), set_rc (D), combine/size (H, I) and create_pte have their own files.
 */
import { describe, expect, it } from 'vitest';
import {
  DSISR_BADACCESS,
  DSISR_BAD_COPYPASTE,
  DSISR_ISSTORE,
  DSISR_NOEXEC_OR_G,
  DSISR_NOHPTE,
  DSISR_PRTABLE_FAULT,
  DSISR_PROTFAULT,
  SRR1_ISI_N_G_OR_CIP,
} from '../../src/hv/regs.js';
import { GUEST, guestWord, l1SetPartitionEntry } from '../../src/hv/guests.js';
import { InstantiateResult, book3sInstantiatePage } from '../../src/hv/radix.js';
import { l1TableOf } from '../../src/hv/l1-table.js';
import { FAULT_KIND } from '../../src/stats/kinds.js';
import { EFAULT, EINVAL, ENOMEM, RESUME_GUEST, RESUME_HOST, RESUME_HOST_NV } from '../../src/hv/outcome.js';
import { hostMigrate } from '../../src/hv/notifier.js';
import { CTRL, L1CTRL } from '../../src/memory/records.js';
import { MEMSLOT_INVALID, SLOT, SLOT_MAIN } from '../../src/memory/machine.js';
import {
  PAGE_ACCESSED,
  PAGE_DIRTY,
  PAGE_EXEC,
  PAGE_READ,
  PAGE_WRITE,
  PTE_NLB_MASK,
  isPresent,
  makeDir,
  makeLeaf,
  pteRpn,
  pteToIsa,
} from '../../src/mmu/pte.js';
import { pteUpdate } from '../../src/mmu/tree.js';
import {
  L1_RWX_RC,
  backingHostPn,
  counter,
  dataGpaPn,
  dataL2Pn,
  fault,
  hostLeafOf,
  l1Entry,
  l1Map,
  l1PgdEntry,
  makeRig,
  pageOf,
  rmapOf,
  shadowOf,
  type Rig,
} from './helpers.js';

/** L1 maps `l2` to `gpa` and L2 takes one store fault: shadow leaf present, L1-table leaf present. */
function mapped(r: Rig, l2 = dataL2Pn(r), gpa = dataGpaPn(r), store = true): { l2: number; gpa: number } {
  l1Map(r, l2, gpa);
  const { ret } = fault(r, l2, { store });
  expect(ret).toBe(RESUME_GUEST);
  expect(isPresent(shadowOf(r, l2).value)).toBe(true);
  return { l2, gpa };
}

describe('A. cached root of L1 table', () => {
  it('L1 partition-table entry zero -> no cached root -> RESUME_HOST (reflect), registers unchanged', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r));
    l1SetPartitionEntry(r.ctx, r.slot, false);
    r.w[guestWord(r.ctx, r.slot, GUEST.l1Root)] = 0;
    const { ret, v } = fault(r, l2, { store: true, offset: 8 });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(v.faultDsisr).toBe(DSISR_NOHPTE | DSISR_ISSTORE);
    expect(v.faultGpa).toBe(l2 * 4096 + 8);
    expect(v.faultDar).toBe(l2 * 4096 + 8);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  it('cached root empty but L1 entry valid -> reloaded once, fault resolved', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r));
    r.w[guestWord(r.ctx, r.slot, GUEST.l1Root)] = 0;
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    expect(r.w[guestWord(r.ctx, r.slot, GUEST.l1Root)]).not.toBe(0);
  });
});

describe('B. n_gpa', () => {
  it('ASDR with a byte offset -> shadow leaf for the containing page, ASDR/DAR unchanged', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r));
    const { ret, v } = fault(r, l2, { offset: 0xabc });
    expect(ret).toBe(RESUME_GUEST);
    expect(isPresent(shadowOf(r, l2).value)).toBe(true);
    expect(v.faultGpa).toBe(l2 * 4096 + 0xabc);
  });
});

describe('C. INVAL: protection-type fault and L1 now denies', () => {
  const cases: Array<{ name: string; dsisr: number; fetch?: boolean; l1Flags: number; reflected: number }> = [
    {
      name: 'PROTFAULT store, L1 write-protected without tlbie',
      dsisr: DSISR_PROTFAULT | DSISR_ISSTORE,
      l1Flags: PAGE_READ | PAGE_EXEC | PAGE_ACCESSED,
      reflected: DSISR_PROTFAULT | DSISR_ISSTORE,
    },
    {
      name: 'BADACCESS load, L1 removed R and W',
      dsisr: DSISR_BADACCESS,
      l1Flags: PAGE_EXEC | PAGE_ACCESSED,
      reflected: DSISR_PROTFAULT,
    },
    {
      name: 'BAD_COPYPASTE store, L1 write-protected',
      dsisr: DSISR_BAD_COPYPASTE | DSISR_ISSTORE,
      l1Flags: PAGE_READ | PAGE_ACCESSED,
      reflected: DSISR_PROTFAULT | DSISR_ISSTORE,
    },
    {
      name: 'HISI no-exec fetch, L1 removed X',
      dsisr: DSISR_NOEXEC_OR_G,
      fetch: true,
      l1Flags: PAGE_READ | PAGE_WRITE | PAGE_ACCESSED,
      reflected: SRR1_ISI_N_G_OR_CIP,
    },
  ];
  for (const c of cases) {
    it(`${c.name} -> INVAL: shadow leaf dropped (tlbie), RESUME_GUEST`, () => {
      const r = makeRig();
      const { l2, gpa } = mapped(r);
      const leafWord = l1Map(r, l2, gpa, c.l1Flags); // L1 changes its pte, no tlbie (misbehaving)
      expect(r.w[leafWord]).toBe(makeLeaf(gpa, c.l1Flags));
      const removed = counter(r, 'shadowPtesRemoved');
      const { ret, v } = fault(r, l2, { dsisr: c.dsisr, fetch: c.fetch });
      expect(ret).toBe(RESUME_GUEST);
      expect(v.kind).toBe(FAULT_KIND.inval);
      expect(v.faultDsisr).toBe(c.reflected); // translate_l2 rewrote it before the INVAL exit
      expect(shadowOf(r, l2).value).toBe(0);
      expect(counter(r, 'shadowPtesRemoved')).toBe(removed + 1);
      // The L1-table leaf and its rmap entry stay: only the shadow translation was stale.
      expect(isPresent(hostLeafOf(r, gpa).value)).toBe(true);
    });
  }

  it('protection fault, L1 denies, shadow leaf already gone -> INVAL finds nothing, RESUME_GUEST', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r), PAGE_READ | PAGE_ACCESSED);
    const { ret, v } = fault(r, l2, { dsisr: DSISR_PROTFAULT | DSISR_ISSTORE });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.inval);
    expect(counter(r, 'shadowPtesRemoved')).toBe(0);
  });

  it('NOHPTE and L1 denies -> reflect (PROTFAULT), not INVAL: existing shadow leaf kept', () => {
    const r = makeRig();
    const { l2, gpa } = mapped(r, dataL2Pn(r), dataGpaPn(r), false);
    l1Map(r, l2, gpa, PAGE_READ | PAGE_ACCESSED);
    const before = shadowOf(r, l2).value;
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(v.faultDsisr).toBe(DSISR_PROTFAULT | DSISR_ISSTORE);
    expect(shadowOf(r, l2).value).toBe(before);
  });

  it('M16 skip-inval: protection fault L1 denies -> reflected to L1, stale shadow leaf stays', () => {
    const r = makeRig({ mutations: ['skip-inval'] });
    const { l2, gpa } = mapped(r);
    l1Map(r, l2, gpa, PAGE_READ | PAGE_ACCESSED);
    const { ret, v } = fault(r, l2, { dsisr: DSISR_PROTFAULT | DSISR_ISSTORE });
    expect(ret).toBe(RESUME_HOST);
    expect(v.kind).toBe(FAULT_KIND.reflected);
    expect(isPresent(shadowOf(r, l2).value)).toBe(true);
  });
});

describe('E. L1 page size', () => {
  it('L1 maps L2 with 4K pages under a 64K L0 -> -EINVAL (error), nothing mapped', () => {
    const r = makeRig({ basePageSize: '64K' });
    const l2 = dataL2Pn(r) + 3;
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa); // 64K leaf in a 32-entry PTE table; now rewrite that level as a 4K table
    const pud = r.w[l1PgdEntry(r, l2)];
    const pmdWord = l1Entry(r, r.w[l1Entry(r, pud, l2, 2)], l2, 1);
    const pteTable = r.w[pmdWord] & PTE_NLB_MASK;
    Atomics.store(r.w, pmdWord, makeDir(pteTable, 9));
    const pteWord = r.m.l1Space.word + (pteTable - r.m.l1Space.basePn) * 512 + (l2 & 511);
    Atomics.store(r.w, pteWord, makeLeaf(gpa + 3, L1_RWX_RC));
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(EINVAL);
    expect(v.kind).toBe(FAULT_KIND.error);
    expect(v.faultDsisr).toBe(DSISR_NOHPTE); // left as the hardware wrote it
    expect(shadowOf(r, l2).value).toBe(0);
    expect(hostLeafOf(r, gpa).value).toBe(0);
  });
});

describe('F. memslot of the L1 gpa', () => {
  it('gpa in the MMIO hole (no memslot) -> kvmppc_hv_emulate_mmio: RESUME_HOST_NV (an exit to userspace), mmioPending (was: RESUME_HOST)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, (r.m.L.l1Pages + 1) * r.m.L.basePn);
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_HOST_NV);
    expect(v.kind).toBe(FAULT_KIND.mmio);
    expect(v.mmioPending).toBe(true);
    expect(v.dsiPending).toBe(false);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  for (const [name, dsisr] of [
    ['BADACCESS', DSISR_BADACCESS],
    ['PRTABLE_FAULT', DSISR_PRTABLE_FAULT],
  ] as const) {
    it(`no memslot with ${name} -> DSI queued into L2 (DAR = ea, DSISR as raised), RESUME_GUEST`, () => {
      const r = makeRig();
      const l2 = dataL2Pn(r);
      l1Map(r, l2, (r.m.L.l1Pages + 1) * r.m.L.basePn);
      const { ret, v } = fault(r, l2, { dsisr, offset: 0x40 });
      expect(ret).toBe(RESUME_GUEST);
      expect(v.kind).toBe(FAULT_KIND.dsi);
      expect(v.dsiPending).toBe(true);
      expect(v.dsiDar).toBe(l2 * 4096 + 0x40);
      expect(v.dsiDsisr).toBe(dsisr);
      expect(v.mmioPending).toBe(false);
    });
  }

  it('memslot being changed (INVALID) -> treated as missing -> MMIO', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    l1Map(r, l2, dataGpaPn(r));
    Atomics.or(r.w, r.m.slotWord(SLOT_MAIN, SLOT.flags), MEMSLOT_INVALID);
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_HOST_NV);
    expect(v.kind).toBe(FAULT_KIND.mmio);
  });

  it('store to a read-only memslot -> DSI into L2 (ISSTORE | PROTFAULT), host page never faulted in', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = (r.m.L.l1MainPages + 3) * r.m.L.basePn;
    l1Map(r, l2, gpa);
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.dsi);
    expect(v.dsiDsisr).toBe(DSISR_ISSTORE | DSISR_PROTFAULT);
    expect(hostLeafOf(r, gpa).value).toBe(0);
    expect(backingHostPn(r, pageOf(r, gpa))).toBe(-1);
  });

  it('load from a read-only memslot -> L1-table leaf and shadow leaf without W or C', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = (r.m.L.l1MainPages + 3) * r.m.L.basePn;
    l1Map(r, l2, gpa);
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    const host = backingHostPn(r, pageOf(r, gpa));
    expect(hostLeafOf(r, gpa).value).toBe(makeLeaf(host, PAGE_READ | PAGE_EXEC | PAGE_ACCESSED));
    expect(shadowOf(r, l2).value).toBe(makeLeaf(host, PAGE_READ | PAGE_EXEC | PAGE_ACCESSED));
  });
});

describe('G. L0 mapping of the L1 page (seq read first)', () => {
  it('L1-table leaf present and sufficient -> no instantiate (shadowInsert), L1-table leaf unchanged', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    expect(book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), true, false, new InstantiateResult())).toBe(0);
    const hp = hostLeafOf(r, gpa).value;
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.shadowInsert);
    expect(hostLeafOf(r, gpa).value).toBe(hp);
    expect(shadowOf(r, l2).value).toBe(hp); // L1 grants everything: shadow = hp
  });

  it('L1-table leaf read-only and a store -> instantiate upgrades it to W|C (hostInstantiate)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    expect(book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), false, false, new InstantiateResult())).toBe(0);
    const i = hostLeafOf(r, gpa).word;
    pteUpdate(r.w, i, PAGE_WRITE | PAGE_DIRTY, 0); // e.g. write-protected by the host
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    const hp = hostLeafOf(r, gpa).value;
    expect(hp & (PAGE_WRITE | PAGE_DIRTY)).toBe(PAGE_WRITE | PAGE_DIRTY);
    expect(shadowOf(r, l2).value).toBe(hp);
  });

  it('host cannot back the page (GUP fails) -> -EFAULT counted as hostOom (its own kind, not error), nothing mapped', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    r.w[r.m.ctrl(CTRL.hostBump)] = r.m.L.hostFrames; // host memory exhausted
    const { ret, v } = fault(r, l2);
    expect(ret).toBe(EFAULT);
    expect(v.kind).toBe(FAULT_KIND.hostOom);
    expect(hostLeafOf(r, gpa).value).toBe(0);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  it('host migrates the page after the L1-table lookup -> create_pte sees the new seq: retried, no leaf, no rmap', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), true, false, new InstantiateResult());
    r.hooks['after-l1-lookup'] = () => expect(hostMigrate(r.actor, pageOf(r, gpa))).toBe(true);
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.retried);
    expect(shadowOf(r, l2).value).toBe(0);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([]);
  });

  it('host migrates the page right after the seq read -> retried', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), true, false, new InstantiateResult());
    r.hooks['after-seq-read'] = () => hostMigrate(r.actor, pageOf(r, gpa));
    const { v } = fault(r, l2, { store: true });
    expect(v.kind).toBe(FAULT_KIND.retried);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  it('M3 late-seq-read: migration between lookup and seq read -> stale shadow leaf to the old frame (I1)', () => {
    const r = makeRig({ mutations: ['late-seq-read'] });
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), true, false, new InstantiateResult());
    const oldHost = backingHostPn(r, pageOf(r, gpa));
    r.hooks['after-l1-lookup'] = () => hostMigrate(r.actor, pageOf(r, gpa));
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.shadowInsert);
    expect(backingHostPn(r, pageOf(r, gpa))).not.toBe(oldHost);
    expect(pteRpn(shadowOf(r, l2).value)).toBe(oldHost); // points at a retired frame
  });
});

describe('J. commit: create_pte with the rmap entry', () => {
  it('cold store -> host instantiate + shadow insert; ISA values and the rmap entry (l1 lpid, n_gpa)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.hostInstantiate);
    const host = backingHostPn(r, pageOf(r, gpa));
    const hp = hostLeafOf(r, gpa);
    expect(hp.level).toBe(0);
    // V | L | RPN | R C | r w x : 0xC000_0000_<hpa>_187
    expect(pteToIsa(hp.value)).toBe(0xc000_0000_0000_0187n | (BigInt(host) << 12n));
    const s = shadowOf(r, l2);
    expect(s.level).toBe(0);
    expect(pteToIsa(s.value)).toBe(0xc000_0000_0000_0187n | (BigInt(host) << 12n));
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([[1, l2]]);
  });

  it('host migrates the page just before commit -> create_pte -EAGAIN -> retried, no leaf, no rmap', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    r.hooks['before-commit'] = () => hostMigrate(r.actor, pageOf(r, gpa));
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.retried);
    expect(shadowOf(r, l2).value).toBe(0);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([]);
    // The re-fault then maps the new frame.
    expect(fault(r, l2, { store: true }).v.kind).toBe(FAULT_KIND.hostInstantiate);
    expect(pteRpn(shadowOf(r, l2).value)).toBe(backingHostPn(r, pageOf(r, gpa)));
  });

  it('rmap node allocation fails -> RESUME_GUEST without a shadow leaf (no leaf without its rmap entry)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), true, false, new InstantiateResult());
    r.w[r.m.l1ctrl(L1CTRL.rmapBump)] = r.m.L.rmapNodes; // node pool exhausted
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.retried);
    expect(r.w[r.m.ctrl(CTRL.rmapExhausted)]).toBe(1);
    expect(shadowOf(r, l2).value).toBe(0);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([]);
  });

  it('shadow table page allocation fails -> -ENOMEM passes through (error)', () => {
    const r = makeRig();
    const l2 = dataL2Pn(r);
    const gpa = dataGpaPn(r);
    l1Map(r, l2, gpa);
    book3sInstantiatePage(r.ctx, l1TableOf(r.ctx), gpa, r.m.slotFlags(SLOT_MAIN), true, false, new InstantiateResult());
    r.w[r.m.hostSpace.bumpCtrl] = r.m.hostSpace.units; // host table space exhausted
    r.w[r.m.hostSpace.freeCtrl] = 0;
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(ENOMEM);
    expect(v.kind).toBe(FAULT_KIND.error);
    expect(shadowOf(r, l2).value).toBe(0);
  });

  it('second fault on an already-mapped page (spurious) -> identical leaf, nothing changes', () => {
    const r = makeRig();
    const { l2, gpa } = mapped(r);
    const s = shadowOf(r, l2).value;
    const { ret, v } = fault(r, l2, { store: true });
    expect(ret).toBe(RESUME_GUEST);
    expect(v.kind).toBe(FAULT_KIND.shadowInsert);
    expect(shadowOf(r, l2).value).toBe(s);
    expect(rmapOf(r, pageOf(r, gpa))).toEqual([[1, l2]]);
  });

  it('two L2 pages aliasing one L1 page -> one rmap slot with both entries (deduplicated on re-fault)', () => {
    const r = makeRig();
    const gpa = dataGpaPn(r);
    const a = dataL2Pn(r);
    const b = dataL2Pn(r, 100);
    l1Map(r, a, gpa);
    l1Map(r, b, gpa);
    fault(r, a, { store: true });
    fault(r, b);
    fault(r, b);
    expect(rmapOf(r, pageOf(r, gpa)).sort((x, y) => x[1] - y[1])).toEqual([
      [1, a],
      [1, b],
    ]);
    expect(pteRpn(shadowOf(r, a).value)).toBe(pteRpn(shadowOf(r, b).value));
    // A load never creates a dirty shadow leaf, even though both parents are dirty.
    expect(shadowOf(r, b).value & PAGE_DIRTY).toBe(0);
    expect(shadowOf(r, a).value & PAGE_DIRTY).toBe(PAGE_DIRTY);
    expect(shadowOf(r, b).value & (PAGE_READ | PAGE_WRITE | PAGE_EXEC | PAGE_ACCESSED)).toBe(
      PAGE_READ | PAGE_WRITE | PAGE_EXEC | PAGE_ACCESSED,
    );
  });
});
