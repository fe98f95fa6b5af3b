/**
 * Loading, validating and overriding workload configs.
 *
 * Pipeline: YAML text -> (walk the document, per-key checks from `keys.ts`) explicit entries,
 * each with its source position -> (defaults, cross-key checks) a deep-frozen `ResolvedConfig`.
 * Every user error is a `ConfigError` naming file, line, column, key, what was expected and
 * what was found. The explicit entries of each resolved config are remembered (weakly), so
 * `applyOverrides` re-resolves with the file's positions and its defaults intact.
 */

import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { LineCounter, isAlias, isCollection, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import {
  CROSS_CHECKS, GROUPS, KEYS, KEY_BY_NAME, checkValue, childrenOf, expectedText, formatValue, lookupKey,
} from './keys.js';
import type { KeySpec, KeyValue } from './keys.js';
import type { ResolvedConfig } from './types.js';
import { didYouMean } from './suggest.js';
import { parseDuration } from './units.js';


/** A user error in a config file or override, printed as one line (see `message`). */
export class ConfigError extends Error {
  /**
   * @param line 1-based; 0 when there is no position (missing file, command-line override)
   * @param key dotted key, '' when the error is about the whole file
   * @param found already rendered (JSON of the YAML value, or a description such as `unknown key "x"`)
   * @param hint what to do instead, e.g. `(did you mean "vcpus"?)`; '' when none
   */
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly key: string,
    readonly expected: string,
    readonly found: string,
    readonly hint = '',
  ) {
    const where = line > 0 ? `${file}:${line}:${col}` : file;
    super(`${where}: ${key === '' ? '' : `${key}: `}expected ${expected}, found ${found}${hint === '' ? '' : ` ${hint}`}`);
    this.name = 'ConfigError';
  }
}

interface Loc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** One explicitly set key: its checked value and where it was written. */
interface Entry {
  readonly value: KeyValue;
  /** The value as written (YAML value), for `found` in cross-key errors. */
  readonly raw: unknown;
  readonly loc: Loc;
  /** Source order (offset in the file; overrides after the file); the later key gets cross-key errors. */
  readonly order: number;
  /** The key as written (`host.backing.4K` for the canonical `host.backing.base`). */
  readonly shownKey: string;
  /** The alias used for the base page of a mix (`4K`/`64K`), checked against basePageSize. */
  readonly alias?: string;
}

type Entries = Map<string, Entry>;

const PROVENANCE = new WeakMap<ResolvedConfig, Entries>();

/** One key set explicitly (in the file or by an override): canonical key, value, and where it was set. */
export interface ExplicitSetting {
  readonly key: string;
  readonly value: KeyValue;
  /** The file (`line` > 0) or the override source (`command line`, `--set`, ...; `line` 0). */
  readonly file: string;
  readonly line: number;
  /** The name as given (`mutation` for an appended `mutations`, `host.backing.4K` for `.base`). */
  readonly shownKey: string;
}

/** The keys `cfg` sets explicitly, in the order they were set (file first, then overrides). */
export function explicitSettings(cfg: ResolvedConfig): ExplicitSetting[] {
  const entries = PROVENANCE.get(cfg);
  if (entries === undefined) return [];
  return [...entries.entries()]
    .sort((a, b) => a[1].order - b[1].order)
    .map(([key, e]) => ({ key, value: e.value, file: e.loc.file, line: e.loc.line, shownKey: e.shownKey }));
}

/** Largest config file read (a config is a few hundred bytes; this stops a mistaken huge file). */
const MAX_CONFIG_BYTES = 1 << 20;

/** Longest rendering of a found value before it is cut. */
const MAX_FOUND_CHARS = 80;

function renderFound(value: unknown): string {
  // YAML's special floats by their YAML names (JSON would say null).
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? '.nan' : value > 0 ? '.inf' : '-.inf';
  const json = JSON.stringify(value) ?? String(value);
  return json.length > MAX_FOUND_CHARS ? `${json.slice(0, MAX_FOUND_CHARS - 3)}...` : json;
}

/** Parses and validates a YAML config; `file` only labels error messages and `ResolvedConfig.file`. */
export function parseConfig(text: string, file = '<inline>'): ResolvedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const locAt = (offset: number): Loc => ({ file, ...lineCounter.linePos(offset) });
  const err = doc.errors[0];
  if (err !== undefined) {
    const loc = locAt(err.pos[0]);
    if (err.code === 'MULTIPLE_DOCS') throw new ConfigError(file, loc.line, loc.col, '', 'one YAML document', 'a second one (after ---): put each config in its own file');
    throw new ConfigError(file, loc.line, loc.col, '', 'valid YAML', `syntax error: ${err.message.split('\n')[0]}`);
  }
  const entries: Entries = new Map();
  const root = doc.contents;
  if (root !== null && !(isScalar(root) && root.value === null)) {
    if (!isMap(root)) {
      const loc = locAt(root.range?.[0] ?? 0);
      throw new ConfigError(file, loc.line, loc.col, '', `a mapping of ${childrenOf('').join(', ')}`, renderFound(toRaw(root, doc)));
    }
    walkMap(root, '', doc, locAt, entries);
  }
  return resolveEntries(entries, file);
}

/** Reads and validates a YAML config file. An unreadable file is a `ConfigError` too. */
export function loadConfig(path: string): ResolvedConfig {
  let text: string;
  try {
    // Only a regular file: a FIFO would block the read and a device would never end.
    const st = statSync(path);
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new ConfigError(path, 0, 0, '', 'a regular YAML file', kind);
    }
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(path, 0, 0, '', `a YAML file of at most ${MAX_CONFIG_BYTES / 1024 / 1024}M`, `${st.size} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : code === 'EACCES' ? 'a file without read permission' : String((e as Error).message);
    throw new ConfigError(path, 0, 0, '', 'a readable YAML file', found);
  }
  return parseConfig(text, path);
}

/** Command-line names that append to a list rather than replace it (`--mutation x` repeatable). */
const APPENDING: Readonly<Record<string, string>> = { mutation: 'mutations', fix: 'fixes', threshold: 'thresholds' };

/**
 * Applies command-line overrides (`--vcpus 4`, `--set workload.pattern=zipf`) on top of a resolved
 * config and re-validates everything, cross-key checks included.
 *
 * Keys are any dotted key of the table, plus `mutation`/`fix`, which append to `mutations`/`fixes`
 * (an array value stands for a repeated flag). Each value is parsed exactly as if it were written
 * in YAML (`4`, `2s`, `[p1, p5]`, `true`). Keys the file left out keep their defaults, so e.g.
 * `workload.workingSet` still follows an overridden `guests.memory`.
 *
 * @param source labels errors about the overrides, e.g. `command line` or `--set`
 */
export function applyOverrides(
  cfg: ResolvedConfig,
  overrides: Readonly<Record<string, string | readonly string[]>>,
  source = 'command line',
): ResolvedConfig {
  const entries: Entries = new Map(PROVENANCE.get(cfg) ?? entriesFromResolved(cfg));
  let order = Math.max(0, ...[...entries.values()].map((e) => e.order + 1));
  const loc: Loc = { file: source, line: 0, col: 0 };
  for (const [name, given] of Object.entries(overrides)) {
    const texts = typeof given === 'string' ? [given] : given;
    const appendTo = APPENDING[name];
    const dot = name.lastIndexOf('.');
    const found = appendTo !== undefined ? { spec: KEY_BY_NAME.get(appendTo)! } : lookupKey(name.slice(0, dot < 0 ? 0 : dot), name.slice(dot + 1));
    if (found === undefined) {
      const names = [...KEYS.map((s) => s.key), ...Object.keys(APPENDING)];
      throw new ConfigError(source, 0, 0, name, 'a config key (nestsim validate --keys lists them)', `unknown key ${renderFound(name)}`, didYouMean(name, names));
    }
    const { spec, alias } = found;
    const isList = spec.type === 'list-of-enum' || spec.type === 'list-of-threshold';
    // Appending starts from the current list; a repeated flag unions lists and otherwise the last one wins.
    let value: KeyValue | undefined = appendTo !== undefined ? (entries.get(spec.key)?.value ?? spec.default) : undefined;
    let raw: unknown = null;
    for (const text of texts) {
      raw = parseOverrideValue(text, name, source);
      const checked = checkOrThrow(spec, raw, name, () => loc);
      value = isList && value !== undefined ? [...new Set([...(value as readonly string[]), ...(checked as readonly string[])])] : checked;
    }
    if (value === undefined) continue;
    if (isList) raw = value;
    entries.set(spec.key, { value, raw, loc, order: order++, shownKey: name, ...(alias ? { alias } : {}) });
  }
  return resolveEntries(entries, cfg.file);
}

/**
 * A `ConfigError` about key `key` of `cfg`, at the position the key was written (the file's line
 * and column, or the override's source), or naming the file alone when the key has its default.
 * For checks made outside the key table (the machine layout).
 */
export function configKeyError(cfg: ResolvedConfig, key: string, expected: string, found: string): ConfigError {
  const e = PROVENANCE.get(cfg)?.get(key);
  const loc = e?.loc ?? { file: cfg.file, line: 0, col: 0 };
  return new ConfigError(loc.file, loc.line, loc.col, e?.shownKey ?? key, expected, found);
}

function parseOverrideValue(text: string, key: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) throw new ConfigError(source, 0, 0, key, 'a YAML value', renderFound(text));
  return doc.toJS();
}

/**
 * Key `spec`'s value in a resolved config (or its JSON copy in a results document), as the key
 * table states it: a `count-or-duration` given a duration reads back as `<ms>ms`. Undefined when
 * the config lacks the field.
 */
export function keyValueOf(config: object, spec: KeySpec): KeyValue | undefined {
  const read = (field: string): unknown =>
    field.split('.').reduce<unknown>((o, part) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[part] : undefined), config);
  const ms = spec.durationField !== undefined ? read(spec.durationField) : undefined;
  if (typeof ms === 'number' && ms > 0) return `${ms}ms`;
  return read(spec.field) as KeyValue | undefined;
}

/** Every key of a config whose explicit entries are unknown (not made here) counts as explicit, without position. */
function entriesFromResolved(cfg: ResolvedConfig): Entries {
  const entries: Entries = new Map();
  const loc: Loc = { file: cfg.file, line: 0, col: 0 };
  for (const spec of KEYS) {
    const v = keyValueOf(cfg, spec);
    entries.set(spec.key, { value: v as KeyValue, raw: v, loc, order: -1, shownKey: spec.key });
  }
  return entries;
}

type LocAt = (offset: number) => Loc;

/** Follows an alias (`*name`) to the node it names; any other node as is. */
function deref(node: YamlNode | null, doc: Document): YamlNode | null {
  return node !== null && isAlias(node) ? ((node.resolve(doc) as YamlNode | undefined) ?? null) : node;
}

/**
 * Walks one mapping of the config, checking each key. Aliases are followed and merge keys
 * (`<<: *defaults`) resolved before validation: a merged key counts only where the mapping itself
 * does not set it (`merged`), as YAML's merge says.
 */
function walkMap(map: YamlNode | null, group: string, doc: Document, locAt: LocAt, entries: Entries, merged = false): void {
  if (!isMap(map)) return;
  const merges: YamlNode[] = [];
  for (const pair of map.items) {
    const keyNode = pair.key as YamlNode | null;
    const keyLoc = locAt(keyNode?.range?.[0] ?? map.range?.[0] ?? 0);
    const name = isScalar(keyNode) ? String(keyNode.value) : renderFound(keyNode === null ? null : toRaw(keyNode, doc));
    const v0 = isScalar(keyNode) ? keyNode.value : undefined;
    if (v0 === '<<' || (typeof v0 === 'symbol' && v0.description === '<<')) {
      const v = deref(pair.value as YamlNode | null, doc);
      for (const m of isSeq(v) ? v.items : [v]) merges.push(deref(m as YamlNode | null, doc) as YamlNode);
      continue;
    }
    const path = group === '' ? name : `${group}.${name}`;
    const valueNode = deref(pair.value as YamlNode | null, doc);
    if (GROUPS.has(path)) {
      if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) continue; // `host:` with nothing under it
      if (!isMap(valueNode)) {
        const loc = locAt(valueNode.range?.[0] ?? keyNode?.range?.[0] ?? 0);
        throw new ConfigError(loc.file, loc.line, loc.col, path, `a mapping of ${childrenOf(path).join(', ')}`, renderFound(toRaw(valueNode, doc)));
      }
      walkMap(valueNode, path, doc, locAt, entries);
      continue;
    }
    const found = lookupKey(group, name);
    if (found === undefined) {
      const known = childrenOf(group);
      throw new ConfigError(keyLoc.file, keyLoc.line, keyLoc.col, path, `one of ${known.join(', ')}`, `unknown key ${renderFound(name)}`, didYouMean(name, known));
    }
    const { spec, alias } = found;
    if (merged && entries.has(spec.key)) continue; // the mapping's own key wins over a merged one
    if (isScalar(valueNode) && typeof valueNode.value === 'number' && Number.isInteger(valueNode.value) && !Number.isSafeInteger(valueNode.value)) {
      const loc = locAt(valueNode.range?.[0] ?? 0);
      throw new ConfigError(loc.file, loc.line, loc.col, path, expectedText(spec), `${valueNode.source ?? String(valueNode.value)} (beyond 2^53 - 1 = ${Number.MAX_SAFE_INTEGER}, the largest integer a config holds exactly)`);
    }
    const previous = entries.get(spec.key);
    if (previous !== undefined) {
      throw new ConfigError(keyLoc.file, keyLoc.line, keyLoc.col, path, `one base page key (base, 4K or 64K)`, `${renderFound(name)} after ${renderFound(previous.shownKey.slice(group.length + 1))}`);
    }
    const raw = valueNode === null ? null : toRaw(valueNode, doc);
    const nodeLoc = (index?: number): Loc => {
      let node = valueNode;
      if (index !== undefined && isSeq(valueNode)) node = (valueNode.items[index] as YamlNode | undefined) ?? valueNode;
      const start = node?.range?.[0];
      // An empty value (`vcpus:`) has a zero-length range after the colon: point at the key instead.
      return start === undefined || (isScalar(node) && node.value === null) ? keyLoc : locAt(start);
    };
    const value = checkOrThrow(spec, raw, path, nodeLoc);
    entries.set(spec.key, { value, raw, loc: keyLoc, order: keyNode?.range?.[0] ?? 0, shownKey: path, ...(alias ? { alias } : {}) });
  }
  for (const m of merges) walkMap(m, group, doc, locAt, entries, true);
}

/** A node's plain value: scalars as parsed, collections as plain arrays/objects, aliases followed. */
function toRaw(node: YamlNode, doc: Document): unknown {
  if (isAlias(node)) {
    const target = node.resolve(doc);
    return target === undefined ? null : toRaw(target as YamlNode, doc);
  }
  if (isScalar(node)) return node.value;
  if (isCollection(node)) return node.toJS(doc); // aliases and merge keys resolved
  return null;
}

function checkOrThrow(spec: KeySpec, raw: unknown, shownKey: string, locOf: (index?: number) => Loc): KeyValue {
  const r = checkValue(spec, raw);
  if (r.ok) return r.value;
  const loc = locOf(r.index);
  const key = r.index === undefined ? shownKey : `${shownKey}[${r.index}]`;
  const found = r.index === undefined ? raw : (raw as unknown[])[r.index];
  throw new ConfigError(loc.file, loc.line, loc.col, key, r.expected, renderFound(found), r.hint ?? '');
}

/** Fills defaults, runs the cross-key checks, builds and freezes the config. */
function resolveEntries(entries: Entries, file: string): ResolvedConfig {
  const values = new Map<string, KeyValue>();
  for (const spec of KEYS) {
    const e = entries.get(spec.key);
    if (e !== undefined) values.set(spec.key, e.value);
  }
  for (const spec of KEYS) {
    if (!values.has(spec.key)) values.set(spec.key, spec.defaultFrom !== undefined ? values.get(spec.defaultFrom) ?? spec.default : spec.default);
  }
  const get = (key: string): KeyValue => values.get(key)!;

  // Cross-key errors go to the key written last: that is where the contradiction appeared.
  const blameOf = (keys: readonly string[]): { key: string; entry: Entry | undefined } => {
    let best: { key: string; entry: Entry | undefined } = { key: keys[keys.length - 1], entry: undefined };
    for (const key of keys) {
      const entry = entries.get(key);
      if (entry !== undefined && (best.entry === undefined || entry.order > best.entry.order)) best = { key, entry };
    }
    return best;
  };
  const fail = (blame: { key: string; entry: Entry | undefined }, expected: string, found: string): never => {
    const loc = blame.entry?.loc ?? { file, line: 0, col: 0 };
    throw new ConfigError(loc.file, loc.line, loc.col, blame.entry?.shownKey ?? blame.key, expected, found);
  };

  for (const cross of CROSS_CHECKS) {
    const blame = blameOf(cross.keys);
    const expected = cross.check(get, blame.key);
    if (expected !== null) fail(blame, expected, blame.entry !== undefined ? renderFound(blame.entry.raw) : renderFound(formatValue(KEY_BY_NAME.get(blame.key)!, get(blame.key))));
  }
  const base = get('basePageSize') as string;
  for (const [key, entry] of entries) {
    if (entry.alias === undefined || entry.alias === base) continue;
    const blame = blameOf(['basePageSize', key]);
    if (blame.key === key) fail(blame, `base page key "base" or "${base}" (basePageSize is ${base})`, renderFound(entry.alias));
    else fail(blame, `"${entry.alias}" to match the base page key ${entry.shownKey}`, renderFound(base));
  }

  const out: Record<string, unknown> = { file };
  for (const spec of KEYS) {
    const v = get(spec.key);
    if (spec.durationField !== undefined) {
      // A count goes to `field`, a duration (`<ms>ms`) to `durationField`; the other gets 0.
      const isDuration = typeof v === 'string';
      setField(out, spec.field, isDuration ? 0 : v);
      setField(out, spec.durationField, isDuration ? parseDuration(v) : 0);
      continue;
    }
    // A path written in a file is relative to that file; one given on the command line, to the
    // working directory.
    const at = entries.get(spec.key)?.loc;
    const value = spec.type === 'path' && typeof v === 'string' && v !== '' ? resolvePath(at !== undefined && at.line > 0 ? dirname(at.file) : '.', v) : v;
    setField(out, spec.field, Array.isArray(value) ? [...value] : value);
  }
  const cfg = deepFreeze(out) as unknown as ResolvedConfig;
  PROVENANCE.set(cfg, entries);
  return cfg;
}

function setField(out: Record<string, unknown>, field: string, v: unknown): void {
  const parts = field.split('.');
  let obj = out;
  for (const part of parts.slice(0, -1)) obj = (obj[part] ??= {}) as Record<string, unknown>;
  obj[parts[parts.length - 1]] = v;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
