/**
 * The objects one fault fills in, owned by the vCPU (or actor) that runs the fault and passed
 * explicitly down the fault path, so results travel in signatures and nothing allocates per
 * fault. Each field has one role; no two functions on one call path share a field.
 */
import type { Machine } from '../memory/machine.js';
import { LeafRef, WalkResult } from '../mmu/tree.js';
import { L1MemoryReader } from './l1-memory.js';
import { InstantiateResult } from './radix.js';
import type { RadixTable } from './radix-table.js';
import { newShadowTable } from './shadow.js';

export class FaultScratch {
  /** L1's translation of the faulting L2 address (kvmhv_translate_addr_nested's `gpte`). */
  readonly walk = new WalkResult();
  /** Where L0's lookup of the L1 page in its table for L1 stopped, and the leaf's level (step G). */
  readonly hostLeaf = new LeafRef();
  /** kvmppc_book3s_instantiate_page's inserted leaf and level. */
  readonly inst = new InstantiateResult();
  /** Lookups in the shadow table (INVAL, the shadow half of the R/C fix). */
  readonly shadowLeaf = new LeafRef();
  /** The L1-table half of the R/C fix. */
  readonly l1Leaf = new LeafRef();
  /** The faulting guest's shadow table (root, shadow lpid), pointed at it per fault. */
  readonly shadow: RadixTable = newShadowTable();
  /** Reads L1 memory for the software walk of L1's table. */
  readonly reader: L1MemoryReader;

  constructor(m: Machine) {
    this.reader = new L1MemoryReader(m);
  }
}
