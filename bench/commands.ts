/**
 * Whole commands as a user types them, timed from outside (Node's start, the command's exit and
 * everything between): the scale issue's start-up and memory targets. Each pass runs every case
 * once, in turn, so the shared machine's drift hits all alike; a row gives the median over the
 * passes (and, for stress, over the seeds) with its range.
 *
 * - `node -e ""`: the floor, Node's own start and exit.
 * - A one-access run (`run configs/fault-storm.yaml --accesses 1 --quiet`), with 1G and with 64G of
 *   L1 and host memory: start-up, the machine, the audit and the results, nothing else.
 * - A round-1 catch of `skip-tlb-flush` (`stress configs/stress.yaml --mutation skip-tlb-flush
 *   --seed S --quiet`, S = 1..5; fail-fast is the default with a mutation): the time to a verdict.
 * - Peak resident memory of 4,096 nested guests of 256M, and of a 64G L1 with 16G guests
 *   (`run configs/default.yaml ... --accesses 20000`), through bench/peak-rss.ts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../src/util/paths.js';

export interface CommandRow {
  /** What it is, and the command after `nestsim` (or the whole command for the floor). */
  name: string;
  command: string;
  /** Median wall seconds (or peak MiB for a memory row) over the passes, and the range. */
  median: number;
  min: number;
  max: number;
  unit: 's' | 'MiB';
  /** The exit status every run must have had. */
  exit: number;
  runs: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

interface Case {
  name: string;
  /** The command's arguments to node; several pool their figures into one row (the stress seeds). */
  runs: string[][];
  exit: number;
  unit: 's' | 'MiB';
}

export function runCommands(passes = 3): CommandRow[] {
  const root = packageRoot();
  const cli = join(root, 'dist', 'bin', 'cli.js');
  const rss = join(root, 'dist', 'bench', 'peak-rss.js');
  const oneAccess = ['run', 'configs/fault-storm.yaml', '--accesses', '1', '--quiet'];
  const big = ['--set', 'l1.memory=64G', '--set', 'l1.mmio=0', '--set', 'workload.mmioRatio=0', '--set', 'host.memory=64G'];
  const stress = (s: number): string[] => ['stress', 'configs/stress.yaml', '--mutation', 'skip-tlb-flush', '--seed', String(s), '--quiet'];
  const cases: Case[] = [
    { name: 'Node itself (node -e "")', runs: [['-e', '']], exit: 0, unit: 's' },
    { name: 'one-access run, 1G L1', runs: [[cli, ...oneAccess]], exit: 0, unit: 's' },
    { name: 'one-access run, 64G L1 and host', runs: [[cli, ...oneAccess, ...big]], exit: 0, unit: 's' },
    { name: 'stress verdict, skip-tlb-flush, seeds 1-5', runs: [1, 2, 3, 4, 5].map((s) => [cli, ...stress(s)]), exit: 1, unit: 's' },
    { name: 'peak memory, 4,096 guests of 256M', runs: [[rss, 'run', 'configs/default.yaml', '--set', 'guests.count=4096', '--set', 'guests.memory=256M', '--set', 'l1.memory=4G', '--accesses', '20000', '--quiet']], exit: 0, unit: 'MiB' },
    { name: 'peak memory, 64G L1 with 16G guests', runs: [[rss, 'run', 'configs/default.yaml', ...big, '--set', 'guests.memory=16G', '--accesses', '20000', '--quiet']], exit: 0, unit: 'MiB' },
  ];
  const figures = cases.map(() => [] as number[]);
  for (let p = 0; p < passes; p++) {
    for (const [i, c] of cases.entries()) {
      for (const argv of c.runs) {
        const t = performance.now();
        const r = spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8' });
        const s = (performance.now() - t) / 1000;
        if (r.status !== c.exit) throw new Error(`${c.name}: exit ${r.status} (expected ${c.exit}): ${r.stderr}`);
        if (c.unit === 's') figures[i].push(s);
        else {
          const kib = /peak-rss-kib (\d+)\s*$/.exec(r.stdout);
          if (kib === null) throw new Error(`${c.name}: no peak-rss line in its output`);
          figures[i].push(Number(kib[1]) / 1024);
        }
      }
    }
  }
  return cases.map((c, i) => {
    const xs = figures[i];
    // The first run's command, as typed (the seeds of several runs as S).
    const [first] = c.runs;
    const shown = first[0] === cli || first[0] === rss ? ['nestsim', ...first.slice(1)] : ['node', ...first.map((a) => (a === '' ? '""' : a))];
    return {
      name: c.name,
      command: shown.join(' ').replace(/--seed \d+/, c.runs.length > 1 ? '--seed S' : '$&'),
      median: +median(xs).toFixed(3),
      min: +Math.min(...xs).toFixed(3),
      max: +Math.max(...xs).toFixed(3),
      unit: c.unit,
      exit: c.exit,
      runs: xs.length,
    };
  });
}
