/**
 * Builders for the results schema (schema.ts): a field's schema from its description and unit.
 * A field with a unit ends its description with `Unit: X.`, which the field reference shows in
 * its own column.
 */
export type Schema = Record<string, unknown>;

export const withUnit = (d: string, unit?: string): string => (unit === undefined ? d : `${d} Unit: ${unit}.`);
export const count = (d: string, unit = 'count'): Schema => ({ type: 'integer', minimum: 0, description: withUnit(d, unit) });
export const num = (d: string, unit?: string): Schema => ({ type: 'number', minimum: 0, description: withUnit(d, unit) });
export const str = (d: string, extra: Schema = {}): Schema => ({ type: 'string', description: d, ...extra });
export const bool = (d: string): Schema => ({ type: 'boolean', description: d });
export const nullable = (s: Schema): Schema => ({ ...s, type: [s.type as string, 'null'] });

/** An object with exactly these properties, all required but `optional`. */
export function obj(d: string, props: Record<string, Schema>, optional: readonly string[] = []): Schema {
  return { type: 'object', description: d, required: Object.keys(props).filter((k) => !optional.includes(k)), properties: props, additionalProperties: false };
}
/** An object with one required integer per name. */
export function counts(d: string, names: readonly string[], each: (n: string) => string, unit = 'count'): Schema {
  return obj(d, Object.fromEntries(names.map((n) => [n, count(each(n), unit)])));
}
/** An object whose keys are some of `names`, each an integer. */
export function tally(d: string, names: readonly string[], unit = 'count'): Schema {
  return { type: 'object', description: withUnit(d, unit), propertyNames: { enum: [...names] }, additionalProperties: { type: 'integer', minimum: 0 } };
}
export const arr = (d: string, items: Schema, extra: Schema = {}): Schema => ({ type: 'array', description: d, items, ...extra });
export const ref = (name: string, d?: string): Schema => ({ $ref: `#/$defs/${name}`, ...(d === undefined ? {} : { description: d }) });

/** A document's shard (stress rounds or sweep points): null for a whole campaign, one shard, or a merge's shards held and missing. */
export const shardSchema = (what: string): Schema => ({
  description: `null for a whole campaign; the shard this document ran (--shard i/N: ${what} r with r % N == i); or, for nestsim merge, the shards it holds and the ones missing.`,
  oneOf: [
    { type: 'null' },
    obj('One shard.', { index: count('Its index, from 0.', 'index'), count: { type: 'integer', minimum: 1, description: withUnit('Shards in the campaign.', 'count') } }),
    obj('Merged shards.', {
      count: { type: 'integer', minimum: 1, description: withUnit('Shards in the campaign.', 'count') },
      merged: arr('The shard indices merged, in order.', count('A shard index.', 'index')),
      missing: arr(`Shard indices no document held: their ${what} are absent.`, count('A shard index.', 'index')),
    }),
  ],
});
