/** The shape of a row of the config-key table (keys.ts). */

export const KEY_TYPES = ['int', 'number', 'size', 'duration', 'enum', 'bool', 'list-of-enum', 'list-of-threshold', 'mix-weight', 'count-or-duration', 'path'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/**
 * A checked value: numbers are bytes for sizes and ms for durations; a `count-or-duration` is a
 * number (a count) or a duration string normalised to `<ms>ms`.
 */
export type KeyValue = number | string | boolean | readonly string[];

export interface KeySpec {
  /** Dotted YAML path, e.g. `hardware.tlb.entries`. */
  readonly key: string;
  /** Dotted path of the value in `ResolvedConfig`, e.g. `hardware.tlbEntries`. */
  readonly field: string;
  readonly type: KeyType;
  /** Inclusive bounds (bytes for sizes, ms for durations) unless `minExclusive`. */
  readonly min?: number;
  readonly max?: number;
  readonly minExclusive?: boolean;
  /** A single value excluded from the range (zipf theta = 1 has no closed form). */
  readonly notEqual?: number;
  readonly powerOfTwo?: boolean;
  /** Allowed values of an enum, or of each element of a list. */
  readonly values?: readonly string[];
  /**
   * `count-or-duration` only: the field a duration goes to (in ms); `field` then gets 0, and a
   * count leaves this one 0.
   */
  readonly durationField?: string;
  /** Other spellings of the last path segment (the base page of a mix: `4K`, `64K`). */
  readonly aliases?: readonly string[];
  readonly default: KeyValue;
  /** When the key is absent, it takes this other key's resolved value instead of `default`. */
  readonly defaultFrom?: string;
  readonly unit: string;
  readonly doc: string;
}
