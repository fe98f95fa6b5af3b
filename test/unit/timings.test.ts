/**
 * `nestsim timings`: a run's modeled time as KVM's debugfs timings file (report/timings.ts), and
 * a real host's file beside it. Assertions on modeled values only.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/workload/config.js';
import { runSimulation } from '../../src/engine/run.js';
import { TIMING_CATEGORIES, TimingsError, compareTimings, formatTimings, parseTimings, timingsFromRun } from '../../src/report/timings.js';
import type { RunDocument } from '../../src/stats/document.js';
import { CLI, ROOT } from '../helpers/cli.js';

const STORM = {
  seed: 3,
  vcpus: 1,
  accesses: 20000,
  guests: { count: 1, memory: '64M' },
  l1: { memory: '1G', mmio: '4M' },
  host: { memory: '2G' },
  workload: { pattern: 'sequential', writeRatio: 0.2, mmioRatio: 0.001, workingSet: '16M' },
  actors: { l1: { lpidFlush: 0.5, unmap: 1 } },
};

async function storm(): Promise<RunDocument> {
  return (await runSimulation(parseConfig(stringify(STORM), '<timings>'))).doc;
}

const row = (rows: ReturnType<typeof timingsFromRun>, name: string) => rows.find((r) => r.name === name)!;

describe('timings from a run', () => {
  it("L0's view: every nested fault is a page_fault, and the categories add up to the vCPU's modeled time", async () => {
    const doc = await storm();
    const rows = timingsFromRun(doc, 'l0');
    expect(rows.map((r) => r.name)).toEqual([...TIMING_CATEGORIES]);
    expect(row(rows, 'page_fault').count).toBe(doc.counts.faultsTotal);
    const actorHcalls = doc.actors.l1Unmaps + doc.actors.l1LpidFlushes;
    expect(row(rows, 'hypercall').count).toBe(doc.counts.l1Handled + actorHcalls);
    expect(row(rows, 'guest_entry').count).toBe(doc.counts.faultsTotal + doc.counts.l1Handled + actorHcalls);
    const total = rows.reduce((s, r) => s + r.totalNs, 0);
    expect(Math.abs(total - doc.modeled!.durationNs)).toBeLessThanOrEqual(rows.length);
    // L0's handler time is the modeled fault latency less the exit: never negative, never more.
    const pf = row(rows, 'page_fault');
    expect(pf.minNs).toBeGreaterThan(0);
    expect(pf.maxNs).toBeGreaterThanOrEqual(pf.minNs);
  });

  it("L1's view: reflected faults are its page faults, the ones L0 resolves alone are inside in_guest", async () => {
    const doc = await storm();
    const rows = timingsFromRun(doc, 'l1');
    expect(doc.counts.l1Handled).toBeGreaterThan(0);
    expect(row(rows, 'page_fault').count).toBe(doc.counts.l1Handled);
    expect(row(rows, 'guest_entry').count).toBe(1 + doc.counts.l1Handled + doc.counts.faults.mmio + doc.counts.faults.error);
    expect(row(rows, 'hypercall').count).toBe(0);
    expect(row(rows, 'in_guest').totalNs).toBeGreaterThan(0);
    const fixed = (n: string) => row(rows, n).minNs === row(rows, n).maxNs;
    expect(fixed('page_fault') && fixed('guest_entry')).toBe(true);
  });

  it('a run without modeled time has no timings', async () => {
    const doc = (await runSimulation(parseConfig(stringify({ ...STORM, cost: { model: 'none' } }), '<timings>'))).doc;
    expect(() => timingsFromRun(doc, 'l0')).toThrow(TimingsError);
  });
});

describe('the debugfs layout', () => {
  it('round-trips through the parser; a line the kernel could not read ("stuck") is skipped', () => {
    const rows = [
      { name: 'guest_entry', count: 3, totalNs: 972, minNs: 324, maxNs: 324 },
      { name: 'hypercall', count: 2, totalNs: 1000, minNs: 400, maxNs: 600 },
    ];
    const text = formatTimings(rows);
    expect(text).toBe('guest_entry: 3 972 324 324\nhypercall: 2 1000 400 600\n');
    expect(parseTimings(`${text}page_fault: stuck\n`, 'host.txt')).toEqual(rows);
  });

  it('a bad line names the file, the line and what was expected', () => {
    expect(() => parseTimings('guest_entry: 1 2 3 4\nhypercall: 1 2 x 4\n', 'host.txt')).toThrow('host.txt:2: hypercall: expected four whole numbers (count total min max, in ns), found "1 2 x 4"');
    expect(() => parseTimings('nonsense\n', 'h')).toThrow('h:1: expected "name: count total min max", found "nonsense"');
    expect(() => parseTimings('\n', 'h')).toThrow('h: expected lines');
  });

  it("lays a host's file beside a run's, category by category, with the host's own categories kept", () => {
    const host = parseTimings('guest_entry: 10 3240 324 324\nrm_entry: 4 400 100 100\n', 'h');
    const sim = [{ name: 'guest_entry', count: 5, totalNs: 3825, minNs: 765, maxNs: 765 }];
    const table = compareTimings(host, sim, 'host', 'nestsim');
    const lines = table.trim().split('\n');
    expect(lines[0]).toMatch(/^category\s+host count\s+mean ns\s+min ns\s+max ns\s+nestsim count/);
    expect(lines[1].split(/\s+/)).toEqual(['guest_entry', '10', '324', '324', '324', '5', '765', '765', '765']);
    expect(lines[2].split(/\s+/)).toEqual(['rm_entry', '4', '100', '100', '100', '-', '-', '-', '-']);
  });
});

describe('nestsim timings', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nestsim-timings-'));
  const nestsim = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  it('prints the file for a run document, writes it with -o, and compares with --host', () => {
    const run = join(tmp, 'run.json');
    expect(nestsim('run', join(ROOT, 'configs', 'fault-storm.yaml'), '--vcpus', '1', '--accesses', '5000', '--quiet', '--json', run).status).toBe(0);
    const r = nestsim('timings', run, '--level', 'l1');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => l.split(':')[0])).toEqual([...TIMING_CATEGORIES]);
    const out = join(tmp, 'timings.txt');
    expect(nestsim('timings', run, '-o', out).status).toBe(0);
    expect(parseTimings(readFileSync(out, 'utf8'), out).length).toBe(TIMING_CATEGORIES.length);
    const host = join(tmp, 'host.txt');
    writeFileSync(host, 'guest_entry: 45712 14810688 324 9000\nhypercall: 45712 22878288 200 90000\n');
    const c = nestsim('timings', run, '--host', host);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^hypercall\s+45712\s+500\s/m);
  });

  it('bad input: exit 2 with the file and what was expected, never a stack', () => {
    const stressDoc = join(tmp, 'not-a-run.json');
    writeFileSync(stressDoc, JSON.stringify({ kind: 'stress' }));
    const cases: Array<[string[], string]> = [
      [['timings'], 'timings: expected a run document'],
      [['timings', join(tmp, 'missing.json')], 'cannot read it (ENOENT)'],
      [['timings', stressDoc], 'expected a run document (kind "run"), found kind "stress"'],
      [['timings', stressDoc, '--level', 'l2'], '--level: expected l0 or l1, found "l2"'],
    ];
    for (const [args, message] of cases) {
      const r = nestsim(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
