/**
 * One L1's view of the machine's layout (`l1.count`): the regions every L1 has a copy of, and
 * the shift that takes a Layout from one L1's copies to another's.
 */
import type { Layout } from './layout.js';

/** The fields of a Layout that name a per-L1 region (shifted by `layoutOfL1`). */
const PER_L1_FIELDS = [
  'l1CtrlWord',
  'locksWord',
  'tlbHoldsWord',
  'guestsWord',
  'idrWord',
  'memslotsWord',
  'hostTablesWord',
  'hostTableNextWord',
  'l1TablesWord',
  'l1TableNextWord',
  'l1PtblWord',
  'backingWord',
  'harvestSnapWord',
  'windowTaintWord',
  'dirtyClearSeqWord',
  'l1GrantWord',
  'swapWritesWord',
  'rmapHeadWord',
  'dirtyWord',
  'rmapNodesWord',
] as const satisfies ReadonlyArray<keyof Layout>;

/** L1 `k`'s view of the machine: its own regions where `L` names per-L1 ones, the shared ones as they are. */
export function layoutOfL1(L: Layout, k: number): Layout {
  if (k === L.l1Index) return L;
  if (!Number.isInteger(k) || k < 0 || k >= L.l1Count) throw new RangeError(`no L1 ${k} in a machine of ${L.l1Count}`);
  const d = (k - L.l1Index) * L.l1Stride;
  const view: Record<string, unknown> = { ...L, l1Index: k };
  for (const f of PER_L1_FIELDS) view[f] = L[f] + d;
  return Object.freeze(view) as unknown as Layout;
}
