/**
 * The one table of config keys: it drives validation, defaults, the `nestsim validate --keys`
 * listing and the README's config reference. `config.ts` walks the YAML and calls in here;
 * nothing about keys is written anywhere else.
 *
 * Rows use the YAML form (dotted camelCase path, user units such as `4G` or `5s`); `field` says
 * where the value lands in `ResolvedConfig` (types.ts), always in bytes, ms or plain numbers.
 */

import { THRESHOLD_GRAMMAR, thresholdList } from '../stats/thresholds.js';
import { MAX_PCT_DEPTH, SCHEDULES } from '../sync/schedule-layout.js';
import { BASE_PAGE_SIZES, FIXES, MUTATIONS, PATTERNS, PROTOCOLS, RC_MODES, VCPU_MAPS } from './types.js';
import { didYouMean } from './suggest.js';
import { COST_ITEMS, COST_MODELS, DEFAULT_CPU_GHZ, DEFAULT_SKEW_CYCLES } from '../cost/model.js';
import { DURATION_EXAMPLES, GiB, KiB, MiB, formatDuration, formatSize, parseDuration, parseSize } from './units.js';

import type { KeySpec, KeyValue } from './key-spec.js';
export type { KeySpec, KeyType, KeyValue } from './key-spec.js';
export { KEY_TYPES } from './key-spec.js';

/** Smallest base page; every size is a multiple of it (and of the 64K page when that is the base). */
export const MIN_PAGE_BYTES = 4 * KiB;

/**
 * L1 and host page numbers, counted in 4K pages, stay below 2^24, so the machine layout may hold
 * a page number in 24 bits: at most 64G of L1 gpa space (memory + MMIO) and 64G of host memory.
 */
export const MAX_PAGE_NUMBER = 2 ** 24;
export const MAX_MEMORY_BYTES = MAX_PAGE_NUMBER * MIN_PAGE_BYTES;

const U32_MAX = 0xffff_ffff;
const DAY_MS = 86_400_000;

/** Bytes of each base page size. */
export const BASE_PAGE_BYTES: Readonly<Record<string, number>> = { '4K': 4 * KiB, '64K': 64 * KiB };

const size = (key: string, field: string, dflt: number, min: number, doc: string, defaultFrom?: string): KeySpec => ({
  key, field, type: 'size', min, max: MAX_MEMORY_BYTES, default: dflt, unit: 'bytes', doc, ...(defaultFrom ? { defaultFrom } : {}),
});
const ratio = (key: string, field: string, dflt: number, doc: string): KeySpec => ({
  key, field, type: 'number', min: 0, max: 1, default: dflt, unit: 'fraction', doc,
});
const actor = (key: string, field: string, doc: string): KeySpec => ({
  key, field, type: 'number', min: 0, default: 0, unit: 'per 1,000 accesses per vCPU', doc,
});
function mix(key: string, field: string, what: string, base: number): KeySpec[] {
  return [
    { key: `${key}.base`, field: `${field}.base`, type: 'mix-weight', min: 0, aliases: BASE_PAGE_SIZES, default: base, unit: 'weight',
      doc: `${what}: weight of the base page (key \`base\`, or \`4K\`/\`64K\` matching basePageSize)` },
    { key: `${key}.2M`, field: `${field}.2M`, type: 'mix-weight', min: 0, default: 0, unit: 'weight', doc: `${what}: weight of 2M pages` },
    { key: `${key}.1G`, field: `${field}.1G`, type: 'mix-weight', min: 0, default: 0, unit: 'weight', doc: `${what}: weight of 1G pages` },
  ];
}

export const KEYS: readonly KeySpec[] = [
  { key: 'seed', field: 'seed', type: 'int', min: 0, max: U32_MAX, default: 1, unit: '', doc: 'PRNG seed; each vCPU and actor draws its own stream from it' },
  { key: 'duration', field: 'durationMs', type: 'duration', min: 1, max: DAY_MS, default: 5000, unit: 'ms', doc: 'run length; ignored when accesses > 0' },
  { key: 'accesses', field: 'accesses', type: 'int', min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, unit: 'accesses per vCPU', doc: 'run length in accesses per vCPU; 0 = run for duration' },
  { key: 'warmup', field: 'warmupAccesses', durationField: 'warmupMs', type: 'count-or-duration', min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, unit: 'accesses per vCPU, or a duration', doc: 'warm-up, not counted in the statistics: a number of accesses per vCPU, or a duration like 2s (counted within duration)' },
  { key: 'vcpus', field: 'vcpus', type: 'int', min: 1, max: 256, default: 2, unit: '', doc: 'simulated vCPUs' },
  { key: 'threads', field: 'threads', type: 'int', min: 0, max: 256, default: 0, unit: 'host threads', doc: 'worker threads the vCPUs share (vCPU v on thread v mod threads, switched at access boundaries in modeled-time order); 0 = auto: for run and sweep at most one per host processor, and under a cost model the vCPUs of one nested guest on one thread (the guests round-robin over the threads), a small run (at most 4,096 accesses) all on the coordinator thread; one per vCPU for stress and controlled schedules' },
  { key: 'protocol', field: 'protocol', type: 'enum', values: PROTOCOLS, default: 'mainline', unit: '', doc: 'mainline = the kernel as written (windows P1-P6 open); fixed = all closed' },
  { key: 'fixes', field: 'fixes', type: 'list-of-enum', values: FIXES, default: [], unit: '', doc: 'close single windows of docs/model.md §7 under mainline' },
  { key: 'mutations', field: 'mutations', type: 'list-of-enum', values: MUTATIONS, default: [], unit: '', doc: 'protocol ablations, each removes one protection (docs/model.md §6.4)' },
  { key: 'basePageSize', field: 'basePageSize', type: 'enum', values: BASE_PAGE_SIZES, default: '4K', unit: '', doc: 'base page size of every level; all sizes are multiples of it' },
  { key: 'hardware.rc', field: 'hardware.rc', type: 'enum', values: RC_MODES, default: 'fault', unit: '', doc: 'fault = RC updates in partition-scoped leaves fault (DSISR_SET_RC); auto = hardware sets them' },
  { key: 'hardware.l1Rc', field: 'hardware.l1Rc', type: 'enum', values: RC_MODES, default: 'fault', unit: '', doc: "R/C updates in L0's table for L1 on L1's own accesses (workload.l1Ratio): fault = DSISR_SET_RC into L0; auto = hardware sets them atomically, without a lock (POWER9 for a non-nested guest); shadow leaves follow hardware.rc" },
  { key: 'hardware.tlb.entries', field: 'hardware.tlbEntries', type: 'int', min: 1, max: 4096, powerOfTwo: true, default: 64, unit: 'entries per vCPU', doc: 'TLB size of each vCPU' },
  { key: 'hardware.tlb.ways', field: 'hardware.tlbWays', type: 'int', min: 1, max: 4096, powerOfTwo: true, default: 4, unit: 'ways', doc: 'TLB associativity, <= hardware.tlb.entries' },
  size('host.memory', 'host.memoryBytes', 4 * GiB, MIN_PAGE_BYTES, 'host real memory for data frames (at most 64G)'),
  ...mix('host.backing', 'host.backing', 'host backing of L1 memory', 1),
  { key: 'host.overcommit', field: 'host.overcommit', type: 'bool', default: false, unit: '', doc: 'the host may run out of memory for L1 (faults that find none count as hostOom); false: a run in which any does exits 1' },
  { key: 'l1.count', field: 'l1.count', type: 'int', min: 1, max: 64, default: 1, unit: 'L1 guests', doc: "L1 guests on the host, each with its own mmu_lock, memslots, L0 table, invalidation sequence, nested guests, dirty log and actors (every other l1.* key and guests.count is per L1); vCPU v runs in L1 v mod l1.count; the host is shared" },
  size('l1.memory', 'l1.memoryBytes', 2 * GiB, MIN_PAGE_BYTES, 'L1 guest-real memory (one memslot), excluding the MMIO hole; may overcommit'),
  size('l1.readonly', 'l1.readonlyBytes', 0, 0, 'top part of l1.memory that is a READONLY memslot, < l1.memory'),
  size('l1.mmio', 'l1.mmioBytes', 0, 0, 'L1 gpa range after memory with no memslot (emulated MMIO); l1.memory + l1.mmio <= 64G'),
  ...mix('l1.pageSizes', 'l1.pageSizes', 'L1 mapping of L2 memory', 1),
  { key: 'l1.dirtyLog', field: 'l1.dirtyLog', type: 'bool', default: false, unit: '', doc: "L0 dirty-logs L1's main memslot from the start" },
  { key: 'guests.count', field: 'guests.count', type: 'int', min: 1, max: 4096, default: 1, unit: 'nested guests', doc: 'nested guests (L2s) of each L1' },
  size('guests.memory', 'guests.memoryBytes', 256 * MiB, MIN_PAGE_BYTES, 'L2 guest-real memory of each nested guest'),
  { key: 'guests.vcpuMap', field: 'guests.vcpuMap', type: 'enum', values: VCPU_MAPS, default: 'spread', unit: '', doc: 'spread: vCPU i in guest i % count; packed: consecutive vCPUs share a guest (with l1.count > 1: over each L1\'s own vCPUs and guests)' },
  { key: 'workload.pattern', field: 'workload.pattern', type: 'enum', values: PATTERNS, default: 'uniform', unit: '', doc: 'page access pattern over the working set' },
  { key: 'workload.theta', field: 'workload.theta', type: 'number', min: 0, minExclusive: true, max: 10, notEqual: 1, default: 0.99, unit: '', doc: 'zipf skew' },
  { key: 'workload.hotFraction', field: 'workload.hotFraction', type: 'number', min: 0, minExclusive: true, max: 1, default: 0.1, unit: 'fraction', doc: 'hotset: fraction of the working set that is hot' },
  ratio('workload.hotProbability', 'workload.hotProbability', 0.9, 'hotset: probability that an access goes to the hot part'),
  ratio('workload.writeRatio', 'workload.writeRatio', 0.3, 'fraction of accesses that are stores'),
  ratio('workload.execRatio', 'workload.execRatio', 0, 'fraction of accesses that are instruction fetches (HISI path)'),
  ratio('workload.mmioRatio', 'workload.mmioRatio', 0, "fraction of accesses to L2 pages that L1 maps onto its MMIO hole (needs l1.mmio > 0)"),
  size('workload.workingSet', 'workload.workingSetBytes', 256 * MiB, MIN_PAGE_BYTES, 'bytes of each guest touched, <= guests.memory; defaults to guests.memory', 'guests.memory'),
  { key: 'workload.trace', field: 'workload.trace', type: 'path', default: '', unit: '', doc: "replay a memory trace instead of the pattern: a Valgrind lackey trace or nestsim's page-level format, plain or gzip'd (docs/traces.md); every vCPU replays it from its own offset; pattern, writeRatio, execRatio, mmioRatio and l1Ratio do not apply" },
  { key: 'workload.traceSkip', field: 'workload.traceSkip', type: 'int', min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, unit: 'records', doc: 'trace records to skip at its start' },
  { key: 'workload.traceLimit', field: 'workload.traceLimit', type: 'int', min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, unit: 'records', doc: 'trace records to use after the skip (0 = all)' },
  { key: 'workload.traceRepeat', field: 'workload.traceRepeat', type: 'bool', default: true, unit: '', doc: 'start the trace again at its end (false: a vCPU stops when its pass ends)' },
  ratio('workload.l1Ratio', 'workload.l1Ratio', 0, "fraction of each vCPU's accesses that are L1's own, to the L1 memory behind its guest's working set, in runs of 64 accesses, translated by L0's table for L1 under L1's lpid (L1 touching its guest's memory, as its I/O emulation does)"),
  actor('actors.l1.unmap', 'actors.l1.unmap', 'L1 unmaps an L2 page + H_TLB_INVALIDATE IS=0'),
  actor('actors.l1.protect', 'actors.l1.protect', 'L1 write-protects an L2 page + tlbie'),
  actor('actors.l1.clean', 'actors.l1.clean', 'L1 clears C (its own dirty log for L2) + tlbie'),
  actor('actors.l1.rangeFlush', 'actors.l1.rangeFlush', 'L1 H_RPT_INVALIDATE over a range'),
  actor('actors.l1.lpidFlush', 'actors.l1.lpidFlush', 'L1 H_TLB_INVALIDATE IS=2 RIC=0 (whole LPID)'),
  actor('actors.l1.destroy', 'actors.l1.destroy', "L1 destroys its nested guest while vCPUs run it (zeroes its partition-table entry, H_TLB_INVALIDATE IS=2 RIC=2) and recreates it once none of its vCPUs runs the old one"),
  actor('actors.host.migrate', 'actors.host.migrate', 'host migrates an L1 page (notifier begin/unmap/copy/end)'),
  actor('actors.host.swap', 'actors.host.swap', 'host swaps an L1 page out; it comes back on the next fault'),
  actor('actors.host.age', 'actors.host.age', 'kvm_age_radix on one L1 page'),
  actor('actors.host.harvest', 'actors.host.harvest', 'dirty-log harvest pass over the whole slot'),
  actor('actors.host.memslotFlush', 'actors.host.memslotFlush', 'memslot flush alone (the flush every dirty-logging switch makes)'),
  actor('actors.host.dirtyLogToggle', 'actors.host.dirtyLogToggle', "dirty logging switched on or off on L1's main memslot (new memslot installed, ~0.2 ms SRCU grace, then the old one's mappings flushed), as KVM_SET_USER_MEMORY_REGION does it; run by vCPU 0"),
  { key: 'audit.perMillion', field: 'audit.perMillion', type: 'number', min: 0, max: 1_000_000, default: 0, unit: 'per 1,000,000 accesses', doc: 'stop-the-world audits (total over all vCPUs); 0 = only the final audit' },
  ratio('stress.pause', 'stress.pause', 0, 'probability that a faulting vCPU sleeps ~50 µs at each named point of the fault path (after translate, seq read, L1-table lookup; before commit), widening race windows; with nonatomic-rc or nonatomic-unmap on, both sides of their race with the hardware R/C update (hardware.l1Rc: auto) also sleep ~0.5 ms every time; a correct protocol stays clean under any schedule'),
  { key: 'schedule.strategy', field: 'schedule.strategy', type: 'enum', values: SCHEDULES, default: 'free', unit: '', doc: 'how the vCPU threads interleave (docs/schedules.md): free runs them freely; random, pct, modeled and exhaustive run one at a time between named schedule points, the next chosen by a seeded chooser (uniformly, by PCT priorities, the lowest modeled clock, or no preemption with stress searching every schedule within schedule.preemptions), so a run replays exactly; needs accesses > 0 and a warm-up in accesses; also --schedule' },
  { key: 'schedule.depth', field: 'schedule.depth', type: 'int', min: 1, max: MAX_PCT_DEPTH, default: 3, unit: 'PCT depth', doc: 'pct: the bug depth d it targets (d - 1 priority change points); --schedule pct:D' },
  ratio('schedule.preempt', 'schedule.preempt', 1, 'random: probability that a schedule point draws the next thread at random; otherwise the running thread goes on (smaller: longer runs, so a thread paused inside a race window stays paused while others run, as stress.pause does in free runs)'),
  { key: 'schedule.preemptions', field: 'schedule.preemptions', type: 'int', min: 0, max: 8, default: 2, unit: 'preemptions', doc: 'exhaustive: stress explores every schedule with at most this many preemptions (switches away from a thread that could go on), depth first, one schedule per round; --schedule exhaustive:B' },
  { key: 'schedule.steps', field: 'schedule.steps', type: 'int', min: 0, max: 2 ** 30, default: 0, unit: 'schedule points', doc: 'pct: the run length k its change points are drawn from (0 = 32 x accesses x vcpus, about the points a racy run passes)' },
  { key: 'stats.accessSample', field: 'stats.accessSample', type: 'int', min: 1, max: 1 << 20, powerOfTwo: true, default: 1024, unit: 'accesses', doc: 'time one access in N per vCPU, on average (random gaps, so no periodic pattern aliases with the sample), for the access-latency histogram (two timer calls cost more than a TLB hit); counts stay exact' },
  { key: 'stats.faultSample', field: 'stats.faultSample', type: 'int', min: 1, max: 1 << 20, powerOfTwo: true, default: 16, unit: 'faults', doc: 'time one fault in N per vCPU, chosen at random (nested faults and L0 faults for L1\'s own accesses alike), for the per-kind latency histograms (1 = every fault); stages are timed on one timed fault in 8; counts stay exact' },
  { key: 'thresholds', field: 'thresholds', type: 'list-of-threshold', default: [], unit: '', doc: 'pass/fail checks on the results document, each "PATH OP VALUE[unit]" like "latencyNs.shadowInsert.p99 < 10us" or "modeled.faultsPerSec > 2e6" (docs/results.md, "Thresholds"); any failure exits 1; also --threshold EXPR' },
  { key: 'cost.model', field: 'cost.model', type: 'enum', values: COST_MODELS, default: 'power9', unit: '', doc: 'modeled time (docs/cost-model.md): power9 charges each event its POWER9 cost in cycles onto a per-vCPU modeled clock, reported beside the wall clock; none turns the modeled clock off' },
  { key: 'cost.cpuGHz', field: 'cost.cpuGHz', type: 'number', min: 0, minExclusive: true, max: 10, default: DEFAULT_CPU_GHZ, unit: 'GHz', doc: 'clock of the modeled core: modeled ns = cycles / cost.cpuGHz (default: POWER9 in the IBM AC922)' },
  { key: 'cost.skewCycles', field: 'cost.skewCycles', type: 'int', min: 0, max: 1e12, default: DEFAULT_SKEW_CYCLES, unit: 'cycles', doc: "how far a vCPU's modeled clock may run ahead of the slowest running vCPU's of its nested guest on another thread before it sleeps (at an access boundary, holding no lock; by default one thread runs each guest's vCPUs and nothing waits; other guests' clocks run free): smaller keeps modeled order closer to modeled time, larger lets threads wait less; 0 = no bound (clocks run free; stress's default, so the bound does not change which races happen)" },
  ...COST_ITEMS.map((c): KeySpec => ({ key: `cost.${c.name}`, field: `cost.${c.name}`, type: 'number', min: 0, max: 1e9, default: c.cycles, unit: 'cycles', doc: `${c.doc}${c.estimate ? ' (estimate)' : ''}` })),
];

/** Rows by canonical dotted key. */
export const KEY_BY_NAME: ReadonlyMap<string, KeySpec> = new Map(KEYS.map((s) => [s.key, s]));

/** The default of numeric key `key` (the one place every default is stated). */
export function numericDefault(key: string): number {
  const d = KEY_BY_NAME.get(key)?.default;
  if (typeof d !== 'number') throw new Error(`no numeric default for key ${key}`);
  return d;
}

/** Every dotted prefix that is a mapping (`hardware`, `hardware.tlb`, ...); '' is the root. */
export const GROUPS: ReadonlySet<string> = new Set(
  KEYS.flatMap((s) => s.key.split('.').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('.'))).concat(['']),
);

/** The names allowed directly under a group, in table order, aliases included. */
export function childrenOf(group: string): string[] {
  const depth = group === '' ? 0 : group.split('.').length;
  const names: string[] = [];
  for (const s of KEYS) {
    const parts = s.key.split('.');
    if (parts.length <= depth || (group !== '' && parts.slice(0, depth).join('.') !== group)) continue;
    for (const name of parts.length === depth + 1 ? [parts[depth], ...(s.aliases ?? [])] : [parts[depth]]) {
      if (!names.includes(name)) names.push(name);
    }
  }
  return names;
}

/** Resolves `group` + `name` to a row, following aliases. */
export function lookupKey(group: string, name: string): { spec: KeySpec; alias?: string } | undefined {
  const path = group === '' ? name : `${group}.${name}`;
  const spec = KEY_BY_NAME.get(path);
  if (spec) return { spec };
  for (const s of KEYS) {
    if (s.aliases?.includes(name) && s.key === `${path.slice(0, path.length - name.length)}base`) return { spec: s, alias: name };
  }
  return undefined;
}

export type CheckResult =
  | { readonly ok: true; readonly value: KeyValue }
  | { readonly ok: false; readonly expected: string; readonly hint?: string; readonly index?: number };

/** The accepted input of a row, as used after "expected" in error messages. */
export function expectedText(spec: KeySpec): string {
  switch (spec.type) {
    case 'int':
      return `${spec.powerOfTwo ? 'power of two' : 'integer'} ${rangeText(spec, String)}`;
    case 'number':
    case 'mix-weight':
      return `number ${rangeText(spec, String)}`;
    case 'size':
      return `size ${rangeText(spec, formatSize)} in multiples of 4K (like 512M or 4G)`;
    case 'duration':
      return `a duration ${rangeText(spec, formatDuration)} with a unit (ms, s, m or h), like ${DURATION_EXAMPLES}`;
    case 'count-or-duration':
      return `a number of accesses ${rangeText(spec, String)} or a duration up to 24h with a unit, like ${DURATION_EXAMPLES}`;
    case 'enum':
      return `one of ${spec.values!.join(', ')}`;
    case 'bool':
      return 'true or false';
    case 'list-of-enum':
      return `list of ${spec.values!.join(', ')}`;
    case 'list-of-threshold':
      return `list of thresholds, each ${THRESHOLD_GRAMMAR}`;
    case 'path':
      return 'a file path (relative to the config file), or "" for none';
  }
}

function rangeText(spec: KeySpec, fmt: (n: number) => string): string {
  const hasMax = spec.max !== undefined && spec.max !== Number.MAX_SAFE_INTEGER;
  let text: string;
  if (spec.minExclusive) text = hasMax ? `> ${fmt(spec.min!)} and <= ${fmt(spec.max!)}` : `> ${fmt(spec.min!)}`;
  else text = hasMax ? `${fmt(spec.min!)}..${fmt(spec.max!)}` : `>= ${fmt(spec.min!)}`;
  return spec.notEqual === undefined ? text : `${text}, not ${spec.notEqual}`;
}

function inRange(spec: KeySpec, n: number): boolean {
  if (spec.min !== undefined && (spec.minExclusive ? n <= spec.min : n < spec.min)) return false;
  if (spec.max !== undefined && n > spec.max) return false;
  return n !== spec.notEqual;
}

/**
 * Checks one raw YAML value (string, number, boolean, null, array or object as `toJSON` gives it)
 * against its row. Sizes accept a number (bytes) or a string with a unit; durations need a unit
 * (a bare number is refused: `3` could mean 3 ms or 3 s).
 * A list also accepts a single string (`fixes: p5`); duplicates in a list are dropped.
 */
export function checkValue(spec: KeySpec, raw: unknown): CheckResult {
  const fail = (hint?: string): CheckResult => ({ ok: false, expected: expectedText(spec), ...(hint ? { hint } : {}) });
  switch (spec.type) {
    case 'int':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || !inRange(spec, raw)) return fail();
      if (spec.powerOfTwo && (raw & (raw - 1)) !== 0) return fail();
      return { ok: true, value: raw };
    case 'number':
    case 'mix-weight':
      return typeof raw === 'number' && Number.isFinite(raw) && inRange(spec, raw) ? { ok: true, value: raw } : fail();
    case 'size':
    case 'duration': {
      const isSize = spec.type === 'size';
      if (!isSize && typeof raw === 'number') return fail('(a duration needs its unit: write 3s or 3ms)');
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? (isSize ? parseSize(raw) : parseDuration(raw)) : null;
      if (n === null || !Number.isSafeInteger(n) || !inRange(spec, n)) return fail();
      if (isSize && n % MIN_PAGE_BYTES !== 0) return fail();
      return { ok: true, value: n };
    }
    case 'count-or-duration': {
      if (typeof raw === 'number') return Number.isSafeInteger(raw) && inRange(spec, raw) ? { ok: true, value: raw } : fail();
      const ms = typeof raw === 'string' ? parseDuration(raw) : null;
      return ms !== null && ms >= 1 && ms <= DAY_MS ? { ok: true, value: `${ms}ms` } : fail();
    }
    case 'enum':
      if (typeof raw === 'string' && spec.values!.includes(raw)) return { ok: true, value: raw };
      return fail(typeof raw === 'string' ? didYouMean(raw, spec.values!) : undefined);
    case 'bool':
      return typeof raw === 'boolean' ? { ok: true, value: raw } : fail();
    case 'path':
      // An empty value (`--set workload.trace=`) is none.
      return typeof raw === 'string' ? { ok: true, value: raw } : raw === null ? { ok: true, value: '' } : fail();
    case 'list-of-enum': {
      const items: unknown[] = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : [];
      if (!Array.isArray(raw) && typeof raw !== 'string') return fail();
      const out: string[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (typeof item !== 'string' || !spec.values!.includes(item)) {
          const hint = typeof item === 'string' ? didYouMean(item, spec.values!) : undefined;
          return { ok: false, expected: `one of ${spec.values!.join(', ')}`, ...(Array.isArray(raw) ? { index: i } : {}), ...(hint ? { hint } : {}) };
        }
        if (!out.includes(item)) out.push(item);
      }
      return { ok: true, value: out };
    }
    case 'list-of-threshold':
      return thresholdList(raw);
  }
}

/** Renders a resolved value in the form a user would write it in YAML. */
export function formatValue(spec: KeySpec, value: KeyValue): string {
  if (spec.type === 'size') return formatSize(value as number);
  if (spec.type === 'duration') return formatDuration(value as number);
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return String(value);
}

/** Markdown reference of the key table: key, type (with range), default, unit, doc. */
export function describeKeys(): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = ['| key | type | default | unit | doc |', '|---|---|---|---|---|'];
  for (const s of KEYS) {
    const type = s.type === 'enum' || s.type === 'list-of-enum' || s.type === 'bool' ? `${s.type}: ${expectedText(s)}` : expectedText(s);
    const dflt = s.defaultFrom ? `= ${s.defaultFrom}` : formatValue(s, s.default);
    lines.push(`| \`${s.key}\` | ${cell(type)} | ${cell(dflt)} | ${cell(s.unit)} | ${cell(s.doc)} |`);
  }
  return lines.join('\n') + '\n';
}

/** Cross-key constraints, checked after every key has a value (explicit or default). */
export interface CrossCheck {
  /** The keys involved; the error is reported on whichever was written last. */
  readonly keys: readonly string[];
  /**
   * @param get resolved value of any key
   * @param blame the key the error will be reported on
   * @returns null when satisfied, else the text after "expected"
   */
  readonly check: (get: (key: string) => KeyValue, blame: string) => string | null;
}

const SIZE_KEYS = KEYS.filter((s) => s.type === 'size').map((s) => s.key);
const num = (get: (key: string) => KeyValue, key: string): number => get(key) as number;

export const CROSS_CHECKS: readonly CrossCheck[] = [
  ...SIZE_KEYS.map((k): CrossCheck => ({
    keys: ['basePageSize', k],
    check: (get, blame) => {
      const base = get('basePageSize') as string;
      if (num(get, k) % BASE_PAGE_BYTES[base] === 0) return null;
      return blame === k
        ? `size in multiples of the base page ${base} (basePageSize)`
        : `a base page that divides ${k} (${formatSize(num(get, k))})`;
    },
  })),
  {
    // A backing size with weight can never be backed by a host smaller than one block of it.
    keys: ['host.backing.2M', 'host.backing.1G', 'host.memory'],
    check: (get, blame) => {
      const need = num(get, 'host.backing.1G') > 0 ? GiB : num(get, 'host.backing.2M') > 0 ? 2 * MiB : 0;
      if (num(get, 'host.memory') >= need) return null;
      const size = need === GiB ? '1G' : '2M';
      return blame === 'host.memory' ? `at least ${size}, one block of the host.backing.${size} it is asked for` : `no ${size} blocks in a host of ${formatSize(num(get, 'host.memory'))}`;
    },
  },
  ...['host.backing', 'l1.pageSizes'].map((m): CrossCheck => ({
    keys: [`${m}.base`, `${m}.2M`, `${m}.1G`],
    check: (get) =>
      num(get, `${m}.base`) + num(get, `${m}.2M`) + num(get, `${m}.1G`) > 0 ? null : `at least one weight of ${m} (base, 2M, 1G) > 0`,
  })),
  {
    keys: ['hardware.tlb.entries', 'hardware.tlb.ways'],
    check: (get, blame) => {
      const [entries, ways] = [num(get, 'hardware.tlb.entries'), num(get, 'hardware.tlb.ways')];
      if (ways <= entries) return null;
      return blame === 'hardware.tlb.ways' ? `power of two <= hardware.tlb.entries (${entries})` : `at least hardware.tlb.ways (${ways})`;
    },
  },
  {
    // A controlled schedule replays from its seed: nothing may depend on the wall clock.
    keys: ['accesses', 'warmup', 'vcpus', 'schedule.strategy'],
    check: (get, blame) => {
      if (get('schedule.strategy') === 'free') return null;
      if (num(get, 'accesses') === 0) return blame === 'accesses' ? `> 0 under schedule.strategy ${get('schedule.strategy') as string} (a controlled run is bounded by work)` : 'free, or a run bounded by accesses (> 0)';
      if (typeof get('warmup') === 'string') return blame === 'warmup' ? 'a count of accesses under a controlled schedule (not a duration)' : 'free, or a warm-up given in accesses';
      if (get('schedule.strategy') === 'exhaustive' && num(get, 'vcpus') > 16) return blame === 'vcpus' ? 'at most 16 vCPUs under schedule.strategy exhaustive (a search for small configs)' : 'another strategy for more than 16 vCPUs';
      return null;
    },
  },
  {
    // A thread runs at least one vCPU.
    keys: ['threads', 'vcpus'],
    check: (get, blame) =>
      num(get, 'threads') <= num(get, 'vcpus') ? null : blame === 'threads' ? `at most vcpus (${num(get, 'vcpus')}), or 0 for auto: every thread runs at least one vCPU` : `at least threads (${num(get, 'threads')})`,
  },
  {
    // Every L1 runs at least one vCPU (vCPUs go round-robin over the L1s).
    keys: ['l1.count', 'vcpus'],
    check: (get, blame) => {
      const [n, v] = [num(get, 'l1.count'), num(get, 'vcpus')];
      if (n <= v) return null;
      return blame === 'l1.count' ? `at most vcpus (${v}): every L1 runs at least one vCPU` : `at least l1.count (${n}): every L1 runs at least one vCPU`;
    },
  },
  {
    keys: ['workload.writeRatio', 'workload.execRatio', 'workload.mmioRatio'],
    check: (get) => {
      const sum = num(get, 'workload.writeRatio') + num(get, 'workload.execRatio') + num(get, 'workload.mmioRatio');
      return sum <= 1 + 1e-9 ? null : `writeRatio + execRatio + mmioRatio <= 1 (they add up to ${+sum.toFixed(6)})`;
    },
  },
  {
    keys: ['guests.memory', 'workload.workingSet'],
    check: (get, blame) => {
      const [mem, ws] = [num(get, 'guests.memory'), num(get, 'workload.workingSet')];
      if (ws <= mem) return null;
      return blame === 'guests.memory' ? `at least workload.workingSet (${formatSize(ws)})` : `size <= guests.memory (${formatSize(mem)})`;
    },
  },
  {
    keys: ['l1.memory', 'l1.readonly'],
    check: (get, blame) => {
      const [mem, ro] = [num(get, 'l1.memory'), num(get, 'l1.readonly')];
      if (ro < mem) return null;
      return blame === 'l1.memory' ? `more than l1.readonly (${formatSize(ro)})` : `size < l1.memory (${formatSize(mem)})`;
    },
  },
  {
    keys: ['l1.memory', 'l1.mmio'],
    check: (get, blame) => {
      const [mem, mmio] = [num(get, 'l1.memory'), num(get, 'l1.mmio')];
      if (mem + mmio <= MAX_MEMORY_BYTES) return null;
      const other = blame === 'l1.memory' ? `l1.mmio (${formatSize(mmio)})` : `l1.memory (${formatSize(mem)})`;
      return `size that with ${other} stays within ${formatSize(MAX_MEMORY_BYTES)} of L1 address space`;
    },
  },
  {
    keys: ['l1.mmio', 'workload.mmioRatio'],
    check: (get, blame) => {
      if (num(get, 'workload.mmioRatio') === 0 || num(get, 'l1.mmio') > 0) return null;
      return blame === 'l1.mmio' ? 'size > 0 because workload.mmioRatio > 0' : '0 because l1.mmio is 0 (set l1.mmio to give L1 an MMIO hole)';
    },
  },
];
