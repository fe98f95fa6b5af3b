/**
 * Radix tree geometry (docs/model.md §2.2). Addresses inside nestsim are carried as page
 * numbers in 4 KiB units ("pn") so they fit 32-bit integer arithmetic; shifts below are relative
 * to 4 KiB (so the PTE level of a 4K tree has shift 0, PMD 9, PUD 18, PGD 27).
 */

export const PAGE_SHIFT_4K = 12;
/** Bytes in the 4 KiB unit every page number (`pn`) counts in; also the size of one ISA table of 512 entries. */
export const PAGE_BYTES_4K = 4096;
export const PMD_SHIFT = 21;
export const PUD_SHIFT = 30;
/** log2 of the address-space size every supported tree covers. */
export const RADIX_ADDR_BITS = 52;
/** RTS encodes size-31: 52-bit trees have RTS = 21 (RTS1 = 0b10, RTS2 = 0b101). */
export const RADIX_RTS_52 = 21;

export const LEVEL_PTE = 0;
export const LEVEL_PMD = 1;
export const LEVEL_PUD = 2;
export const LEVEL_PGD = 3;

export interface Geometry {
  /** L0's base page: 12 (4K) or 16 (64K). */
  readonly pageShift: number;
  /** Index bits per level [PTE, PMD, PUD, PGD]. */
  readonly bits: readonly [number, number, number, number];
  /** Shift (in 4 KiB page numbers) of the index of each level. */
  readonly pnShift: readonly [number, number, number, number];
  /** Leaf page shift (bytes) for a leaf at each level; PGD leaves are unsupported. */
  readonly leafShift: readonly [number, number, number];
  /** Base page in 4 KiB units (1 or 16). */
  readonly basePn: number;
  /** log2(basePn): base page number = 4 KiB page number >>> basePnShift. */
  readonly basePnShift: number;
}

export const GEOMETRY_4K: Geometry = Object.freeze({
  pageShift: 12,
  bits: [9, 9, 9, 13] as const,
  pnShift: [0, 9, 18, 27] as const,
  leafShift: [12, PMD_SHIFT, PUD_SHIFT] as const,
  basePn: 1,
  basePnShift: 0,
});

export const GEOMETRY_64K: Geometry = Object.freeze({
  pageShift: 16,
  bits: [5, 9, 9, 13] as const,
  pnShift: [4, 9, 18, 27] as const,
  leafShift: [16, PMD_SHIFT, PUD_SHIFT] as const,
  basePn: 16,
  basePnShift: 4,
});

export function geometryFor(pageShift: number): Geometry {
  return pageShift === 16 ? GEOMETRY_64K : GEOMETRY_4K;
}

/** Leaf level for a page shift (bytes): 0 base, 1 = 2M, 2 = 1G. */
export function levelForShift(g: Geometry, shift: number): number {
  if (shift === PUD_SHIFT) return LEVEL_PUD;
  if (shift === PMD_SHIFT) return LEVEL_PMD;
  return LEVEL_PTE;
}

/** Number of 4 KiB pages in a leaf of this byte shift. */
export function pnCount(shift: number): number {
  const n = shift - PAGE_SHIFT_4K;
  return n < 31 ? 1 << n : 2 ** n; // an integer shift on the hot path; `**` is a float pow call
}

/** The byte address of 4 KiB page number `pn` (exact below 2^53). */
export function pnToBytes(pn: number): number {
  return pn * PAGE_BYTES_4K;
}

/** The 4 KiB page number holding byte address `bytes`. */
export function bytesToPn(bytes: number): number {
  return Math.floor(bytes / PAGE_BYTES_4K);
}

/** Round a 4 KiB page number down to a leaf of the given byte shift. */
export function pnAlign(pn: number, shift: number): number {
  const n = shift - PAGE_SHIFT_4K;
  return n >= 32 ? 0 : ((pn >>> n) << n) >>> 0;
}
