#!/usr/bin/env node
/**
 * The `nestsim` command line (the README lists every command and option).
 *
 * Exit status: 0 finished with no violation; 1 an invariant was violated; 2 bad usage or config
 * (one line: file, line, key, expected, found); 3 an internal error (one line; the stack with
 * `--debug`); 130 interrupted by Ctrl-C (the partial results are still printed and written).
 *
 * Nothing a user asked for is lost: every output path is checked before the run starts, and
 * every output is written to a temporary file in the same directory, then renamed.
 */
import { ConfigError, applyOverrides, configKeyError } from './workload/config.js';
import { checkMachine, configFrom } from './cli/config-from.js';
import { describeKeys } from './workload/keys.js';
import { replayArgs } from './workload/overrides.js';
import { DURATION_EXAMPLES, parseDuration } from './workload/units.js';
import { ACCEPTS, COMMANDS, GLOBAL_OPTIONS, HELP, UsageError, last, parseArgs, type Command, type Parsed } from './cli/args.js';
import { applyThresholds, interruptOnSignal, outputsOf, stdoutTaken, useColor, writeDocument, writeOutput } from './cli/outputs.js';
import type { ResolvedConfig } from './workload/types.js';
import { EXIT_INTERRUPTED } from './util/exit.js';
import { renderTable } from './report/table.js';
import { renderSweep } from './report/sweep-table.js';
import { renderProgress, renderStartupProgress, renderStressProgress } from './report/progress.js';
import { toolVersion } from './stats/version.js';
import { staleCommandWarning } from './util/paths.js';
import { makeHeader, runBodyOf, type DocumentKind, type SweepDocument } from './stats/document.js';
import type { Threshold } from './stats/thresholds.js';

/** Exit status of an internal error (a bug in nestsim, not in the input). */
export const EXIT_INTERNAL = 3;

// ---- commands --------------------------------------------------------------------------------

async function cmdRun(p: Parsed): Promise<number> {
  const startedAt = new Date();
  const cfg = configFrom(p);
  const [json, html] = outputsOf(p, 'json', 'html');
  const quiet = p.flags.has('quiet');
  const text = stdoutTaken(json, html) ? process.stderr : process.stdout;
  const live = !quiet && process.stderr.isTTY === true;
  const thresholds = await thresholdsFor(cfg, 'run');
  // The engine (worker pool, machine) and the report load only for the commands that use them.
  const { runSimulation } = await import('./engine/run.js');
  const { signal, release } = interruptOnSignal();
  try {
    const out = await runSimulation(cfg, {
      signal,
      command: p.argv,
      startedAt,
      strict: p.flags.has('strict'),
      onProgress: live ? (s) => process.stderr.write('\r' + renderProgress(s) + '\x1b[K') : undefined,
      onStartup: live ? (ready, total, ms) => process.stderr.write('\r' + renderStartupProgress(ready, total, ms) + '\x1b[K') : undefined,
    });
    if (live) process.stderr.write('\r\x1b[K');
    if (!quiet) text.write(renderTable(out.doc, { color: useColor(p, text) }) + '\n');
    await applyThresholds(out.doc, thresholds, text, p);
    await writeDocument(json, html, out.doc);
    return out.doc.exitStatus;
  } finally {
    release();
  }
}

/**
 * The config's thresholds, checked against the schema of the `kind` document the command writes:
 * a path that names no number field is a config error (exit 2) before anything runs.
 */
async function thresholdsFor(cfg: ResolvedConfig, kind: DocumentKind): Promise<Threshold[]> {
  if (cfg.thresholds.length === 0) return [];
  const { checkThresholds } = await import('./report/thresholds.js');
  const { thresholds, problem } = checkThresholds(cfg.thresholds, kind);
  if (problem !== undefined) throw configKeyError(cfg, 'thresholds', `a threshold on a number field of the ${kind} document (docs/results.md lists them)`, `"${problem.expr}": ${problem.why}`);
  return thresholds;
}

async function cmdValidate(p: Parsed): Promise<number> {
  if (p.flags.has('keys')) {
    process.stdout.write(describeKeys() + '\n');
    return 0;
  }
  const [json] = outputsOf(p, 'json');
  const cfg = configFrom(p);
  await thresholdsFor(cfg, 'run');
  const resolved = JSON.stringify(cfg, null, 2) + '\n';
  if (json !== undefined) {
    writeOutput(json, resolved);
    if (json.path !== '-') process.stdout.write(`${cfg.file}: ok\n`);
  } else process.stdout.write(`${cfg.file}: ok\n${resolved}`);
  return 0;
}

/** One `--set key=v1,v2,...` of a sweep: its key and its values. */
interface SweepAxis {
  readonly key: string;
  readonly values: readonly string[];
}

function sweepAxis(s: string): SweepAxis {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set: expected key=v1,v2,..., found "${s}"`);
  const values = s.slice(eq + 1).split(',');
  if (values.some((v) => v.trim() === '')) throw new UsageError(`--set ${s}: expected a value between the commas, found an empty one`);
  return { key: s.slice(0, eq), values };
}

/** Every combination of the axes' values (the grid), first axis slowest. */
function grid(axes: readonly SweepAxis[]): string[][] {
  let out: string[][] = [[]];
  for (const a of axes) out = out.flatMap((prefix) => a.values.map((v) => [...prefix, v]));
  return out;
}

async function cmdSweep(p: Parsed): Promise<number> {
  const startedAt = new Date();
  const base = configFrom(p);
  const [json, html] = outputsOf(p, 'json', 'html');
  const sets = p.flags.get('set') ?? [];
  if (sets.length === 0) throw new UsageError('sweep: expected at least one --set key=v1,v2,..., found none');
  // Several --set make a grid; a --set with one value is a fixed override of every point.
  const axes = sets.map(sweepAxis);
  const points = grid(axes);
  // Every point is checked (keys and machine layout) before the first run.
  const configs = points.map((vals) => {
    const cfg = applyOverrides(base, Object.fromEntries(axes.map((a, k) => [a.key, vals[k]])), '--set');
    checkMachine(cfg);
    return cfg;
  });
  const shard = (await import('./cli/documents.js')).shardOf(p, process.env);
  const text = stdoutTaken(json, html) ? process.stderr : process.stdout;
  const thresholds = await thresholdsFor(base, 'sweep');
  const doc: SweepDocument = {
    ...makeHeader('sweep', base, p.argv, startedAt),
    axes: axes.map((a) => ({ key: a.key, values: [...a.values] })),
    points: [],
    shard: shard ?? null,
  };
  let worst = 0;
  const { runSimulation } = await import('./engine/run.js');
  const { signal, release } = interruptOnSignal();
  try {
    // A shard runs the points p with p % count == index; each point's config (its seed included)
    // is the grid's, so merged shards are the whole sweep.
    const mine = points.map((_, i) => i).filter((i) => shard === undefined || i % shard.count === shard.index);
    for (const [n, i] of mine.entries()) {
      if (signal.aborted) break;
      const out = await runSimulation(configs[i], { signal, strict: p.flags.has('strict') });
      worst = out.exitCode === EXIT_INTERRUPTED ? EXIT_INTERRUPTED : Math.max(worst, out.exitCode);
      const d = out.doc;
      doc.points.push({ values: Object.fromEntries(axes.map((a, k) => [a.key, points[i][k]])), exitStatus: out.exitCode, replay: replayArgs(configs[i]), ...runBodyOf(d) });
      if (!p.flags.has('quiet')) {
        process.stderr.write(`${axes.map((a, k) => `${a.key}=${points[i][k]}`).join(' ')}: done (${n + 1}/${mine.length}${shard !== undefined ? ` of shard ${shard.index}/${shard.count}` : ''})\n`);
      }
    }
  } finally {
    release();
  }
  text.write(renderSweep(doc) + '\n');
  doc.interrupted = signal.aborted;
  doc.exitStatus = signal.aborted ? EXIT_INTERRUPTED : worst;
  await applyThresholds(doc, thresholds, text, p);
  await writeDocument(json, html, doc);
  return doc.exitStatus;
}

async function cmdStress(p: Parsed): Promise<number> {
  const cfg = configFrom(p);
  const [json, html] = outputsOf(p, 'json', 'html');
  const time = last(p, 'time');
  const iterations = last(p, 'iterations');
  let timeMs = 10_000;
  if (time !== undefined) {
    const t = parseDuration(time);
    if (t === null || t < 1) throw new UsageError(`--time: expected a duration like ${DURATION_EXAMPLES}, found "${time}"`);
    timeMs = t;
  }
  let rounds = 0;
  if (iterations !== undefined) {
    rounds = Number(iterations);
    if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--iterations: expected an integer >= 1, found "${iterations}"`);
  }
  const quiet = p.flags.has('quiet');
  if (p.flags.has('fail-fast') && p.flags.has('no-fail-fast')) throw new UsageError('stress: expected one of --fail-fast and --no-fail-fast, found both');
  // With a mutation the question is whether it is caught: stop at the first catch unless told not to.
  const failFast = p.flags.has('fail-fast') || (cfg.mutations.length > 0 && !p.flags.has('no-fail-fast'));
  const shard = (await import('./cli/documents.js')).shardOf(p, process.env);
  if (shard !== undefined && rounds === 0) throw new UsageError(`--shard: expected a count-bounded campaign (--iterations R) to cut into shards, found a time-bounded one`);
  const text = stdoutTaken(json, html) ? process.stderr : process.stdout;
  const thresholds = await thresholdsFor(cfg, 'stress');
  // Start the workers first: they load the simulator while this thread loads the engine.
  const { makePool, threadsFor } = await import('./engine/pool.js');
  const pool = makePool(threadsFor(cfg, true));
  const { runStress, renderStress } = await import('./engine/stress.js');
  const { signal, release } = interruptOnSignal();
  try {
    const doc = await runStress(cfg, {
      timeMs,
      rounds,
      stopAtFirst: failFast,
      pool,
      signal,
      command: p.argv,
      strict: p.flags.has('strict'),
      ...(shard !== undefined ? { shard } : {}),
      onRound: quiet || process.stderr.isTTY !== true ? undefined : (r) => process.stderr.write(`\r${renderStressProgress(r)}\x1b[K`),
    });
    if (!quiet && process.stderr.isTTY === true) process.stderr.write('\r\x1b[K');
    text.write(renderStress(doc, { color: useColor(p, text), quiet }) + '\n');
    await applyThresholds(doc, thresholds, text, p);
    await writeDocument(json, html, doc);
    return doc.exitStatus;
  } finally {
    release();
  }
}

async function cmdTrace(p: Parsed): Promise<number> {
  if (p.file !== undefined) throw new UsageError(`trace: expected the command after --, found "${p.file}" before it`);
  if (p.rest.length === 0) throw new UsageError('trace: expected a command to trace after --, found none');
  const [output] = outputsOf(p, 'output');
  if (output === undefined || output.path === '-') throw new UsageError('trace: expected -o FILE (the trace to write), found none');
  const tlbText = last(p, 'tlb');
  const tlb = tlbText === undefined ? 0 : Number(tlbText);
  if (tlbText !== undefined && (!Number.isInteger(tlb) || tlb < 1 || tlb > 1 << 20)) throw new UsageError(`--tlb: expected a number of TLB entries 1..1048576, found "${tlbText}"`);
  const { recordTrace } = await import('./cli/trace-record.js');
  const s = await recordTrace(p.rest, output.path, tlb);
  if (!p.flags.has('quiet')) {
    process.stderr.write(
      `${output.path}: ${s.records.toLocaleString('en-US')} records for ${s.accesses.toLocaleString('en-US')} accesses` +
        (tlb > 0 ? ` (${s.tlbHits.toLocaleString('en-US')} TLB hits dropped)` : '') +
        `, ${s.distinctPages.toLocaleString('en-US')} distinct 4K pages, ${(s.accesses / Math.max(1, s.records)).toFixed(1)} accesses per record, ${s.bytes.toLocaleString('en-US')} bytes` +
        (s.exitCode !== 0 ? ` (the command exited ${s.exitCode})` : '') +
        '\n',
    );
  }
  return 0;
}

function isCommand(c: string): c is Command {
  return (COMMANDS as readonly string[]).includes(c);
}

async function dispatch(p: Parsed): Promise<number> {
  if (p.flags.has('version') || p.command === 'version') {
    process.stdout.write(`nestsim ${toolVersion()}\n`);
    return 0;
  }
  if (p.command === 'help') {
    const topic = p.file;
    if (topic === undefined) process.stdout.write(HELP.main.replace('{version}', toolVersion()) + '\n');
    else if (isCommand(topic)) process.stdout.write(HELP[topic] + '\n');
    else throw new UsageError(`help: expected one of ${COMMANDS.join(', ')}, found "${topic}"`);
    return 0;
  }
  if (p.command === '') {
    process.stdout.write(HELP.main.replace('{version}', toolVersion()) + '\n');
    return p.flags.has('help') ? 0 : 2;
  }
  if (!isCommand(p.command)) throw new UsageError(`unknown command "${p.command}" (expected run, stress, validate, sweep, trace, timings, compare, merge or replay)`);
  if (p.flags.has('help')) {
    process.stdout.write(HELP[p.command] + '\n');
    return 0;
  }
  for (const name of p.flags.keys()) {
    if (!ACCEPTS[p.command].has(name) && !GLOBAL_OPTIONS.has(name)) {
      throw new UsageError(`${p.command}: expected one of its options (nestsim help ${p.command}), found --${name}, which ${p.command} does not take`);
    }
  }
  switch (p.command) {
    case 'run':
      return await cmdRun(p);
    case 'validate':
      return await cmdValidate(p);
    case 'sweep':
      return await cmdSweep(p);
    case 'stress':
      return await cmdStress(p);
    case 'trace':
      return await cmdTrace(p);
    case 'timings':
      return await (await import('./cli/documents.js')).cmdTimings(p);
    case 'compare':
      return await (await import('./cli/documents.js')).cmdCompare(p);
    case 'merge':
      return await (await import('./cli/documents.js')).cmdMerge(p);
    case 'replay':
      return await (await import('./cli/replay.js')).cmdReplay(p);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let debug = argv.includes('--debug');
  const stale = process.argv[1] !== undefined ? staleCommandWarning(process.argv[1]) : undefined;
  if (stale !== undefined) process.stderr.write(`${stale}\n`);
  try {
    const p = parseArgs(argv);
    debug = p.flags.has('debug');
    return await dispatch(p);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UsageError) {
      process.stderr.write(`nestsim: ${e.message}\n`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(
      debug ? `nestsim: internal error: ${err.stack ?? err.message}\n` : `nestsim: internal error: ${err.name}: ${err.message.split('\n')[0]} (run again with --debug for the stack)\n`,
    );
    return EXIT_INTERNAL;
  }
}

const invokedDirectly = (process.argv[1] !== undefined && /cli\.(js|ts)$/.test(process.argv[1])) || process.argv[1]?.endsWith('/nestsim');
if (invokedDirectly) {
  // Should the event loop ever drain with the command unfinished (a worker thread lost, a wait no
  // one ends), say so and fail rather than exit 0 in silence.
  let done = false;
  process.exitCode = EXIT_INTERNAL;
  process.once('beforeExit', () => {
    if (!done) process.stderr.write('nestsim: internal error: the command stopped before it finished (nothing was left to wait for)\n');
  });
  main(process.argv.slice(2)).then(
    (code) => {
      done = true;
      process.exitCode = code;
    },
    (e: unknown) => {
      done = true;
      process.stderr.write(`nestsim: internal error: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = EXIT_INTERNAL;
    },
  );
}
