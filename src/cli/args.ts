/**
 * The command line's vocabulary: commands, the options each accepts, help texts, and the parser
 * (`--opt value` and `--opt=value` for every option; an option that needs a value refuses a
 * following option).
 */
import { DURATION_EXAMPLES } from '../workload/units.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export const COMMANDS = ['run', 'stress', 'validate', 'sweep', 'trace', 'timings', 'compare', 'merge', 'replay'] as const;
export type Command = (typeof COMMANDS)[number];

/** Options that take a value, and what the value is (for the "expected ..." of a missing one). */
const VALUE_OPTIONS: Readonly<Record<string, string>> = {
  vcpus: 'a number of vCPUs',
  duration: `a duration like ${DURATION_EXAMPLES}`,
  accesses: 'a number of accesses',
  seed: 'a seed',
  protocol: 'mainline or fixed',
  fix: 'a window (p1..p6)',
  mutation: 'a mutation name',
  set: 'key=value',
  json: 'a file name (or - for stdout)',
  html: 'a file name (or - for stdout)',
  time: `a duration like ${DURATION_EXAMPLES}`,
  iterations: 'a number of rounds',
  output: 'a file name',
  tlb: 'a number of TLB entries',
  level: 'l0 or l1',
  threshold: 'a threshold like "latencyNs.shadowInsert.p99 < 10us"',
  alpha: 'a significance level like 0.05',
  shard: 'a shard i/N (0-based)',
  shards: 'a number of shards',
  host: "a host's timings file",
  schedule: 'a schedule: free, random, pct, pct:DEPTH, modeled or exhaustive:BOUND',
  budget: 'a number of runs',
};
const BOOL_OPTIONS = new Set(['shrink', 'quiet', 'no-color', 'help', 'keys', 'debug', 'version', 'strict', 'fail-fast', 'no-fail-fast', 'markdown', 'allow-mixed']);

/** The options each command accepts; any other is refused (never silently ignored). */
export const ACCEPTS: Readonly<Record<Command, ReadonlySet<string>>> = {
  run: new Set(['vcpus', 'duration', 'accesses', 'seed', 'protocol', 'fix', 'mutation', 'set', 'json', 'html', 'quiet', 'no-color', 'strict', 'threshold', 'schedule']),
  stress: new Set(['vcpus', 'seed', 'protocol', 'fix', 'mutation', 'set', 'json', 'html', 'time', 'iterations', 'quiet', 'no-color', 'strict', 'fail-fast', 'no-fail-fast', 'threshold', 'shard', 'shards', 'schedule']),
  validate: new Set(['vcpus', 'duration', 'accesses', 'seed', 'protocol', 'fix', 'mutation', 'set', 'json', 'keys', 'threshold', 'schedule']),
  sweep: new Set(['vcpus', 'duration', 'accesses', 'seed', 'protocol', 'fix', 'mutation', 'set', 'json', 'html', 'quiet', 'strict', 'threshold', 'schedule', 'shard', 'shards']),
  trace: new Set(['output', 'tlb', 'quiet']),
  timings: new Set(['level', 'host', 'output']),
  compare: new Set(['markdown', 'alpha']),
  merge: new Set(['json', 'html', 'allow-mixed', 'quiet', 'threshold']),
  replay: new Set(['json', 'html', 'quiet', 'no-color', 'shrink', 'budget', 'output']),
};
/** Options every command takes. */
export const GLOBAL_OPTIONS = new Set(['help', 'debug', 'version']);

export const HELP: Record<'main' | Command, string> = {
  main: `nestsim ${'{version}'} - simulator of the POWER (Book3S HV, radix) nested-guest page-fault path

Usage:
  nestsim run <config.yaml> [options]       run a workload, print statistics
  nestsim stress <config.yaml> [options]    many short racy rounds; exit 1 on any violation
  nestsim validate <config.yaml> [options]  check a config (as run would) and print it resolved
  nestsim sweep <config.yaml> --set key=v1,v2,... [options]
  nestsim trace -o FILE [--tlb N] -- <command...>   record a program's memory trace (Valgrind)
  nestsim timings <run.json> [--level l0|l1] [--host FILE]   modeled time as KVM's debugfs timings
  nestsim compare <base.json...> -- <new.json...> [--markdown]   per-figure deltas with their uncertainty
  nestsim merge <shard.json|dir>... [--json FILE] [--html FILE]   the shards of a stress or sweep campaign, merged
  nestsim replay <token|file>               rerun a controlled schedule exactly, from its token
  nestsim help <command>                    options of a command (also: nestsim <command> --help)
  nestsim --version                         the version (also -V)

Options take their value as --opt value or --opt=value. --debug prints the stack of an
internal error.

Exit status: 0 clean (violations a window of the kernel as written produced are reported as
reproduced, not failures; --strict fails on them), 1 an unexplained violation, 2 bad usage or
config, 3 internal error, 130 interrupted (Ctrl-C; the results so far are printed and written).`,
  replay: `Usage: nestsim replay <token|file> [options]

  Reruns a controlled schedule (--schedule random|pct[:D]|modeled) from its token, as a stress
  report or a run document gives it (firstViolation.schedule.token, schedule.token), or from a
  file holding the token or such a document. Says whether the replay reproduced the first
  violation the token records and, for a token with its list of choices (choicesToken), the
  first decision it could no longer follow. Exit 0 reproduced, 1 not.

  --shrink              search for a smaller run that still violates the same invariant (fewer
                        accesses, vCPUs, actors, preemptions) and print its token
  --budget N            at most N runs for --shrink (default 150)
  -o, --output FILE     --shrink: write the shrunk run's token to FILE (nestsim replay FILE replays it)

  --json FILE           write the replay's run document; - for stdout
  --html FILE           write its HTML report
  --quiet               no timeline
  --no-color            plain text`,
  merge: `Usage: nestsim merge <shard.json|dir>... [options]

  The shards of a campaign merged into the document the whole campaign would have written: of a
  count-bounded stress campaign (stress --iterations R --shard i/N), rounds join in order, counts
  and outcome tables add, detection is recomputed; of a sweep (sweep ... --shard i/N), the points
  join in grid order. Names the shards missing (their rounds or points are absent) and refuses a
  shard present twice, another config or grid, another major schema version or another git
  commit.

  --json FILE           write the merged document; - for stdout
  --html FILE           write its HTML report
  --allow-mixed         merge documents of different configs or commits anyway
  --threshold EXPR      judge the merged document (repeatable), beside the thresholds the shards'
                        config gave, which are judged again on the whole: any failure exits 1
  --quiet               only the summary line`,
  compare: `Usage: nestsim compare <base.json|dir>... -- <new.json|dir>... [options]

  Did a change make the fault path slower, or catch races later? Each figure's change from the
  base documents to the new ones, with its uncertainty. Run documents: one value per document,
  Welch's t-test on the means (2 or more documents a side). Stress documents: one value per
  round, the Mann-Whitney U test on the distributions. p-values are Holm-adjusted over the
  figures tested; a change is called at --alpha (default 0.05).

  --markdown            a Markdown table instead of the terminal one
  --alpha A             significance level, 0 < A < 1`,
  timings: `Usage: nestsim timings <run.json> [options]

  A run's modeled time in the layout of KVM's per-vCPU debugfs timings file on POWER
  (CONFIG_KVM_BOOK3S_HV_P9_TIMING: "name: count total min max", ns), for an average vCPU of the
  run. docs/cost-model.md maps nestsim's events to each category.

  --level L             l0: L0's view of the L1 vCPU running H_ENTER_NESTED (default);
                        l1: the L1 hypervisor's view of its L2 vCPU
  --host FILE           a timings file from a real host: print both side by side instead
  -o, --output FILE     write the timings there instead of stdout`,
  run: `Usage: nestsim run <config.yaml> [options]

  --vcpus N             simulated L2 vCPUs (worker threads)
  --duration D          run length with a unit, e.g. 5s, 500ms, 2m (bounds warm-up, audits and actors too)
  --accesses N          accesses per vCPU (deterministic with --vcpus 1 and --seed); 0 = run for the duration
  --seed N              seed of every random choice
  --protocol P          mainline (the kernel as written) or fixed (windows P1-P6 closed)
  --fix P               close one window (p1..p6); repeatable
  --mutation NAME       remove one protection (see nestsim validate --keys); repeatable
  --set key=value       any config key, e.g. --set workload.pattern=zipf; repeatable
  --schedule S          free (default), or run the vCPUs one at a time between named schedule points,
                        the next chosen by S: random, pct[:DEPTH] (PCT priorities) or modeled (the
                        lowest modeled clock); a controlled run replays exactly (nestsim replay)
  --json FILE           write the results document (JSON, schema/results.schema.json); - writes it to
                        stdout (the table goes to stderr)
  --html FILE           write the HTML report (latency CDFs, rates over time, per vCPU); - for stdout
  --quiet               no progress line and no table
  --no-color            plain text
  --strict              exit 1 on violations from windows of the kernel as written too

  Ctrl-C stops at the next safe point, runs the final audit, prints and writes the results so far
  (marked interrupted) and exits 130; a second Ctrl-C aborts at once.`,
  stress: `Usage: nestsim stress <config.yaml> [options]

  --time D              stop starting rounds after this long, with a unit (default 10s)
  --iterations N        run exactly N rounds (count-bounded)
  --seed N              first round's seed (round k uses seed + k)
  --vcpus N, --protocol P, --fix P, --mutation NAME, --set key=value, --schedule S   as for run;
                        under a controlled schedule the first violation prints its timeline and
                        the token that replays it (nestsim replay TOKEN)
  --json FILE           write the stress document (JSON: every round, the first violation and the
                        run that replays it); - for stdout
  --html FILE           write the HTML report (outcomes per invariant, rounds over time); - for stdout
  --quiet               only the summary line
  --strict              count rounds with only kernel-window violations as violating too
  --fail-fast           stop at the first violation that fails a round, inside that round, and
                        run no other: the verdict in a blink (the default when a mutation is given)
  --no-fail-fast        run every round (--iterations or --time) even after a violation
  --shard i/N           run shard i (from 0) of N of an --iterations campaign: rounds r with r % N == i
                        (seeds come from the rounds, so merged shards equal the whole campaign); without
                        it, a Slurm array task (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of
                        SLURM_ARRAY_TASK_COUNT) or a Kubernetes indexed job (JOB_COMPLETION_INDEX, with
                        --shards N) is used
  --shards N            the shard count for JOB_COMPLETION_INDEX

  Ctrl-C stops the round in progress and prints the summary so far, exit 130.`,
  validate: `Usage: nestsim validate <config.yaml> [options]

  Checks the config exactly as run does (every key, and whether the machine can be laid out for
  it) and prints it with every default filled in (JSON).
  --vcpus N, --duration D, --accesses N, --seed N, --protocol P, --fix P, --mutation NAME,
  --set key=value       overrides, as for run
  --json FILE           write the resolved config to FILE instead of stdout
  --keys                print the reference of every config key instead`,
  sweep: `Usage: nestsim sweep <config.yaml> --set key=v1,v2,... [--set key2=w1,w2,...] [options]

  Runs the workload once per point of the grid (every combination of the --set values; a --set
  with one value applies to every point) and prints throughput and latency per point. Every
  point is checked before the first run.
  --json FILE           write the sweep document (JSON: the axes and one run body per point); - for stdout
  --html FILE           write the HTML report (each figure against the swept keys); - for stdout
  --quiet               no per-value progress
  --shard i/N           run shard i (from 0) of N of the grid: points p with p % N == i, in grid
                        order (nestsim merge joins the shards); or from a Slurm array task or a
                        Kubernetes indexed job with --shards N, as for stress
  --shards N            the shard count for JOB_COMPLETION_INDEX
  Other options as for run.`,
  trace: `Usage: nestsim trace -o FILE [--tlb N] -- <command...>

  Runs the command under Valgrind lackey (valgrind --tool=lackey --trace-mem=yes) and writes its
  memory accesses as a nestsim page-level trace (docs/traces.md) for workload.trace: one record
  per run of accesses of one type to one 4K page. FILE ending in .gz is gzip'd.
  -o, --output FILE     the trace to write (checked before the command runs)
  --tlb N               drop the accesses a fully associative LRU TLB of N pages would hit
  --quiet               no summary line`,
};

export interface Parsed {
  /** The arguments as given (after `nestsim`). */
  argv: readonly string[];
  command: string;
  /** Everything after `--` (the program `nestsim trace` runs). */
  rest: readonly string[];
  file?: string;
  /** Positional arguments after the first (only `compare` takes them: its base documents). */
  more: readonly string[];
  flags: Map<string, string[]>;
}

/**
 * Parses argv: `--opt value` and `--opt=value` for every option; an option that needs a value
 * refuses a following option (`--json --quiet` is a mistake, not a file named --quiet).
 */
export function parseArgs(argv: readonly string[]): Parsed {
  const flags = new Map<string, string[]>();
  let command = '';
  let file: string | undefined;
  let rest: string[] = [];
  const more: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (a === '-o') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('-')) throw new UsageError(`-o: expected a file name, found ${value === undefined ? 'the end of the command line' : `the option ${value}`}`);
      flags.set('output', [...(flags.get('output') ?? []), value]);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      let value = eq < 0 ? undefined : a.slice(eq + 1);
      if (BOOL_OPTIONS.has(name)) {
        if (value !== undefined) throw new UsageError(`--${name}: expected no value, found "${value}"`);
        flags.set(name, ['true']);
        continue;
      }
      const what = VALUE_OPTIONS[name];
      if (what === undefined) throw new UsageError(`unknown option --${name} (nestsim help ${command || 'run'} lists the options)`);
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`--${name}: expected ${what}, found the end of the command line`);
        if (value.startsWith('--')) throw new UsageError(`--${name}: expected ${what}, found the option ${value}`);
      }
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else if (a === '-h') flags.set('help', ['true']);
    else if (a === '-V') flags.set('version', ['true']);
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a} (options are spelled --name)`);
    else if (command === '') command = a;
    else if (file === undefined) file = a;
    else if (command === 'compare' || command === 'merge') more.push(a);
    else throw new UsageError(`unexpected argument "${a}"`);
  }
  return { argv: [...argv], command, file, more, flags, rest };
}

export function last(p: Parsed, name: string): string | undefined {
  return p.flags.get(name)?.at(-1);
}
