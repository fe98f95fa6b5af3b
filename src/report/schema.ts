/**
 * The JSON Schema (draft 2020-12) of every results document, made from the same lists the
 * documents are made from (fault kinds, latency kinds, invariants, windows), so the two cannot
 * drift apart. `npm run schema` writes it to schema/results.schema.json and the field reference
 * into docs/results.md; a test checks both files equal what this module makes.
 *
 * Every field has a description; a field with a unit ends its description with `Unit: X.`, which
 * the field reference shows in its own column.
 */
import { arr, bool, count, counts, nullable, num, obj, ref, shardSchema, str, tally, withUnit, type Schema } from './schema-build.js';
import { MODELED } from './schema-modeled.js';
import { PER_L1 } from './schema-l1.js';
import { SCHEDULE_OR_NULL } from './schema-schedule.js';
import { DOCUMENT_KINDS, SCHEMA_VERSION } from '../stats/document.js';
import { FAULT_KIND_NAMES } from '../stats/kinds.js';
import { LATENCY_KINDS } from '../stats/results.js';
import { INVARIANTS } from '../invariants/names.js';
import { KERNEL_WINDOWS } from '../invariants/windows.js';


const MAJOR = SCHEMA_VERSION.split('.')[0];
export const SCHEMA_ID = `https://nestsim.invalid/schema/results-${MAJOR}.json`;


/** What each fault outcome means (README, "What the figures mean", names the kernel paths). */
export const FAULT_KIND_DOCS: Readonly<Record<(typeof FAULT_KIND_NAMES)[number], string>> = {
  shadowInsert: "L0 resolved the nested fault alone: L1's PTE and L0's PTE for L1 existed and a shadow leaf was created.",
  hostInstantiate: 'As shadowInsert, but L0 first had to map the L1 page in its own table (host page fault).',
  reflected: "L1's table had no (or an insufficient) translation: the fault went back to L1, whose handler ran.",
  rcFixed: "R/C set in L0's PTE for L1 and in the shadow PTE (handle_nested_set_rc).",
  rcReflected: "R/C could not be set because L1's own PTE lacked R or C: reflected to L1.",
  retried: 'Ended in -EAGAIN (an invalidation raced with it) and L2 faulted again.',
  mmio: 'The L1 address has no memslot: emulated MMIO.',
  dsi: 'A store to a read-only memslot or a bad access: a DSI queued into L2.',
  inval: "The INVAL exit: L1's PTE now denies the access; L0 dropped the stale shadow PTE.",
  error: 'Another error (-EINVAL, -ENOMEM): the trap went back to L1.',
  l1Direct: "Not a nested fault: L0's ordinary radix fault for an access of L1's own.",
  hostOom: 'The host had no memory for the L1 page (an overcommitted host).',
};

const EXIT = { type: 'integer', enum: [0, 1, 130], description: 'Exit status: 0 clean (kernel windows reproduced are not failures), 1 a violation that fails the run, 130 interrupted.' };

const HEADER: Record<string, Schema> = {
  schemaVersion: str(`Version of this contract (semver; this schema: ${SCHEMA_VERSION}). A new field bumps the minor version; documents of one major version merge and compare.`, { pattern: `^${MAJOR}\\.\\d+\\.\\d+$` }),
  kind: str('Which command wrote the document; the body follows from it.', { enum: [...DOCUMENT_KINDS] }),
  tool: obj('The program that wrote the document.', { name: str('Always nestsim.', { const: 'nestsim' }), version: str('nestsim version (package.json).') }),
  command: arr('The command as typed: nestsim, then its arguments.', { type: 'string' }, { minItems: 1 }),
  startedAt: str('When the command started, ISO 8601 in UTC.', { pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' }),
  host: obj('The machine that ran it.', {
    hostname: str('Host name.'),
    cpus: { type: 'integer', minimum: 1, description: withUnit('Processors Node may use (os.availableParallelism()).', 'count') },
    cpuModel: str('Processor model as the OS names it.'),
    node: str('Node.js version, e.g. v20.20.2.'),
  }),
  gitCommit: str('The commit nestsim ran from, when it runs from a git checkout (absent otherwise).', { pattern: '^[0-9a-f]{40}$' }),
  config: {
    type: 'object',
    description: 'The resolved config: every key with its default filled (fields as in nestsim validate), plus overrides.',
    required: ['file', 'seed', 'vcpus', 'protocol', 'overrides'],
    properties: {
      file: str('The config file (as given on the command line).'),
      seed: count('Seed of every random choice (a stress round or sweep point may override it).', 'seed'),
      vcpus: { type: 'integer', minimum: 1, description: withUnit('Simulated L2 vCPUs.', 'count') },
      protocol: str('mainline (the kernel as written) or fixed.', { enum: ['mainline', 'fixed'] }),
      overrides: arr(
        'Every key that does not have its default, in the order it was set.',
        obj('One explicitly set key.', {
          key: str('The config key (nestsim validate --keys).'),
          value: { description: 'Its value as the key table states it (sizes in bytes, durations as <ms>ms or ms).', type: ['number', 'string', 'boolean', 'array'], items: { type: 'string' } },
          from: str('Where it was set: file:line, the option (--vcpus, --set), stress round, or implied by --accesses.'),
        }),
      ),
    },
  },
  exitStatus: EXIT,
  interrupted: bool('Stopped by a signal (Ctrl-C, or SIGTERM from a scheduler) before its end: the figures cover what was done.'),
  thresholds: arr(
    "The config's thresholds (thresholds:, --threshold) and their verdicts, in order; empty when it has none. Any failed one makes the command exit 1.",
    obj('One threshold.', {
      expr: str('The expression as written: PATH OP VALUE[unit].'),
      pass: bool('Whether it held (at every point, for a sweep).'),
      actual: nullable(num('The value found, in the field\'s unit (at `at`, for a sweep); null when the field held none.')),
      at: nullable(str('For a sweep: the point the verdict was taken at (the first where it failed, else the last), as key=value pairs; null otherwise.')),
    }),
  ),
};

const HISTOGRAM = {
  description: 'A latency histogram: null when nothing was timed. Buckets are on the fixed log-linear boundaries of docs/results.md, the same in every document of a major version.',
  oneOf: [
    { type: 'null' },
    obj('Histogram of one kind (all values whole ns).', {
      count: { type: 'integer', minimum: 1, description: withUnit('Values recorded (sampled, see config.stats).', 'count') },
      sumNs: count('Sum of the recorded values.', 'ns'),
      mean: count('Mean.', 'ns'),
      min: count('Smallest value.', 'ns'),
      p50: count('Median (middle of its bucket, clamped to min..max).', 'ns'),
      p90: count('90th percentile.', 'ns'),
      p99: count('99th percentile.', 'ns'),
      p999: count('99.9th percentile.', 'ns'),
      max: count('Largest value.', 'ns'),
      buckets: arr(
        'Every non-empty bucket as [lowerNs, count], by increasing lowerNs; a merge adds counts of equal lowerNs.',
        { type: 'array', prefixItems: [{ type: 'integer', minimum: 0 }, { type: 'integer', minimum: 1 }], minItems: 2, maxItems: 2 },
        { minItems: 1 },
      ),
    }),
  ],
};

const VIOLATION = obj(
  'One invariant violation (the first 100 of a run are kept; checks.violations counts all).',
  {
    invariant: str('The invariant broken.', { enum: [...INVARIANTS] }),
    message: str('What the checker saw.'),
    window: str('The window of the kernel as written whose code path produced it, when one did.', { enum: [...KERNEL_WINDOWS] }),
    vcpu: { type: 'integer', minimum: -1, description: 'The vCPU that saw it; -1 the coordinator or an actor.' },
    l1: count('The L1 it was found in (only with l1.count > 1).', 'index'),
    timeMs: num('When, from the start of the run.', 'ms'),
    lpid: count('The partition (L2 lpid, or 0 for L1).', 'lpid'),
    l2Ra: str('L2 real address, 0x hex.'),
    l1Ra: str('L1 real address, 0x hex.'),
    hostRa: str('Host real address, 0x hex.'),
    pte: { type: 'object', description: 'PTE values by role (shadow, l1, host), 0x-prefixed 64-bit hex.', additionalProperties: { type: 'string' } },
  },
  ['window', 'l1', 'lpid', 'l2Ra', 'l1Ra', 'hostRa', 'pte'],
);

const INVALIDATION_DOCS: Readonly<Record<string, string>> = {
  tlbiePage: 'tlbie of one page that L0 emulated for L1.',
  tlbieLpid: 'tlbie of a whole partition (one lpid).',
  tlbieAll: 'tlbie of every nested partition.',
  rptRange: 'H_RPT_INVALIDATE ranges.',
  hostNotifier: 'MMU-notifier range invalidations of L1 memory (migration, swap-out).',
  shadowPtesRemoved: 'Shadow PTEs removed by any invalidation.',
  rmapEntriesWalked: 'Nested rmap entries walked to find shadow PTEs.',
  tlbFlushes: 'TLB entries flushed.',
  tlbShootdowns: 'Broadcast invalidations that waited for another vCPU to stop using a dropped entry.',
};

const ACTOR_DOCS: Readonly<Record<string, string>> = {
  migrations: 'Host page migrations of L1 memory.',
  swapOuts: 'Host swap-outs of L1 pages.',
  swapIns: 'Swapped-out L1 pages faulted back in.',
  ages: 'Page-aging passes (kvm_age_radix) over one L1 page.',
  harvests: 'Dirty-log harvests of the memslot.',
  harvestDirtyPages: 'Dirty pages those harvests found.',
  memslotFlushes: 'Memslot flushes (every dirty-logging switch flushes once; actors.host.memslotFlush flushes alone).',
  dirtyLogToggles: 'Dirty logging switched on or off (actors.host.dirtyLogToggle).',
  l1Unmaps: 'L1 unmapped an L2 page (and invalidated it).',
  l1Protects: 'L1 write-protected an L2 page.',
  l1Cleans: 'L1 cleared C of an L2 page (its own dirty log).',
  l1RangeFlushes: 'L1 H_RPT_INVALIDATE over a range.',
  l1LpidFlushes: 'L1 invalidated a whole nested partition.',
  l1Destroys: 'L1 destroyed its nested guest (recreated on the next entry).',
};

const LOCK = obj('One lock class.', { acquisitions: count('Acquisitions.'), contended: count('Acquisitions that had to wait.'), waitNs: count('Wall time spent waiting.', 'ns') });

const RUN_BODY: Record<string, Schema> = {
  run: obj('How the run went.', {
    seed: count('Seed of every random choice.', 'seed'),
    vcpus: { type: 'integer', minimum: 1, description: withUnit('Simulated L2 vCPUs.', 'count') },
    threads: { type: 'integer', minimum: 1, description: withUnit('Threads that ran them (key threads: vCPU v on thread v mod threads; auto under a cost model, a nested guest\'s vCPUs on one thread). Worker threads, except that a small run runs all its vCPUs on the coordinator\'s own. Since 1.6.0.', 'count') },
    durationMs: num('Measured time, which the rates divide by: from the start gate (every vCPU built) to the end; with a warm-up, the vCPUs\' mean time from their warm-up\'s end.', 'ms'),
    wallMs: num('Wall time of the whole run, setup and teardown included.', 'ms'),
    deadlineMs: nullable(num('The configured bound on the run in duration mode; null when bounded by accesses.', 'ms')),
    overranMs: count('How far past its deadline the run stopped (audits or actors running long).', 'ms'),
    endedInWarmup: bool('The run ended before some vCPU finished its warm-up (nothing was measured there).'),
    stoppedAtViolation: bool('The vCPUs were stopped at the first violation that fails the run (stress --fail-fast): the counts cover the run up to its verdict.'),
    trace: {
      description: 'The replayed memory trace (workload.trace), or null for the synthetic pattern.',
      oneOf: [
        { type: 'null' },
        obj('The trace.', {
          file: str('The trace file (absolute path).'),
          format: str('lackey (Valgrind) or nestsim (page-level).', { enum: ['lackey', 'nestsim'] }),
          records: count('Records after merging consecutive repeats.'),
          accesses: count('Accesses the records stand for, after workload.traceSkip and workload.traceLimit.'),
          distinctPages: count('Pages the program touched, at the guest base-page size.'),
          foldedPages: count('Of those, pages beyond the guest\'s room, folded onto earlier ones (0 when all fit).'),
        }),
      ],
    },
  }),
  throughput: obj('Rates over durationMs.', { accessesPerSec: num('Accesses per second.', '1/s'), faultsPerSec: num('Faults (every kind) per second.', '1/s') }),
  counts: obj('Event counts after warm-up.', {
    accesses: count('Accesses (L2 and L1 own).'),
    loads: count('Loads.'),
    stores: count('Stores.'),
    fetches: count('Instruction fetches.'),
    tlbHits: count('Accesses the TLB translated.'),
    tlbMisses: count('Accesses that walked.'),
    walkHits: count('Walks the page-walk cache shortened.'),
    faultsTotal: count('Every fault, whatever its outcome (the sum of faults).'),
    faults: counts('Faults by outcome.', FAULT_KIND_NAMES, (k) => FAULT_KIND_DOCS[k as keyof typeof FAULT_KIND_DOCS]),
    l1Handled: count('Faults reflected to L1 that L1 handled.'),
    writesCompleted: count('Stores that completed (the lost-write audit checks them).'),
    l1Accesses: count("Accesses of L1's own vCPUs to L1 memory (included in accesses)."),
    l1HwRcSets: count("R/C bits the hardware set in L0's table for L1 (hardware.l1Rc: auto)."),
  }),
  latencyNs: {
    type: 'object',
    description: 'One histogram per latency kind (sampled accesses, each fault kind, each stage of a fault).',
    required: [...LATENCY_KINDS],
    properties: Object.fromEntries(LATENCY_KINDS.map((k) => [k, ref('histogram')])),
    additionalProperties: ref('histogram'),
  },
  invalidations: counts(
    'Invalidations.',
    ['tlbiePage', 'tlbieLpid', 'tlbieAll', 'rptRange', 'hostNotifier', 'shadowPtesRemoved', 'rmapEntriesWalked', 'tlbFlushes', 'tlbShootdowns'],
    (k) => INVALIDATION_DOCS[k],
  ),
  locks: obj('Lock statistics.', { mmuLock: LOCK, tlbLock: LOCK }),
  checks: obj('What the checker found.', {
    violations: count('Invariant violations in all.'),
    byInvariant: tally('Violations per invariant.', INVARIANTS),
    byWindow: tally('Violations a window of the kernel as written produced (tagged by its code path), per window.', KERNEL_WINDOWS),
    unexplained: count('Violations no window explains: these fail the run (--strict fails on every violation).'),
    hostOom: count('Host page faults that found no memory (nested and L1 own).'),
    overcommit: bool('The config declares host overcommit expected (host.overcommit); if not, hostOom > 0 fails the run.'),
    audits: count('Stop-the-world audits run (the final one included).'),
    lostWrites: count('Stores the final audit found lost.'),
  }),
  actors: counts(
    'Actor events (host and L1 activity racing the vCPUs).',
    ['migrations', 'swapOuts', 'swapIns', 'ages', 'harvests', 'harvestDirtyPages', 'memslotFlushes', 'dirtyLogToggles', 'l1Unmaps', 'l1Protects', 'l1Cleans', 'l1RangeFlushes', 'l1LpidFlushes', 'l1Destroys'],
    (k) => ACTOR_DOCS[k],
  ),
  perVcpu: arr(
    'One entry per vCPU, in vCPU order.',
    obj('One vCPU.', {
      vcpu: count('vCPU number.', 'index'),
      accesses: count('Its accesses.'),
      faults: count('Its faults (every kind).'),
      tlbMisses: count('Its TLB misses.'),
      mmuLockWaitNs: count('Its wall time waiting for mmu_lock.', 'ns'),
    }),
  ),
  perL1: PER_L1,
  modeled: MODELED,
  schedule: SCHEDULE_OR_NULL('A controlled run\'s schedule (schedule.strategy), or null when the threads ran freely.'),
  violations: arr('The first 100 violations in detail.', ref('violation'), { maxItems: 100 }),
  timeSeries: obj('The run over time: one point per progress interval and one at the end.', {
    intervalMs: num('Spacing of the points (doubled, every other point dropped, when a long run would exceed 600 points); 0 when none were taken.', 'ms'),
    points: arr(
      'Cumulative counts at each point.',
      obj('One point.', {
        tMs: num('Time since the vCPUs started.', 'ms'),
        accesses: count('Accesses so far.'),
        faultsTotal: count('Faults so far.'),
        faults: counts('Faults so far by outcome (as counts.faults).', FAULT_KIND_NAMES, (k) => `${k} faults so far.`),
        violations: count('Violations so far.'),
        mmuLockWaitNs: count('mmu_lock wait so far.', 'ns'),
        tlbLockWaitNs: count('tlb_lock wait so far.', 'ns'),
        warmingUp: bool('Some vCPU was still warming up (its counts start over when it finishes).'),
      }),
    ),
  }),
};

const ROUND = obj('One stress round.', {
  round: count('Round number from 0.', 'index'),
  seed: count('Its seed (the first seed + round).', 'seed'),
  startMs: num('When it started, from the start of the campaign.', 'ms'),
  durationMs: num('Its measured time.', 'ms'),
  accesses: count('Its accesses.'),
  faults: count('Its faults.'),
  violations: count('Its violations.'),
  unexplained: count('Its violations no window explains.'),
  byInvariant: tally('Its violations per invariant.', INVARIANTS),
  byWindow: tally('Its violations per kernel window.', KERNEL_WINDOWS),
  exitStatus: EXIT,
  stoppedAtViolation: bool('Its vCPUs were stopped at its first failing violation (fail-fast).'),
  modeledNs: nullable(count('Its modeled duration (null without modeled time).', 'ns')),
  schedule: nullable(str('Under a controlled schedule, how it ended; null when the threads ran freely.', { enum: ['completed', 'deadlock', 'livelock', 'failed', null] })),
});

const ESTIMATE = (d: string, unit: string): Schema =>
  obj(d, {
    estimate: nullable(num('The expectation: rounds (times a round\'s mean time) over the share detecting; null when nothing was detected.', unit)),
    ci95: arr('Its 95% interval from the share\'s Wilson interval; an upper bound is null when the share\'s lower bound is 0.', nullable(num('A bound.', unit)), { minItems: 2, maxItems: 2 }),
  });
const DETECTION = obj('How often rounds detect a violation (fail, exit 1), and how long detecting takes: each round is an independent trial (docs/results.md).', {
  rounds: count('Rounds run.'),
  detected: count('Rounds that detected.'),
  share: num('detected / rounds.', 'fraction'),
  shareCi95: arr('Wilson 95% interval of the share.', num('A bound.', 'fraction'), { minItems: 2, maxItems: 2 }),
  roundsToDetect: ESTIMATE('Expected rounds to a first detection (geometric: 1 / share).', 'rounds'),
  wallMsToDetect: ESTIMATE('Expected wall time to a first detection (rounds times a round\'s mean measured time; an upper estimate under fail-fast).', 'ms'),
  modeledNsToDetect: { ...ESTIMATE('The same in modeled time; null when rounds ran without it.', 'ns'), type: ['object', 'null'] },
});

const REPLAY = arr('The arguments (after nestsim) of the run that rebuilds this config exactly: every --vcpus, --set, --fix, --mutation and --protocol.', { type: 'string' }, { minItems: 2 });

const STRESS_BODY: Record<string, Schema> = {
  stress: obj('The campaign.', {
    protocol: str('mainline or fixed.'),
    mutations: arr('Mutations applied.', { type: 'string' }),
    timeBudgetMs: nullable(num('--time when time-bounded, else null.', 'ms')),
    roundsRequested: nullable(count('--iterations when count-bounded, else null.')),
    strict: bool('Every violation counts (--strict), not only unexplained ones.'),
    failFast: bool('Stopped at the first failing violation, inside its round (--fail-fast; the default when a mutation is given).'),
    rounds: count('Rounds run.'),
    violatingRounds: count('Rounds with an unexplained violation (with strict, with any).'),
    windowRounds: count('Rounds in which a window of the kernel as written produced a violation.'),
    elapsedMs: num('Wall time of the campaign.', 'ms'),
    accesses: count('Accesses over all rounds.'),
    faults: count('Faults over all rounds.'),
  }),
  outcomes: {
    type: 'object',
    description: 'Per invariant: rounds clean, rounds violated, violations in all.',
    propertyNames: { enum: [...INVARIANTS] },
    additionalProperties: obj('One invariant.', { clean: count('Rounds without a violation of it.'), violated: count('Rounds with at least one.'), violations: count('Its violations over all rounds.') }),
  },
  rounds: arr('Every round, in order.', ROUND),
  detection: DETECTION,
  shard: shardSchema('rounds'),
  exploration: {
    description: 'Under schedule.strategy exhaustive: the preemption-bounded search (docs/schedules.md); null otherwise.',
    oneOf: [
      { type: 'null' },
      obj('The search.', {
        preemptionBound: count('schedule.preemptions: the most preemptions a schedule explored has.'),
        schedules: count('Schedules run (one per round).'),
        exhausted: bool('Every schedule within the bound was run (none was left when the campaign ended).'),
      }),
    ],
  },
  firstViolation: {
    description: 'The first violating round, or null.',
    oneOf: [
      { type: 'null' },
      obj('The first violating round.', {
        round: count('Its number.', 'index'),
        seed: count('Its seed.', 'seed'),
        atMs: num('When it ended, from the start of the campaign.', 'ms'),
        violations: arr('Its first records, unexplained first.', ref('violation'), { maxItems: 5 }),
        replay: REPLAY,
        replayLine: str('The same as one shell line, beginning with nestsim.'),
        schedule: SCHEDULE_OR_NULL('Under a controlled schedule: the round\'s schedule, the steps that led to the violation and the token that replays it; null when the threads ran freely.'),
      }),
    ],
  },
};

const SWEEP_BODY: Record<string, Schema> = {
  axes: arr('Each --set key=v1,v2,..., in order; the points are every combination, first axis slowest.', obj('One axis.', { key: str('The config key.'), values: arr('Its values as given.', { type: 'string' }, { minItems: 1 }) }), { minItems: 1 }),
  points: arr('One run per point of the grid, in grid order (fewer when interrupted).', {
    type: 'object',
    description: 'A point: its values, exit status, replay, then a run body.',
    allOf: [ref('runBody')],
    required: ['values', 'exitStatus', 'replay'],
    properties: {
      values: { type: 'object', description: 'The value of each axis at this point.', additionalProperties: { type: 'string' } },
      exitStatus: EXIT,
      replay: REPLAY,
    },
    unevaluatedProperties: false,
  }),
  shard: shardSchema('points'),
};

const body = (props: Record<string, Schema>, d: string): Schema => ({ type: 'object', description: d, required: Object.keys(props), properties: props });

/** The schema of every results document. */
export function resultsSchema(): Schema {
  const bodies = { run: 'runBody', stress: 'stressBody', sweep: 'sweepBody' } as const;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: `nestsim results document, schema ${SCHEMA_VERSION}`,
    description: 'Written by nestsim run, stress and sweep with --json. A header, then the body of its kind.',
    type: 'object',
    required: Object.keys(HEADER).filter((k) => k !== 'gitCommit'),
    properties: HEADER,
    allOf: DOCUMENT_KINDS.map((k) => ({ if: { type: 'object', properties: { kind: { const: k } }, required: ['kind'] }, then: ref(bodies[k]) })),
    unevaluatedProperties: false,
    $defs: {
      histogram: HISTOGRAM,
      violation: VIOLATION,
      runBody: body(RUN_BODY, 'What a run measured (a run document, and each sweep point).'),
      stressBody: body(STRESS_BODY, 'A stress campaign.'),
      sweepBody: body(SWEEP_BODY, 'A sweep.'),
    },
  };
}

/** The schema as the shipped file holds it. */
export function resultsSchemaText(): string {
  return JSON.stringify(resultsSchema(), null, 2) + '\n';
}
