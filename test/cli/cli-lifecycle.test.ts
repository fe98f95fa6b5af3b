/**
 * The run lifecycle as a user meets it on the built CLI: what validation catches (everything run
 * would refuse), outputs checked before the run and written whole, Ctrl-C keeping the results,
 * bounded runs, one time vocabulary, and a suite of bad inputs that each exit 2 with one line
 * naming what was expected and what was found, never a stack trace. Assertions are on what the
 * run records (counts, deadlines, exit codes), never on wall time measured here.
 */
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaProblems } from '../helpers/schema.js';

import { CLI } from '../helpers/cli.js';
const CONFIGS = join(__dirname, '..', '..', 'configs');
const DEFAULT = join(CONFIGS, 'default.yaml');
const tmp = mkdtempSync(join(tmpdir(), 'nestsim-life-'));

function nestsim(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A config file in the temporary directory. */
function config(name: string, yaml: string): string {
  const f = join(tmp, name);
  writeFileSync(f, yaml);
  return f;
}

/** A small, quick workload: one vCPU, small memories. */
const SMALL = 'seed: 1\nvcpus: 1\nguests: {count: 1, memory: 16M}\nl1: {memory: 256M}\nhost: {memory: 512M}\nworkload: {workingSet: 1M}\n';

/** exit 2, exactly one line on stderr, no stack trace. */
function expectUsage(r: { code: number; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('validate = run', () => {
  it('16 nested guests of 64G: validate refuses it at the key, as run does (was: validate ok, run exit 3 with a stack)', () => {
    const f = config('big.yaml', 'guests: {count: 16, memory: 64G}\nl1: {memory: 2G}\n');
    const v = nestsim('validate', f);
    expectUsage(v, /big\.yaml:\d+:\d+: l1\.memory: expected at least \d+[MG]: L1's page tables for 16 nested guest\(s\) of 64G take .*, found 2G/);
    const r = nestsim('run', f, '--quiet');
    expectUsage(r, /l1\.memory: expected at least/);
    expect(r.stderr).toBe(v.stderr);
  });

  it('a machine over 4G of shared memory is a config error naming guests.count', () => {
    const r = nestsim('validate', DEFAULT, '--set', 'guests.count=4096', '--set', 'guests.memory=1G', '--set', 'l1.memory=16G');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nestsim: --set: guests\.count: expected a machine within 4G of shared memory \(this one needs \d+M: 4096 nested guest\(s\) of 1G each reserve their tables, grants and rmap nodes\), found 4096\n$/);
  });
});

describe('outputs: checked before the run, written whole', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['/proc', '/proc/nestsim.json', /--json \/proc\/nestsim\.json: expected a file that can be written, found a directory where no file can be created/],
    ['a directory', tmp, /found a directory$/m],
    ['a missing directory', join(tmp, 'no', 'such', 'x.json'), /found no directory/],
    ['a path under a regular file (ENOTDIR)', join(tmp, 'big.yaml', 'x.json'), /found a path under a file that is not a directory/],
  ];
  it.each(refused)('--json into %s -> exit 2 before running (was: the finished run discarded, exit 3)', (_what, path, pattern) => {
    config('big.yaml', 'guests: {count: 1}\n');
    const r = nestsim('run', config('small.yaml', SMALL), '--accesses', '100000000', '--json', path, '--quiet');
    expectUsage(r, pattern);
  });

  it('--json --quiet: the option is not taken as the file name (was: a file named --quiet)', () => {
    const r = nestsim('run', DEFAULT, '--json', '--quiet');
    expectUsage(r, /--json: expected a file name \(or - for stdout\), found the option --quiet/);
    expect(existsSync('--quiet')).toBe(false);
  });

  it('--json - writes the document to stdout and the table to stderr (was: a file named -)', () => {
    const r = nestsim('run', config('small.yaml', SMALL), '--accesses', '2000', '--json', '-');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(schemaProblems(doc)).toEqual([]);
    expect(doc.counts.accesses).toBe(2000);
    expect(r.stderr).toContain('Throughput');
  });

  it('--opt=value works for every option, and the output is written whole (no temporary file left)', () => {
    const dir = join(tmp, 'out');
    mkdirSync(dir, { recursive: true });
    const out = join(dir, 'r.json');
    const r = nestsim('run', config('small.yaml', SMALL), '--vcpus=1', '--accesses=3000', '--seed=7', `--json=${out}`, `--html=${join(dir, 'r.html')}`, '--quiet');
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect([doc.counts.accesses, doc.run.seed]).toEqual([3000, 7]);
    expect(readdirSync(dir).sort()).toEqual(['r.html', 'r.json']);
  });

  it('validate --json writes the resolved config (was: silently ignored)', () => {
    const out = join(tmp, 'resolved.json');
    const r = nestsim('validate', DEFAULT, '--json', out);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).vcpus).toBe(2);
  });

  it.each([
    ['validate', '--html'],
    ['validate', '--quiet'],
  ])('%s %s is refused, not silently ignored', (cmd, opt) => {
    const r = nestsim(cmd, DEFAULT, opt, ...(opt === '--quiet' ? [] : ['x.html']));
    expectUsage(r, new RegExp(`${cmd}: expected one of its options \\(nestsim help ${cmd}\\), found ${opt}, which ${cmd} does not take`));
  });
});

/** Start a command, send `sig` `signals` times once it has run ~1.5 s, return its exit code and output. */
function interrupt(args: string[], signals: number, sig: NodeJS.Signals = 'SIGINT'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    setTimeout(() => {
      for (let k = 0; k < signals; k++) child.kill(sig);
    }, 1500);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('Ctrl-C keeps what was done', () => {
  it('run: the first SIGINT stops at a safe point, audits, prints and writes the partial results (interrupted), exit 130', async () => {
    const out = join(tmp, 'interrupted.json');
    const r = await interrupt(['run', config('long.yaml', `${SMALL}duration: 60s\n`), '--json', out], 1);
    expect(r.code).toBe(130);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.interrupted).toBe(true);
    expect(doc.run.durationMs).toBeLessThan(60_000);
    expect(schemaProblems(doc)).toEqual([]);
    expect(r.stdout).toContain('interrupted (by a signal)');
    expect(r.stdout).toContain('Throughput');
  });

  it('run: a second SIGINT aborts at once, exit 130', async () => {
    const r = await interrupt(['run', config('long.yaml', `${SMALL}duration: 60s\n`), '--quiet'], 2);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('interrupted');
  });

  it('stress: SIGINT prints the summary so far, exit 130', async () => {
    const r = await interrupt(['stress', config('small.yaml', SMALL), '--time', '60s', '--set', 'duration=200ms'], 1);
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/rounds in .* violating rounds \(interrupted: the last round was cut short\)/);
  });
});

describe('SIGTERM (a Slurm time limit or scancel, a Kubernetes pod stopped) keeps what was done', () => {
  it('stress --json: SIGTERM stops at a safe point and the document of the rounds so far is written, exit 130', async () => {
    const out = join(tmp, 'sigterm.json');
    const r = await interrupt(['stress', config('small.yaml', SMALL), '--iterations', '100000', '--set', 'duration=200ms', '--json', out], 1, 'SIGTERM');
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('SIGTERM: stopping at the next safe point');
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.interrupted).toBe(true);
    expect(doc.stress.rounds).toBeGreaterThan(0);
    expect(doc.stress.rounds).toBeLessThan(100000);
    expect(schemaProblems(doc)).toEqual([]);
  });
});

describe('bounded runs', () => {
  it('--accesses 0 means duration mode (was: a 24 h run)', () => {
    const out = join(tmp, 'acc0.json');
    const r = nestsim('run', config('short.yaml', `${SMALL}duration: 1s\n`), '--accesses', '0', '--json', out, '--quiet');
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.run.deadlineMs).toBe(1000);
    expect(doc.counts.accesses).toBeGreaterThan(0);
  });

  it('the deadline bounds audits: audit.perMillion 1000000 with --duration 1s stops near its deadline and records it', () => {
    const out = join(tmp, 'audits.json');
    const r = nestsim('run', config('small.yaml', SMALL), '--duration', '1s', '--set', 'audit.perMillion=1000000', '--json', out, '--quiet');
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.run.deadlineMs).toBe(1000);
    // Was 8-16 s past a 1 s deadline; now the vCPUs look at the clock after every audit.
    expect(doc.run.overranMs).toBeLessThan(5000);
  });

  it('a warm-up longer than the run ends with the run: nothing measured, said so (was: never ends)', () => {
    const out = join(tmp, 'warm.json');
    const r = nestsim('run', config('warm.yaml', `${SMALL}warmup: 1000000000000\nduration: 500ms\n`), '--json', out);
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.run.endedInWarmup).toBe(true);
    expect(doc.counts.accesses).toBe(0);
    expect(r.stdout).toContain('the run ended during warm-up');
  });

  it('warmup as a duration (2s, like fio ramp_time): the run then counts exactly its accesses after it', () => {
    const r = nestsim('run', config('small.yaml', SMALL), '--accesses', '2000', '--set', 'warmup=300ms', '--json', '-', '--quiet');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.counts.accesses).toBe(2000);
    expect(doc.config.warmupMs).toBe(300);
    expect(doc.config.warmupAccesses).toBe(0);
    expect(doc.run.endedInWarmup).toBe(false);
  });

  it('a timed warm-up counts within --duration', () => {
    const r = nestsim('run', config('small.yaml', SMALL), '--duration', '1s', '--set', 'warmup=400ms', '--json', '-', '--quiet');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.run.deadlineMs).toBe(1000);
    expect(doc.run.endedInWarmup).toBe(false);
    expect(doc.counts.accesses).toBeGreaterThan(0);
  });

  it('accesses-bounded runs record no deadline', () => {
    const r = nestsim('run', config('small.yaml', SMALL), '--accesses', '1000', '--json', '-', '--quiet');
    expect(JSON.parse(r.stdout).run.deadlineMs).toBe(null);
  });
});

describe('one time vocabulary', () => {
  it('run --duration 3 and stress --time 3 are both refused with the units shown (was: 3 ms and 3 s)', () => {
    expectUsage(nestsim('run', DEFAULT, '--duration', '3'), /duration: expected a duration 1ms\.\.24h with a unit \(ms, s, m or h\), like 3s, 500ms or 2m, found 3/);
    expectUsage(nestsim('stress', DEFAULT, '--time', '3'), /--time: expected a duration like 3s, 500ms or 2m, found "3"/);
  });

  it('1m and "2 s" are accepted by both (was: by one flag only)', () => {
    for (const d of ['1m', '2 s']) {
      expect(nestsim('validate', DEFAULT, '--duration', d).code).toBe(0);
      const r = nestsim('stress', config('small.yaml', SMALL), '--time', d, '--iterations', '1', '--set', 'accesses=500', '--quiet');
      expect(r.code).toBe(0);
    }
  });
});

describe('conventions', () => {
  it('--version and -V print the version; help <command> prints its options', () => {
    const version = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version;
    expect(nestsim('--version').stdout.trim()).toBe(`nestsim ${version}`);
    expect(nestsim('-V').stdout.trim()).toBe(`nestsim ${version}`);
    const h = nestsim('help', 'stress');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('--iterations N');
    expectUsage(nestsim('help', 'bogus'), /help: expected one of run, stress, validate, sweep, trace, timings, compare, merge, replay, found "bogus"/);
  });

  it('sweep checks every value before running any (was: ran vcpus=1, then exit 2 and discarded it)', () => {
    const r = nestsim('sweep', config('small.yaml', SMALL), '--set', 'vcpus=1,,2', '--set', 'accesses=1000');
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('done');
  });
});

describe('bad input: exit 2, one line, expected and found, no stack', () => {
  // [name, yaml (a config file) or null, extra args, pattern]
  const cases: Array<[string, string | null, string[], RegExp]> = [
    ['integer as word', 'vcpus: four\n', [], /vcpus: expected integer 1\.\.256, found "four"/],
    ['vcpus 0', 'vcpus: 0\n', [], /vcpus: expected integer 1\.\.256, found 0/],
    ['vcpus too many', 'vcpus: 1000\n', [], /vcpus: expected integer 1\.\.256, found 1000/],
    ['fractional integer', 'vcpus: 1.5\n', [], /vcpus: expected integer/],
    ['negative seed', 'seed: -1\n', [], /seed: expected integer 0\.\.4294967295, found -1/],
    ['seed beyond 2^53', 'seed: 9007199254740993\n', [], /seed: expected integer 0\.\.4294967295, found 9007199254740993 \(beyond 2\^53 - 1/],
    ['ratio above 1', 'workload: {writeRatio: 1.5}\n', [], /workload\.writeRatio: expected number 0\.\.1, found 1\.5/],
    ['ratio .nan', 'workload: {writeRatio: .nan}\n', [], /workload\.writeRatio: expected number 0\.\.1, found \.nan/],
    ['ratio .inf', 'workload: {writeRatio: .inf}\n', [], /found \.inf/],
    ['ratio -.inf', 'workload: {writeRatio: -.inf}\n', [], /found -\.inf/],
    ['size without unit meaning', 'guests: {memory: lots}\n', [], /guests\.memory: expected size/],
    ['size not a multiple of 4K', 'guests: {memory: 1000}\n', [], /guests\.memory: expected size .* in multiples of 4K/],
    ['duration bare number', 'duration: 750\n', [], /duration: expected a duration .* found 750 \(a duration needs its unit/],
    ['duration bad unit', 'duration: 5 sec\n', [], /duration: expected a duration .* found "5 sec"/],
    ['duration too long', 'duration: 2d\n', [], /duration: expected a duration/],
    ['duration zero', 'duration: 0ms\n', [], /duration: expected a duration 1ms\.\.24h/],
    ['warmup neither count nor duration', 'warmup: 3x\n', [], /warmup: expected a number of accesses >= 0 or a duration up to 24h with a unit, like 3s, 500ms or 2m, found "3x"/],
    ['enum typo', 'protocol: mainlne\n', [], /protocol: expected one of mainline, fixed, found "mainlne" \(did you mean "mainline"\?\)/],
    ['unknown key', 'vcpu: 2\n', [], /vcpu: expected one of .*, found unknown key "vcpu" \(did you mean "vcpus"\?\)/],
    ['unknown nested key', 'host: {memroy: 1G}\n', [], /host\.memroy: expected one of/],
    ['group as scalar', 'host: 1G\n', [], /host: expected a mapping of/],
    ['mutation unknown', 'mutations: [skip-everything]\n', [], /mutations\[0\]: expected one of skip-mmu-seq-check/],
    ['bool as word', 'l1: {dirtyLog: yes please}\n', [], /l1\.dirtyLog: expected true or false/],
    ['root is a list', '- 1\n- 2\n', [], /expected a mapping of seed/],
    ['multiple documents', 'seed: 1\n---\nseed: 2\n', [], /expected one YAML document, found a second one \(after ---\)/],
    ['syntax error', 'seed: [1\n', [], /expected valid YAML, found syntax error/],
    ['duplicate key', 'seed: 1\nseed: 2\n', [], /expected valid YAML, found syntax error/],
    ['tlb ways above entries', 'hardware: {tlb: {entries: 4, ways: 8}}\n', [], /hardware\.tlb/],
    ['layout: L1 too small for its tables', 'guests: {count: 16, memory: 64G}\nl1: {memory: 2G}\n', [], /l1\.memory: expected at least/],
    ['flag: unknown option', null, ['run', DEFAULT, '--frobs', '3'], /unknown option --frobs/],
    ['flag: single-dash option', null, ['run', DEFAULT, '-x'], /unknown option -x \(options are spelled --name\)/],
    ['flag: missing value at the end', null, ['run', DEFAULT, '--vcpus'], /--vcpus: expected a number of vCPUs, found the end of the command line/],
    ['flag: value swallowing an option', null, ['run', DEFAULT, '--seed', '--quiet'], /--seed: expected a seed, found the option --quiet/],
    ['flag: bool with a value', null, ['run', DEFAULT, '--quiet=yes'], /--quiet: expected no value, found "yes"/],
    ['flag: bad --vcpus value', null, ['run', DEFAULT, '--vcpus', 'many'], /vcpus: expected integer 1\.\.256, found "many"/],
    ['flag: --set without =', null, ['run', DEFAULT, '--set', 'vcpus'], /--set: expected key=value, found "vcpus"/],
    ['flag: --set unknown key', null, ['run', DEFAULT, '--set', 'workload.patern=zipf'], /workload\.patern: expected a config key .* \(did you mean "workload\.pattern"\?\)/],
    ['flag: --iterations 0', null, ['stress', DEFAULT, '--iterations', '0'], /--iterations: expected an integer >= 1, found "0"/],
    ['flag: unknown command', null, ['frobnicate'], /unknown command "frobnicate"/],
    ['flag: extra argument', null, ['validate', DEFAULT, 'extra'], /unexpected argument "extra"/],
    ['flag: no config file', null, ['run'], /run: expected a config file, found none/],
    ['flag: two outputs on stdout', null, ['run', DEFAULT, '--json', '-', '--html', '-'], /expected at most one output on stdout/],
    ['flag: --json empty name', null, ['run', DEFAULT, '--json='], /--json: expected a file name, found an empty string/],
    ['file: missing', null, ['validate', join(tmp, 'nope.yaml')], /expected a readable YAML file, found no such file/],
    ['file: a directory', null, ['validate', tmp], /expected a regular YAML file, found a directory/],
    ['file: a device', null, ['validate', '/dev/zero'], /expected a regular YAML file, found a device/],
  ];

  it('has at least 40 cases', () => {
    expect(cases.length + 1).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('%s', (_name, yaml, args, pattern) => {
    const argv = yaml === null ? args : ['validate', config('bad.yaml', yaml), ...args];
    expectUsage(nestsim(...argv), pattern);
  });

  it('file: a FIFO is refused, not read until it closes (was: hangs)', () => {
    const fifo = join(tmp, 'config.fifo');
    if (!existsSync(fifo)) execFileSync('mkfifo', [fifo]);
    expectUsage(nestsim('validate', fifo), /expected a regular YAML file, found a FIFO \(named pipe\)/);
  });

  it('YAML aliases and merge keys are resolved before validation (was: found {"source":"m"})', () => {
    const f = config('alias.yaml', 'mutations: [&m skip-rmap, *m]\nworkload:\n  <<: {writeRatio: 0.7, pattern: zipf}\n  pattern: uniform\n');
    const r = nestsim('validate', f);
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(cfg.mutations).toEqual(['skip-rmap']);
    expect([cfg.workload.pattern, cfg.workload.writeRatio]).toEqual(['uniform', 0.7]);
  });
});

describe('exit status separates reproduced kernel windows from new bugs', () => {
  // One vCPU, bounded by accesses: deterministic. Under mainline, P1's rc-list tlbie leaves the
  // vCPU's own shadow TLB entries in place and the harvests miss pages: every violation is P1's.
  const P1 = ['run', join(CONFIGS, 'dirty-log.yaml'), '--protocol', 'mainline', '--vcpus', '1', '--accesses', '200000', '--set', 'actors.host.harvest=1', '--set', 'workload.workingSet=256K'];

  it('window P1 reproduced under mainline: tagged by its own code path, reported apart, exit 0 (was: exit 1)', () => {
    const r = nestsim(...P1, '--json', join(tmp, 'p1.json'));
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(join(tmp, 'p1.json'), 'utf8'));
    expect(doc.checks.violations).toBeGreaterThan(0);
    expect(doc.checks.byWindow.P1).toBe(doc.checks.violations);
    expect(doc.checks.unexplained).toBe(0);
    expect(doc.violations.every((v: { window?: string }) => v.window === 'P1')).toBe(true);
    expect(r.stdout).toMatch(/reproduced kernel windows .*: P1 ×/);
  });

  it('--strict fails on reproduced windows too', () => {
    expect(nestsim(...P1, '--strict', '--quiet').code).toBe(1);
  });

  it('--fix p1 closes it: no violation at all', () => {
    const r = nestsim(...P1, '--fix', 'p1', '--json', '-', '--quiet');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).checks.violations).toBe(0);
  });
});

describe('short host memory is said, not hidden', () => {
  const OOM = `${SMALL.replace('host: {memory: 512M}', 'host: {memory: 4K}')}`;

  it('host.memory 4K: every nested fault finds no host memory -> counted as hostOom, warned, exit 1 (was: 100% error faults, "0 violations", exit 0)', () => {
    const r = nestsim('run', config('oom.yaml', OOM), '--accesses', '5000', '--json', join(tmp, 'oom.json'), '--no-color');
    expect(r.code).toBe(1);
    const doc = JSON.parse(readFileSync(join(tmp, 'oom.json'), 'utf8'));
    expect(doc.counts.faults.hostOom).toBeGreaterThan(0);
    expect(doc.counts.faults.error).toBe(0);
    expect(doc.checks.hostOom).toBeGreaterThan(0);
    expect(r.stdout).toContain('host out of memory');
    expect(r.stdout).toContain('set host.overcommit: true if it is expected');
  });

  it('host.overcommit: true declares it expected: the same run exits 0, still counted', () => {
    const r = nestsim('run', config('oom.yaml', OOM), '--accesses', '5000', '--set', 'host.overcommit=true', '--json', '-', '--quiet');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).checks.hostOom).toBeGreaterThan(0);
  });

  it('an impossible host is refused by validation: 2M backing asked of a host smaller than one 2M block', () => {
    expectUsage(nestsim('validate', config('imp.yaml', 'host: {memory: 1M, backing: {2M: 1}}\n')), /host\.backing\.2M: expected no 2M blocks in a host of 1M, found 1/);
  });
});

describe('figures that mean what they say', () => {
  it('sweep names the fault kind of its latency columns and shows "-" when nothing was timed (was: "fault p50" and 0ns)', () => {
    const f = config('sweep.yaml', `${SMALL}stats: {faultSample: 1048576}\n`);
    const r = nestsim('sweep', f, '--set', 'seed=1,2', '--accesses', '500', '--quiet');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/insert p50 +insert p99/);
    expect(lines).toHaveLength(3);
    for (const row of lines.slice(1)) expect(row).toMatch(/ +- +- +0$/);
  });

  it('faults per access are a rate, and the latency heading states every sampling rate, lock waits included (was: "faults 189.5%")', () => {
    const r = nestsim('run', config('small.yaml', SMALL), '--accesses', '3000', '--no-color');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}faults +[\d,]+ +\d+\.\d{3}\/access$/m);
    expect(r.stdout).toContain('lock waits on 1 contended wait in 4');
  });
});

describe('sweep grid', () => {
  it('several --set make a grid (every combination, each point checked first); a one-value --set applies to every point', () => {
    const out = join(tmp, 'grid.json');
    const r = nestsim('sweep', config('small.yaml', SMALL), '--set', 'seed=1,2', '--set', 'workload.writeRatio=0.1,0.5', '--set', 'vcpus=1', '--accesses', '500', '--json', out, '--quiet');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^seed workload\.writeRatio +accesses\/s/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 2).join(' '))).toEqual(['1 0.1', '1 0.5', '2 0.1', '2 0.5']);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(schemaProblems(doc)).toEqual([]);
    expect(doc.kind).toBe('sweep');
    expect(doc.axes).toEqual([{ key: 'seed', values: ['1', '2'] }, { key: 'workload.writeRatio', values: ['0.1', '0.5'] }, { key: 'vcpus', values: ['1'] }]);
    expect(doc.points.map((p: { values: Record<string, string>; run: { seed: number } }) => [p.values.seed, p.values['workload.writeRatio'], p.run.seed])).toEqual([
      ['1', '0.1', 1],
      ['1', '0.5', 1],
      ['2', '0.1', 2],
      ['2', '0.5', 2],
    ]);
    // Each point says how to run it alone, with every value of the grid.
    expect(doc.points[3].replay).toEqual(['run', config('small.yaml', SMALL), '--accesses', '500', '--seed', '2', '--set', 'workload.writeRatio=0.5', '--vcpus', '1']);
  });

  it('a bad value anywhere in the grid -> exit 2 before any run', () => {
    const r = nestsim('sweep', config('small.yaml', SMALL), '--set', 'seed=1,2', '--set', 'vcpus=1,999', '--accesses', '500');
    expectUsage(r, /vcpus: expected integer 1\.\.256, found 999/);
  });
});
