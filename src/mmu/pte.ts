/**
 * Radix PTE words as nestsim stores them (docs/model.md §2.1).
 *
 * A Power ISA radix PTE is 64 bits. 64-bit atomics in JavaScript need BigInt64Array, whose
 * values are BigInts (a load plus CAS measured 31 ns against 19 ns on an Int32Array, node 20;
 * docs/performance.md), and every PTE value would be a BigInt in the walks, so nestsim keeps
 * every PTE in ONE 32-bit word of an Int32Array and updates it with 32-bit Atomics. Every racing
 * update is still one atomic operation on one word. The word keeps the ISA bits the protocol
 * uses; `pteToIsa` rebuilds the exact 64-bit Power ISA value for display and tests.
 *
 * Leaf word (L = 1):
 *   bit 31 V (_PAGE_PRESENT)  bit 30 L (_PAGE_PTE)  bit 29 R (_PAGE_ACCESSED)  bit 28 C (_PAGE_DIRTY)
 *   bit 27 READ  bit 26 WRITE  bit 25 EXEC  bits 0..24 RPN in 4 KiB units (128 GiB of real address)
 * Directory word (L = 0):
 *   bit 31 V  bits 25..29 NLS (log2 entries of the next table)  bits 0..24 NLB in 4 KiB units
 *
 * Simplifications (said once here): the ATT field is always 0 (normal memory; MMIO is never
 * mapped, it is emulated), SW0 and the process-scoped pkey/privileged bits are not modelled,
 * and NLB has 4 KiB rather than 256-byte granularity (every table nestsim allocates is 4 KiB
 * aligned; a misaligned table can still be expressed, see the walk's alignment check).
 */

export const PAGE_PRESENT = 1 << 31; // V; as an int32 this is the sign bit: present <=> word < 0
export const PAGE_PTE = 1 << 30; // L: leaf
export const PAGE_ACCESSED = 1 << 29; // R
export const PAGE_DIRTY = 1 << 28; // C
export const PAGE_READ = 1 << 27;
export const PAGE_WRITE = 1 << 26;
export const PAGE_EXEC = 1 << 25;
export const PAGE_RWX = PAGE_READ | PAGE_WRITE | PAGE_EXEC;
export const PAGE_RC = PAGE_ACCESSED | PAGE_DIRTY;
/** Bits a merge in create_pte may add without a warning (kernel: W, D and A). */
export const PAGE_MERGE_OK = PAGE_WRITE | PAGE_DIRTY | PAGE_ACCESSED;
export const PTE_RPN_MASK = 0x01ff_ffff;
export const PTE_NLS_SHIFT = 25;
export const PTE_NLS_MASK = 0x1f << PTE_NLS_SHIFT;
export const PTE_NLB_MASK = 0x01ff_ffff;

/** 64-bit ISA values of the same bits (docs/model.md §2.1), for `pteToIsa`. */
export const ISA = {
  PRESENT: 0x8000_0000_0000_0000n,
  PTE: 0x4000_0000_0000_0000n,
  ACCESSED: 0x100n,
  DIRTY: 0x080n,
  READ: 0x004n,
  WRITE: 0x002n,
  EXEC: 0x001n,
  RPN_MASK: 0x01ff_ffff_ffff_f000n,
  NLB_MASK: 0x0fff_ffff_ffff_ff00n,
  NLS_MASK: 0x1fn,
} as const;

export function isPresent(w: number): boolean {
  return w < 0;
}

export function isLeaf(w: number): boolean {
  return (w & (PAGE_PRESENT | PAGE_PTE)) === (PAGE_PRESENT | PAGE_PTE);
}

export function isDir(w: number): boolean {
  return (w & (PAGE_PRESENT | PAGE_PTE)) === PAGE_PRESENT;
}

/** Real page number of a leaf, in 4 KiB units. */
export function pteRpn(w: number): number {
  return w & PTE_RPN_MASK;
}

export function makeLeaf(rpn4k: number, flags: number): number {
  return PAGE_PRESENT | PAGE_PTE | flags | (rpn4k & PTE_RPN_MASK);
}

/** A directory entry pointing at a table at 4 KiB unit `nlb4k` with 2^nls entries. */
export function makeDir(nlb4k: number, nls: number): number {
  return PAGE_PRESENT | ((nls & 0x1f) << PTE_NLS_SHIFT) | (nlb4k & PTE_NLB_MASK);
}

export function dirNlb(w: number): number {
  return w & PTE_NLB_MASK;
}

export function dirNls(w: number): number {
  return (w >>> PTE_NLS_SHIFT) & 0x1f;
}

/** The Power ISA 64-bit value of a stored word (display, tests, violation reports). Cold path. */
export function pteToIsa(w: number): bigint {
  if (w === 0) return 0n;
  let v = 0n;
  if (w & PAGE_PRESENT) v |= ISA.PRESENT;
  if ((w & PAGE_PTE) !== 0 || (w & PAGE_PRESENT) === 0) {
    // A leaf, or a non-present word: a non-present word can only hold leaf bits here
    // (stray R/C written back by a racing hardware update count as "none", §2.1).
    if (w & PAGE_PTE) v |= ISA.PTE;
    if (w & PAGE_ACCESSED) v |= ISA.ACCESSED;
    if (w & PAGE_DIRTY) v |= ISA.DIRTY;
    if (w & PAGE_READ) v |= ISA.READ;
    if (w & PAGE_WRITE) v |= ISA.WRITE;
    if (w & PAGE_EXEC) v |= ISA.EXEC;
    v |= BigInt(w & PTE_RPN_MASK) << 12n;
    return v;
  }
  v |= BigInt(w & PTE_NLB_MASK) << 12n;
  v |= BigInt(dirNls(w));
  return v;
}

/** Inverse of `pteToIsa` for values nestsim can store; throws on bits it cannot represent. */
export function isaToPte(v: bigint): number {
  let w = 0;
  if (v & ISA.PRESENT) w |= PAGE_PRESENT;
  if (v & ISA.PTE || !(v & ISA.PRESENT)) {
    if (v & ISA.PTE) w |= PAGE_PTE;
    if (v & ISA.ACCESSED) w |= PAGE_ACCESSED;
    if (v & ISA.DIRTY) w |= PAGE_DIRTY;
    if (v & ISA.READ) w |= PAGE_READ;
    if (v & ISA.WRITE) w |= PAGE_WRITE;
    if (v & ISA.EXEC) w |= PAGE_EXEC;
    const rpn = (v & ISA.RPN_MASK) >> 12n;
    if (rpn > BigInt(PTE_RPN_MASK)) throw new RangeError(`RPN 0x${rpn.toString(16)} beyond 128 GiB`);
    return w | Number(rpn);
  }
  const nlb = (v & ISA.NLB_MASK) >> 12n;
  if (nlb > BigInt(PTE_NLB_MASK)) throw new RangeError(`NLB 0x${nlb.toString(16)} beyond 128 GiB`);
  return w | Number(nlb) | ((Number(v & ISA.NLS_MASK) & 0x1f) << PTE_NLS_SHIFT);
}

export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

/** "0x8000...: V L R C rwx rpn=0x1234" for messages. Cold path. */
export function describePte(w: number): string {
  const isa = hex64(pteToIsa(w));
  if (!isPresent(w)) return `${isa} (none)`;
  if (!isLeaf(w)) return `${isa} dir nlb=0x${dirNlb(w).toString(16)}000 nls=${dirNls(w)}`;
  const f =
    (w & PAGE_READ ? 'r' : '-') +
    (w & PAGE_WRITE ? 'w' : '-') +
    (w & PAGE_EXEC ? 'x' : '-') +
    (w & PAGE_ACCESSED ? 'R' : '-') +
    (w & PAGE_DIRTY ? 'C' : '-');
  return `${isa} leaf ${f} ra=0x${(w & PTE_RPN_MASK).toString(16)}000`;
}
