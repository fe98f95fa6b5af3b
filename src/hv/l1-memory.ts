/**
 * Reading L1's memory the way L0 does (kvm_read_guest through the memslot's userspace mapping),
 * for the software walk of L1's table for L2 (§2.4).
 *
 * Simplification: L1 data pages carry no bytes (only write counters), so only L1's page-table
 * area holds readable words; any other address inside a memslot reads as zero (an empty entry),
 * and an address outside every memslot cannot be read (READ_FAILED -> DSISR_PRTABLE_FAULT).
 * L1's table pages are pinned: the host never migrates or swaps them.
 */
import { READ_FAILED_VALUE, type GuestMemoryReader } from '../mmu/tree.js';
import type { Machine } from '../memory/machine.js';

export class L1MemoryReader implements GuestMemoryReader {
  private readonly startByte: number;
  private readonly endByte: number;
  constructor(private readonly m: Machine) {
    this.startByte = m.l1Space.basePn * 4096;
    this.endByte = this.startByte + m.l1Space.units * 4096;
  }

  readEntry(addrBytes: number): number {
    if (addrBytes >= this.startByte && addrBytes < this.endByte) {
      return Atomics.load(this.m.w, this.m.l1Space.word + (addrBytes - this.startByte) / 8);
    }
    const page = Math.floor(addrBytes / (4096 * this.m.L.basePn));
    return this.m.memslotOf(page) >= 0 ? 0 : READ_FAILED_VALUE;
  }
}
