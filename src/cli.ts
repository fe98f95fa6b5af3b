#!/usr/bin/env node
/**
 * The `nestsim` command line (the README lists every command and option).
 * Exit status: 0 finished with no violation; 1 an invariant was violated; 2 bad usage or config.
 */
import { writeFileSync } from 'node:fs';
import { ConfigError, applyOverrides, loadConfig } from './workload/config.js';
import { describeKeys } from './workload/keys.js';
import type { ResolvedConfig } from './workload/types.js';
import { runSimulation } from './engine/run.js';
import { renderProgress, renderTable } from './report/table.js';
import { renderHtml } from './report/html.js';
import { runStress, renderStress } from './engine/stress.js';
import { toolVersion } from './stats/results.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

const HELP: Record<string, string> = {
  main: `nestsim ${'{version}'} - simulator of the POWER (Book3S HV, radix) nested-guest page-fault path

Usage:
  nestsim run <config.yaml> [options]       run a workload, print statistics
  nestsim stress <config.yaml> [options]    many short racy rounds; exit 1 on any violation
  nestsim validate <config.yaml> [--keys]   check a config and print it resolved
  nestsim sweep <config.yaml> --set key=v1,v2,... [options]
  nestsim <command> --help                  options of a command

Exit status: 0 clean, 1 an invariant was violated, 2 bad usage or config.`,
  run: `Usage: nestsim run <config.yaml> [options]

  --vcpus N             simulated L2 vCPUs (worker threads)
  --duration S          run length, e.g. 5s, 500ms (ignored with --accesses)
  --accesses N          accesses per vCPU (deterministic with --vcpus 1 and --seed)
  --seed N              seed of every random choice
  --protocol P          mainline (the kernel as written) or fixed (windows P1-P5 closed)
  --fix P               close one window (p1..p5); repeatable
  --mutation NAME       remove one protection (see nestsim validate --keys); repeatable
  --set key=value       any config key, e.g. --set workload.pattern=zipf; repeatable
  --json FILE           write the results document (JSON)
  --html FILE           write an HTML report
  --quiet               no progress line and no table
  --no-color            plain text`,
  stress: `Usage: nestsim stress <config.yaml> [options]

  --time S              stop starting rounds after this long (default 10s)
  --iterations N        run exactly N rounds (count-bounded)
  --seed N              first round's seed (round k uses seed + k)
  --protocol P, --fix P, --mutation NAME, --set key=value   as for run
  --json FILE           write the stress report (JSON)
  --quiet               only the summary line`,
  validate: `Usage: nestsim validate <config.yaml> [--keys]

  Checks the config and prints it with every default filled in (JSON).
  --keys                print the reference of every config key instead`,
  sweep: `Usage: nestsim sweep <config.yaml> --set key=v1,v2,... [options]

  Runs the workload once per value and prints throughput and latency per value.
  --json FILE           write all results documents (JSON array)
  Other options as for run.`,
};

interface Parsed {
  command: string;
  file?: string;
  flags: Map<string, string[]>;
}

const VALUE_FLAGS = new Set(['vcpus', 'duration', 'accesses', 'seed', 'protocol', 'fix', 'mutation', 'set', 'json', 'html', 'time', 'iterations']);
const BOOL_FLAGS = new Set(['quiet', 'no-color', 'help', 'keys']);

export function parseArgs(argv: readonly string[]): Parsed {
  const flags = new Map<string, string[]>();
  let command = '';
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      let name = a.slice(2);
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0 && name !== 'set') {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      if (BOOL_FLAGS.has(name)) {
        flags.set(name, ['true']);
        continue;
      }
      if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown option --${name} (nestsim ${command || ''} --help lists them)`.replace('  ', ' '));
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`--${name}: expected a value, found the end of the command line`);
      }
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else if (a === '-h') flags.set('help', ['true']);
    else if (command === '') command = a;
    else if (file === undefined) file = a;
    else throw new UsageError(`unexpected argument "${a}"`);
  }
  return { command, file, flags };
}

/** Config with the command-line overrides applied. */
function configFrom(p: Parsed): ResolvedConfig {
  if (p.file === undefined) throw new UsageError(`${p.command}: expected a config file, found none (try configs/default.yaml)`);
  let cfg = loadConfig(p.file);
  const o: Record<string, string | string[]> = {};
  for (const k of ['vcpus', 'duration', 'accesses', 'seed', 'protocol'] as const) {
    const v = p.flags.get(k);
    if (v) o[k] = v[v.length - 1];
  }
  if (p.flags.has('accesses') && !p.flags.has('duration')) o.duration = '24h';
  if (p.flags.has('duration') && !p.flags.has('accesses')) o.accesses = '0';
  if (p.flags.has('mutation')) o.mutation = p.flags.get('mutation')!;
  if (p.flags.has('fix')) o.fix = p.flags.get('fix')!;
  if (Object.keys(o).length > 0) cfg = applyOverrides(cfg, o);
  const sets: Record<string, string> = {};
  for (const s of p.flags.get('set') ?? []) {
    if (p.command === 'sweep') continue;
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: expected key=value, found "${s}"`);
    sets[s.slice(0, eq)] = s.slice(eq + 1);
  }
  if (Object.keys(sets).length > 0) cfg = applyOverrides(cfg, sets, '--set');
  return cfg;
}

function useColor(p: Parsed): boolean {
  return !p.flags.has('no-color') && process.env.NO_COLOR === undefined && process.stdout.isTTY === true;
}

async function cmdRun(p: Parsed): Promise<number> {
  const cfg = configFrom(p);
  const quiet = p.flags.has('quiet');
  const live = !quiet && process.stderr.isTTY === true;
  const out = await runSimulation(cfg, {
    onProgress: live ? (s) => process.stderr.write('\r' + renderProgress(s) + '\x1b[K') : undefined,
  });
  if (live) process.stderr.write('\r\x1b[K');
  const json = p.flags.get('json')?.at(-1);
  if (json) writeFileSync(json, JSON.stringify(out.doc, null, 2) + '\n');
  const html = p.flags.get('html')?.at(-1);
  if (html) writeFileSync(html, renderHtml(out.doc));
  if (!quiet) process.stdout.write(renderTable(out.doc, { color: useColor(p) }) + '\n');
  return out.exitCode;
}

function cmdValidate(p: Parsed): number {
  if (p.flags.has('keys')) {
    process.stdout.write(describeKeys() + '\n');
    return 0;
  }
  const cfg = configFrom(p);
  process.stdout.write(`${cfg.file}: ok\n${JSON.stringify(cfg, null, 2)}\n`);
  return 0;
}

async function cmdSweep(p: Parsed): Promise<number> {
  const base = configFrom(p);
  const sets = p.flags.get('set') ?? [];
  if (sets.length !== 1) throw new UsageError(`sweep: expected exactly one --set key=v1,v2,..., found ${sets.length}`);
  const s = sets[0];
  const eq = s.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set: expected key=v1,v2,..., found "${s}"`);
  const key = s.slice(0, eq);
  const values = s.slice(eq + 1).split(',');
  const docs = [];
  let worst = 0;
  const rows: string[] = [`${key.padEnd(24)} ${'accesses/s'.padStart(14)} ${'faults/s'.padStart(14)} ${'fault p50'.padStart(10)} ${'fault p99'.padStart(10)} ${'violations'.padStart(10)}`];
  for (const v of values) {
    const cfg = applyOverrides(base, { [key]: v }, '--set');
    const out = await runSimulation(cfg);
    docs.push(out.doc);
    worst = Math.max(worst, out.exitCode);
    const d = out.doc;
    const lat = d.latencyNs.shadowInsert;
    rows.push(
      `${v.padEnd(24)} ${Math.round(d.throughput.accessesPerSec).toLocaleString('en-US').padStart(14)} ${Math.round(d.throughput.faultsPerSec).toLocaleString('en-US').padStart(14)} ${String(lat.p50).padStart(8)}ns ${String(lat.p99).padStart(8)}ns ${String(d.checks.violations).padStart(10)}`,
    );
    if (!p.flags.has('quiet')) process.stderr.write(`${key}=${v}: done\n`);
  }
  const json = p.flags.get('json')?.at(-1);
  if (json) writeFileSync(json, JSON.stringify(docs, null, 2) + '\n');
  process.stdout.write(rows.join('\n') + '\n');
  return worst;
}

async function cmdStress(p: Parsed): Promise<number> {
  const cfg = configFrom(p);
  const time = p.flags.get('time')?.at(-1);
  const iterations = p.flags.get('iterations')?.at(-1);
  let timeMs = 10_000;
  if (time !== undefined) {
    const t = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(time);
    if (!t) throw new UsageError(`--time: expected a duration such as 10 or 10s, found "${time}"`);
    timeMs = Number(t[1]) * (t[2] === 'ms' ? 1 : 1000);
  }
  let rounds = 0;
  if (iterations !== undefined) {
    rounds = Number(iterations);
    if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--iterations: expected an integer >= 1, found "${iterations}"`);
  }
  const quiet = p.flags.has('quiet');
  const report = await runStress(cfg, {
    timeMs,
    rounds,
    onRound: quiet || process.stderr.isTTY !== true ? undefined : (r) => process.stderr.write(`\rround ${r.round} (seed ${r.seed}): ${r.violations} violations\x1b[K`),
  });
  if (!quiet && process.stderr.isTTY === true) process.stderr.write('\r\x1b[K');
  const json = p.flags.get('json')?.at(-1);
  if (json) writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(renderStress(report, { color: useColor(p), quiet }) + '\n');
  return report.violatingRounds > 0 ? 1 : 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const p = parseArgs(argv);
    if (p.command === '' || p.command === 'help' || (p.command === '' && p.flags.has('help'))) {
      process.stdout.write(HELP.main!.replace('{version}', toolVersion()) + '\n');
      return p.command === '' && !p.flags.has('help') ? 2 : 0;
    }
    if (p.command === '--version' || p.command === 'version') {
      process.stdout.write(toolVersion() + '\n');
      return 0;
    }
    const help = HELP[p.command];
    if (help === undefined || p.command === 'main') {
      throw new UsageError(`unknown command "${p.command}" (expected run, stress, validate or sweep)`);
    }
    if (p.flags.has('help')) {
      process.stdout.write(help + '\n');
      return 0;
    }
    switch (p.command) {
      case 'run':
        return await cmdRun(p);
      case 'validate':
        return cmdValidate(p);
      case 'sweep':
        return await cmdSweep(p);
      case 'stress':
        return await cmdStress(p);
    }
    return 2;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof UsageError) {
      process.stderr.write(`nestsim: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /cli\.(js|ts)$/.test(process.argv[1]) || process.argv[1]?.endsWith('/nestsim');
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`nestsim: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 3;
    },
  );
}
