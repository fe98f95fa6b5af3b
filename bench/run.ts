/**
 * `npm run bench`: micro-benchmarks, then throughput and scaling; prints tables and writes
 * bench/results/<date>.json with the machine, Node version and command.
 * Options: --quick (shorter runs), --micro-only, --throughput-only.
 */
import { runModelCost, runModelCostInProcess } from './cost-model.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { runMicro } from './micro.js';
import { runStatsCost, runThroughput, type ThroughputRow } from './throughput.js';
import { runTraceReplay } from './trace-replay.js';
import { runOversubscription } from './oversubscription.js';
import { runCommands } from './commands.js';
import { packageRoot } from '../src/util/paths.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');

function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? c.toLocaleString('en-US') : c)))];
  const width = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  return cells.map((r, k) => r.map((c, i) => (i === 0 ? String(c).padEnd(width[i]) : String(c).padStart(width[i]))).join('  ') + (k === 0 ? '\n' + width.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n');
}

function perSecond(nsPerOp: number): string {
  const r = 1e9 / nsPerOp;
  return r >= 1e6 ? `${(r / 1e6).toFixed(1)}M` : `${(r / 1e3).toFixed(0)}k`;
}

function pct(x: number): string {
  return Number.isNaN(x) ? 'n/a (needs the micro-benchmarks)' : `${(x * 100).toFixed(1)}%`;
}

async function main(): Promise<void> {
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  process.stdout.write(`nestsim bench on ${machine.cpus} x ${machine.model}, ${machine.memGiB} GiB, Node ${machine.node}\n\n`);
  const out: Record<string, unknown> = { date: new Date().toISOString(), command: `npm run bench${quick ? ' -- --quick' : ''}`, machine };
  let statsMicro: { timerNs: number; recordNs: number; counterNs: number } | undefined;
  if (!args.has('--throughput-only')) {
    const micro = await runMicro(quick ? 150 : 500);
    out.micro = micro;
    const ns = (prefix: string): number => micro.find((r) => r.name.startsWith(prefix))?.nsPerOp ?? NaN;
    statsMicro = { timerNs: ns('timer call'), recordNs: ns('histogram record'), counterNs: ns('counter increment') };
    process.stdout.write('Micro-benchmarks (one thread; ns per operation)\n');
    process.stdout.write(table(['operation', 'ns/op', 'per second', '±%'], micro.map((r) => [r.name, +r.nsPerOp.toFixed(1), perSecond(r.nsPerOp), +r.rmePct.toFixed(1)])) + '\n\n');
  }
  if (!args.has('--micro-only')) {
    const rows: ThroughputRow[] = await runThroughput(quick ? 1500 : 3000, [1, 2, 4, 8], quick ? 1 : 3);
    out.throughput = rows;
    process.stdout.write(`Throughput (worker threads; median of ${quick ? 1 : 3} runs each; scaling in accesses for tlb-hit, faults otherwise; fault latency = shadow insert, sampled)\n`);
    process.stdout.write(
      table(
        ['config', 'guests', 'vCPUs', 'accesses/s', 'per vCPU', 'faults/s', 'scaling', 'p50 ns', 'p99 ns', 'lock wait', 'tlb_lock ns/fault'],
        rows.map((r) => [r.config, r.guests, r.vcpus, r.accessesPerSec, r.accessesPerSecPerVcpu, r.faultsPerSec, `${r.scaling}x`, r.faultP50Ns, r.faultP99Ns, `${(r.lockWaitShare * 100).toFixed(1)}%`, r.tlbLockWaitPerFaultNs]),
      ) + '\n\n',
    );
    const cost = await runStatsCost(quick ? 1000 : 2000, statsMicro, quick ? 3 : 5);
    out.statsCost = cost;
    process.stdout.write('Cost of statistics per fault (fault-storm, 1 vCPU, one thread; computed from the micro figures, whole runs as a cross-check)\n');
    process.stdout.write(
      table(
        ['faults/s', 'timing ns/fault', 'counters ns/fault', 'statistics share', 'faults/s untimed', 'measured timing share'],
        [[cost.faultsPerSecSampled, cost.timingNsPerFault, cost.counterNsPerFault, pct(cost.statsShare), cost.faultsPerSecUntimed, pct(cost.timingShareMeasured)]],
      ) + '\n',
    );
  }
  if (!args.has('--micro-only')) {
    const mc = await runModelCost(quick ? 1000 : 2000, quick ? 1 : 3);
    out.modelCost = mc;
    process.stdout.write(`\nWhat modeled time costs (fault-storm, wall-clock faults/s with cost.model none and power9; median of ${quick ? 1 : 3} interleaved pairs)\n`);
    process.stdout.write(table(['vCPUs', 'none faults/s', 'power9 faults/s', 'power9 / none', 'range'], mc.map((r) => [r.threads === 1 ? `${r.vcpus}, one thread` : r.vcpus, r.noneFaultsPerSec, r.power9FaultsPerSec, `${r.ratio}x`, `${r.ratioMin}-${r.ratioMax}`])) + '\n');
    const ip = runModelCostInProcess(quick ? 50_000 : 100_000, quick ? 7 : 15);
    out.modelCostInProcess = ip;
    process.stdout.write(`1 vCPU in one thread, the two machines in turn (${ip.rounds} rounds): none ${ip.noneNsPerAccess} ns/access, power9 ${ip.power9NsPerAccess} ns/access, power9 / none ${ip.ratio}x (${ip.ratioMin}-${ip.ratioMax})\n`);
  }
  if (!args.has('--micro-only')) {
    const o = await runOversubscription(quick ? 1500 : 3000, quick ? 1 : 3);
    out.oversubscription = o;
    process.stdout.write(`\nMore vCPUs than processors (fault-storm, a nested guest per vCPU; threads: auto against one per vCPU; median of ${quick ? 1 : 3} passes, each case once per pass in turn)\n`);
    process.stdout.write(table(['cost.model', 'threads', 'vCPUs', 'threads used', 'faults/s', 'of 2 vCPUs', 'range'], o.map((r) => [r.model, r.threads, r.vcpus, r.threadsUsed, r.faultsPerSec, `${r.vs2}x`, `${r.vs2Min}-${r.vs2Max}`])) + '\n');
  }
  if (!args.has('--micro-only')) {
    const t = await runTraceReplay(quick ? 500_000 : 2_000_000, quick ? 1 : 3);
    out.traceReplay = t;
    process.stdout.write(`\nTrace replay (configs/trace-sort.yaml, 1 vCPU) against a uniform pattern over the same ${t.distinctPages} pages, store share ${t.storeShare}, fetch share ${t.fetchShare}; median of ${t.pairs} interleaved pairs\n`);
    process.stdout.write(table(['trace accesses/s', 'synthetic accesses/s', 'trace / synthetic'], [[t.traceAccessesPerSec, t.syntheticAccessesPerSec, `${t.ratio}x`]]) + '\n');
  }
  if (!args.has('--micro-only')) {
    const c = runCommands(quick ? 1 : 3);
    out.commands = c;
    process.stdout.write(`\nWhole commands, timed from outside (median of ${quick ? 1 : 3} passes, each case once per pass in turn; stress: 5 seeds a pass)\n`);
    process.stdout.write(table(['case', 'median', 'range', 'runs', 'command'], c.map((r) => [r.name, `${r.median} ${r.unit}`, `${r.min}-${r.max}`, r.runs, r.command])) + '\n');
  }
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  process.stdout.write(`\nwrote ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
