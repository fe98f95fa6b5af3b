/**
 * The protocol's invariants, by stable name (results documents count violations under these:
 * `checks.byInvariant`). I1-I7 and liveness are what a correct protocol keeps; P4-rpn-merge flags
 * window P4 of the kernel as written (create_pte OR-ing two different real page numbers).
 */
export const INVARIANTS = [
  'I1-no-stale-shadow',
  'I2-permissions',
  'I3-dirty-chain',
  'I4-tlb',
  'I5-no-lost-write',
  'I6-dirty-log',
  'I7-lifetime',
  'liveness',
  'P4-rpn-merge',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];
/** Invariant name -> its index (the word stored in a violation record). */
export const INV = Object.freeze(Object.fromEntries(INVARIANTS.map((n, i) => [n, i])) as Record<InvariantName, number>);
