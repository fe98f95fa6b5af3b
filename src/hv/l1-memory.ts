/**
 * Reading L1's memory the way L0 does (kvm_read_guest through the memslot's userspace mapping),
 * for the software walk of L1's table for L2 (§2.4).
 *
 * Simplification: L1 data pages carry no bytes (only write counters), so only L1's page-table
 * area holds readable words; any other address inside a memslot reads as zero (an empty entry),
 * and an address outside every memslot cannot be read (READ_FAILED -> DSISR_PRTABLE_FAULT).
 * L1's table pages are pinned: the host never migrates or swaps them.
 */
import { READ_FAILED_VALUE, UNIT_WORDS, type GuestMemoryReader } from '../mmu/tree.js';
import type { Machine } from '../memory/machine.js';

export class L1MemoryReader implements GuestMemoryReader {
  private readonly firstPn: number;
  private readonly endPn: number;
  private readonly word: number;
  private readonly basePn: number;
  constructor(private readonly m: Machine) {
    this.firstPn = m.l1Space.basePn;
    this.endPn = this.firstPn + m.l1Space.units;
    this.word = m.l1Space.word;
    this.basePn = m.L.basePn;
  }

  readEntry(tablePn: number, index: number): number {
    if (tablePn >= this.firstPn && tablePn < this.endPn) {
      // One table unit of UNIT_WORDS 32-bit words per 4 KiB page of 512 eight-byte entries.
      return Atomics.load(this.m.w, this.word + (tablePn - this.firstPn) * UNIT_WORDS + index);
    }
    return this.m.memslotOf(Math.floor(tablePn / this.basePn)) >= 0 ? 0 : READ_FAILED_VALUE;
  }
}
