/**
 * `npm run cost:tables`: the modeled-time tables of docs/cost-model.md, from one-vCPU runs (whose
 * modeled figures depend on events only, so every number below is exact and repeatable):
 *
 * 1. a sweep over L1's and the host's page sizes on configs/default.yaml: faults per access
 *    against modeled cycles per fault, and what that makes of modeled throughput;
 * 2. the sensitivity of the headline figures (configs/fault-storm.yaml's modeled faults/s and
 *    shadow-insert p50, and default.yaml's modeled accesses/s) to each `estimate` cost row,
 *    halved and doubled.
 *
 * Prints Markdown on stdout.
 */
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../src/workload/config.js';
import { runSimulation } from '../src/engine/run.js';
import { packageRoot } from '../src/util/paths.js';
import { COST_CATEGORIES, COST_ITEMS } from '../src/cost/model.js';
import type { RunDocument } from '../src/stats/document.js';

const ACCESSES = '50000';

async function run(config: string, set: Record<string, string>): Promise<RunDocument> {
  const cfg = applyOverrides(loadConfig(join(packageRoot(), 'configs', config)), { vcpus: '1', accesses: ACCESSES, ...set }, 'cost-tables');
  return (await runSimulation(cfg)).doc;
}

const f = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const m = (n: number): string => `${(n / 1e6).toFixed(2)}M`;

function faultCycles(doc: RunDocument): number {
  const b = doc.modeled!.breakdown;
  // Everything but the accesses' own work and the actors: what the faults cost.
  const total = COST_CATEGORIES.filter((c) => c !== 'access' && c !== 'actors').reduce((s, c) => s + b[c], 0);
  return doc.counts.faultsTotal > 0 ? total / doc.counts.faultsTotal : 0;
}

async function pageSizeSweep(): Promise<string> {
  const rows: string[] = [];
  for (const l1 of ['4K', '2M']) {
    for (const host of ['4K', '2M']) {
      const set: Record<string, string> = {
        'l1.pageSizes.4K': l1 === '4K' ? '1' : '0',
        'l1.pageSizes.2M': l1 === '2M' ? '1' : '0',
        'host.backing.4K': host === '4K' ? '1' : '0',
        'host.backing.2M': host === '2M' ? '1' : '0',
      };
      const doc = await run('default.yaml', set);
      const md = doc.modeled!;
      rows.push(`| ${l1} | ${host} | ${(doc.counts.faultsTotal / doc.counts.accesses).toFixed(4)} | ${f(faultCycles(doc))} | ${f(md.latencyNs.shadowInsert?.p50 ?? 0)} | ${m(md.accessesPerSec)} | ${f(md.breakdown.tlbie + md.breakdown.rmap)} |`);
    }
  }
  return [
    '| L1 pages | host backing | faults per access | modeled cycles per fault | shadow insert p50 (ns) | modeled accesses/s | tlbie + rmap cycles |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

async function sensitivity(): Promise<string> {
  const headline = async (set: Record<string, string>): Promise<[number, number, number]> => {
    const storm = await run('fault-storm.yaml', set);
    const def = await run('default.yaml', set);
    return [storm.modeled!.faultsPerSec, storm.modeled!.latencyNs.shadowInsert?.p50 ?? 0, def.modeled!.accessesPerSec];
  };
  const base = await headline({});
  const rel = (x: number, b: number): string => `${x >= b ? '+' : ''}${(((x - b) / b) * 100).toFixed(1)}%`;
  const rows = [`| (defaults) | | ${m(base[0])} | ${f(base[1])} ns | ${m(base[2])} |`];
  for (const item of COST_ITEMS.filter((c) => c.estimate)) {
    const half = await headline({ [`cost.${item.name}`]: String(item.cycles / 2) });
    const dbl = await headline({ [`cost.${item.name}`]: String(item.cycles * 2) });
    rows.push(`| \`cost.${item.name}\` | ${f(item.cycles)} | ${rel(half[0], base[0])} / ${rel(dbl[0], base[0])} | ${rel(half[1], base[1])} / ${rel(dbl[1], base[1])} | ${rel(half[2], base[2])} / ${rel(dbl[2], base[2])} |`);
  }
  return [
    '| estimate row (halved / doubled) | default cycles | fault-storm modeled faults/s | fault-storm shadow insert p50 | default modeled accesses/s |',
    '|---|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  process.stdout.write(`## Page sizes (configs/default.yaml, 1 vCPU, ${ACCESSES} accesses)\n\n${await pageSizeSweep()}\n\n`);
  process.stdout.write(`## Sensitivity to the estimates (1 vCPU, ${ACCESSES} accesses each)\n\n${await sensitivity()}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`cost-tables failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
