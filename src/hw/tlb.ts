/**
 * One vCPU's TLB: a set-associative array of entries in shared memory, tagged by (lpid, base-page
 * number), and this vCPU's private mirror of the tags. One instance serves every translation
 * regime of the vCPU: L2's accesses (tagged with the nested guest's shadow lpid) and L1's own
 * accesses (tagged with L1's lpid), as POWER9's TLB is tagged by LPID.
 *
 * An entry holds the leaf word with the RPN of its one base page and the generation of the host
 * frame at fill time, so a hit is one tag compare and one mask compare (permission and R/C bits
 * packed in the word, as in v86). Huge leaves are cached one base page at a time (simplification:
 * no multi-size TLB).
 *
 * Only this vCPU fills its TLB (it writes both copies); other threads only invalidate shared tags
 * (hw/shootdown.ts), and a broadcast bumps `tlbDone` after its drops and before it waits for this
 * vCPU. The vCPU calls `noteDone` right after each quiescence point and on every guest entry and,
 * when `tlbDone` moved, re-syncs each set lazily (`setGen[set] !== mirrorGen`). So a mirrored tag
 * can be stale only between a drop and this vCPU's next quiescence point, while the tlbie that
 * dropped it is still waiting for that point: the stale hit belongs to an access in flight before
 * the tlbie completed, as on hardware. A probe therefore costs no atomic operation.
 */
import { CTRL, TLB_ENTRY_WORDS as ENTRY_WORDS } from '../memory/records.js';
import type { Machine } from '../memory/machine.js';

/** Fields of a TLB entry (word offsets within its TLB_ENTRY_WORDS). */
export const TLB_TAG = 0;
export const TLB_LPID = 1;
export const TLB_DATA = 2;
export const TLB_GEN = 3;
/**
 * Flag in an entry's generation word: the entry survived a tlbie of window P1 (the rc-list tlbie
 * that names the wrong lpid, invariants/windows.ts). A fill writes a fresh generation, which
 * clears it; a store through a flagged entry taints its L1 page.
 */
export const TLB_GEN_P1_STALE = 1 << 30;
/** Tag of an empty entry. */
export const TLB_INVALID = -1;

/** Words per entry, as a module-local binding (read on every hit; see the note in hw/cpu.ts). */
const TLB_ENTRY_WORDS = ENTRY_WORDS;
/** Way-predictor slots minus one (a power of two). */
const WAY_HINT_MASK = 1023;

/** First word of vCPU v's TLB. */
export function tlbBase(m: Machine, v: number): number {
  return m.L.tlbWord + v * m.L.tlbSets * m.L.tlbWays * TLB_ENTRY_WORDS;
}

/** Mark every TLB entry invalid (machine creation). */
export function resetTlbs(m: Machine): void {
  const n = m.L.vcpus * m.L.tlbSets * m.L.tlbWays;
  for (let k = 0; k < n; k++) m.w[m.L.tlbWord + k * TLB_ENTRY_WORDS + TLB_TAG] = TLB_INVALID;
}

export class Tlb {
  private readonly w: Int32Array;
  /** First word of this vCPU's entries (entry index t = set * ways + way). */
  private readonly base: number;
  private readonly setMask: number;
  private readonly ways: number;
  /** Private mirror of the shared tags (see the file header). */
  private readonly tags: Int32Array;
  /** The lpid of each entry (only this vCPU writes it: an exact copy, never re-synced). */
  private readonly lpids: Int32Array;
  /** Per set, the mirror generation it was last synced at. */
  private readonly setGen: Int32Array;
  /** Way predictor: per slot (vpn & WAY_HINT_MASK), the entry index that last hit (a hint only). */
  private readonly wayHint = new Int32Array(WAY_HINT_MASK + 1);
  private mirrorGen = 0;
  private doneSeen = -1;
  private readonly doneIdx: number;
  /** Next way evicted round-robin when a fill has no free way. */
  private victim = 0;

  constructor(m: Machine, vcpu: number) {
    this.w = m.w;
    this.base = tlbBase(m, vcpu);
    this.setMask = m.L.tlbSets - 1;
    this.ways = m.L.tlbWays;
    this.tags = new Int32Array(m.L.tlbSets * m.L.tlbWays).fill(TLB_INVALID);
    this.lpids = new Int32Array(m.L.tlbSets * m.L.tlbWays).fill(-1);
    this.setGen = new Int32Array(m.L.tlbSets).fill(-1);
    this.doneIdx = m.ctrl(CTRL.tlbDone);
  }

  /** The entry index holding (lpid, vpn), or -1. Through the private mirror: no atomic operation. */
  probe(vpn: number, lpid: number): number {
    const set = vpn & this.setMask;
    if (this.setGen[set] !== this.mirrorGen) this.syncSet(set);
    const tags = this.tags;
    const lpids = this.lpids;
    // Way prediction: try the entry that last hit for this page's hint slot first, so that a
    // page in a random way does not cost a mispredicted loop exit; then probe the set.
    const hintSlot = vpn & WAY_HINT_MASK;
    const hint = this.wayHint[hintSlot];
    if (tags[hint] === vpn && lpids[hint] === lpid) return hint;
    for (let t = set * this.ways, end = t + this.ways; t < end; t++) {
      if (tags[t] === vpn && lpids[t] === lpid) {
        this.wayHint[hintSlot] = t;
        return t;
      }
    }
    return -1;
  }

  /** Leaf word (with this base page's RPN) of entry `t`. */
  data(t: number): number {
    return this.w[this.base + t * TLB_ENTRY_WORDS + TLB_DATA];
  }

  /** Host frame generation entry `t` was filled under. */
  gen(t: number): number {
    return this.w[this.base + t * TLB_ENTRY_WORDS + TLB_GEN];
  }

  /** The first invalid entry of the set of base page `vpn` in the mirror, or -1 (evict round-robin). */
  freeWay(vpn: number): number {
    const set = vpn & this.setMask;
    for (let t = set * this.ways, end = t + this.ways; t < end; t++) if (this.tags[t] === TLB_INVALID) return t;
    return -1;
  }

  /**
   * Write an entry for (lpid, vpn) into `way` (an entry index the caller chose while probing;
   * -1: evict round-robin). Only this vCPU fills its TLB and it fills once per miss, so the set
   * holds no other entry for (lpid, vpn); other threads only invalidate, which can only turn a
   * chosen way invalid. Returns the entry's index.
   */
  fill(vpn: number, lpid: number, data: number, gen: number, way: number): number {
    const w = this.w;
    let t = way;
    if (t < 0) {
      t = (vpn & this.setMask) * this.ways + this.victim;
      this.victim = (this.victim + 1) & (this.ways - 1);
    }
    const e = this.base + t * TLB_ENTRY_WORDS;
    this.tags[t] = vpn;
    this.lpids[t] = lpid;
    // Only this vCPU hits in its TLB; other threads only invalidate by tag. A racing invalidator
    // that misses the half-written entry is caught by the epoch re-check after the fill
    // (hw/walker.ts). The lpid is stored atomically because invalidators read it to match
    // entries; data and generation are read only by this vCPU and by audits (after a barrier).
    Atomics.store(w, e + TLB_LPID, lpid);
    w[e + TLB_DATA] = data;
    w[e + TLB_GEN] = gen;
    Atomics.store(w, e + TLB_TAG, vpn);
    return t;
  }

  /** Drop entry `t` (a fill that raced with an invalidation). */
  drop(t: number): void {
    Atomics.store(this.w, this.base + t * TLB_ENTRY_WORDS + TLB_TAG, TLB_INVALID);
    this.tags[t] = TLB_INVALID;
  }

  /** Drop every entry (the vCPU moved to another physical CPU). */
  flush(): void {
    const n = this.tags.length;
    for (let k = 0; k < n; k++) Atomics.store(this.w, this.base + k * TLB_ENTRY_WORDS + TLB_TAG, TLB_INVALID);
    this.tags.fill(TLB_INVALID);
  }

  /**
   * After passing a quiescence point or entering guest mode: if any broadcast invalidation has
   * finished dropping entries since we last looked (`tlbDone`), every set of the mirror must be
   * synced again before its next probe.
   */
  noteDone(): void {
    const d = Atomics.load(this.w, this.doneIdx);
    if (d !== this.doneSeen) {
      this.doneSeen = d;
      this.mirrorGen = (this.mirrorGen + 1) | 0;
    }
  }

  /** A broadcast issued on this vCPU's own thread dropped entries here: re-sync every set. */
  ownDropped(): void {
    this.mirrorGen = (this.mirrorGen + 1) | 0;
  }

  /** Refresh the mirror of set `set` from shared memory (atomic loads: other threads invalidate tags). */
  private syncSet(set: number): void {
    const w = this.w;
    const tags = this.tags;
    for (let t = set * this.ways, end = t + this.ways; t < end; t++) tags[t] = Atomics.load(w, this.base + t * TLB_ENTRY_WORDS + TLB_TAG);
    this.setGen[set] = this.mirrorGen;
  }
}
