import { describe, expect, it } from 'vitest';

import { renderRunHtml as renderHtml } from '../../src/report/html.js';
import { parseConfig } from '../../src/workload/config.js';
import { fmtCount, fmtNs, renderTable } from '../../src/report/table.js';
import { renderProgress, renderStartupProgress, renderStressProgress } from '../../src/report/progress.js';
import { COUNTER, newCounters } from '../../src/stats/counters.js';
import { Histogram } from '../../src/stats/histogram.js';
import { buildRunBody, type ResultsInput } from '../../src/stats/results.js';
import { makeHeader, type RunDocument } from '../../src/stats/document.js';

/** A run document: a header for `file` (4 vCPUs, zipf) and the body of `i`. */
function buildResults(i: ResultsInput & { file?: string }, yaml = 'vcpus: 4\nseed: 7\nworkload: {pattern: zipf}\n'): RunDocument {
  const cfg = parseConfig(yaml, i.file ?? 'a.yaml');
  return { ...makeHeader('run', cfg, ['run', cfg.file], new Date(0)), ...buildRunBody(i) };
}

function input(file: string, violations = 0): ResultsInput & { file: string } {
  const counters = newCounters();
  counters[COUNTER.accesses] = 1_234_567;
  counters[COUNTER.tlbHits] = 1_200_000;
  counters[COUNTER.tlbMisses] = 34_567;
  counters[COUNTER.faultShadowInsert] = 30_000;
  counters[COUNTER.faultReflected] = 5_000;
  counters[COUNTER.tlbiePage] = 77;
  counters[COUNTER.mmuLockAcq] = 1000;
  counters[COUNTER.mmuLockContended] = 250;
  counters[COUNTER.mmuLockWaitNs] = 2_000_000;
  const shadowInsert = new Histogram();
  shadowInsert.recordN(1_500, 30_000);
  const reflected = new Histogram();
  reflected.recordN(25_000, 5_000);
  return {
    file,
    seed: 7,
    vcpus: 4,
    durationMs: 1_000,
    wallMs: 1_200,
    counters,
    histograms: { shadowInsert, reflected },
    violations: Array.from({ length: violations }, () => ({
      invariant: 'I5-no-lost-write',
      message: 'store <lost> & "dropped"',
      vcpu: 3,
      timeMs: 12.25,
      l1Ra: '0x2000',
    })),
    byInvariant: violations > 0 ? { 'I5-no-lost-write': violations } : {},
    lostWrites: violations,
    perVcpu: [],
  };
}

const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

describe('formatters', () => {
  it('fmtNs picks a human unit with 3 significant digits', () => {
    expect(fmtNs(0)).toBe('0 ns');
    expect(fmtNs(850)).toBe('850 ns');
    expect(fmtNs(999.7)).toBe('1.00 µs');
    expect(fmtNs(1_234)).toBe('1.23 µs');
    expect(fmtNs(45_600_000)).toBe('45.6 ms');
    expect(fmtNs(2e9)).toBe('2.00 s');
  });

  it('fmtCount shortens with one decimal', () => {
    expect(fmtCount(999)).toBe('999');
    expect(fmtCount(35_000)).toBe('35.0k');
    expect(fmtCount(1_234_567)).toBe('1.2M');
    expect(fmtCount(999_999)).toBe('1.0M');
  });
});

describe('renderTable', () => {
  it('contains the header, counts with percentages, latency rows and lock figures', () => {
    const out = renderTable(buildResults(input('configs/default.yaml')), { color: false });
    expect(out).not.toContain('\x1b[');
    expect(out).toContain('configs/default.yaml');
    expect(out).toMatch(/vcpus 4 +seed 7 +protocol mainline/);
    expect(out).toContain('1.2M accesses/s');
    expect(out).toContain('35.0k faults/s');
    expect(out).toMatch(/accesses +1,234,567 +100\.0%/);
    expect(out).toMatch(/shadow insert +30,000 +0\.024\/access/); // faults are a rate per access, not a share
    expect(out).toMatch(/shadow insert +30\.0k +1\.50 µs/);
    expect(out).toMatch(/reflected to L1 +5\.0k +25\.0 µs/);
    expect(out).not.toMatch(/^ +host instantiate +\S+ +\d.*µs/m); // no latency row for an empty kind
    expect(out).toMatch(/mmu_lock +1,000 +250 +25\.0% +2\.00 ms +2\.00 µs/);
    expect(out).toContain('0 violations');
  });

  it('colour: zero violations in green, violations in red with their records', () => {
    const clean = renderTable(buildResults(input('a.yaml')), { color: true });
    expect(clean).toContain('\x1b[32m0 violations\x1b[0m');
    const bad = renderTable(buildResults(input('a.yaml', 2)), { color: true });
    expect(bad).toContain('\x1b[31m2 violations\x1b[0m');
    const plain = stripAnsi(bad);
    expect(plain).toContain('I5-no-lost-write vcpu 3 at 12.3 ms: store <lost> & "dropped" [l1Ra 0x2000]');
  });

  it('a violation seen by the coordinator or an actor (vcpu -1) is named so', () => {
    const i = input('a.yaml', 1);
    i.violations = i.violations.map((v) => ({ ...v, vcpu: -1 }));
    const plain = stripAnsi(renderTable(buildResults(i), { color: false }));
    expect(plain).toContain('I5-no-lost-write coordinator/actor at 12.3 ms');
    expect(plain).not.toContain('vcpu -1');
  });

  it('columns line up (no colour)', () => {
    const out = renderTable(buildResults(input('a.yaml')), { color: false });
    const lines = out.split('\n');
    const ruleIndex = lines.findIndex((l) => l.includes('─') && lines[lines.indexOf(l) - 1]?.includes('p99.9'));
    const header = lines[ruleIndex - 1];
    const row = lines[ruleIndex + 1];
    expect(row.length).toBe(header.length); // right-aligned last column ends where the header ends
  });
});

describe('renderProgress', () => {
  it('shows the time left when known, and the rates it is given (current, not averaged)', () => {
    const line = renderProgress({ elapsedMs: 1000, accesses: 10, faults: 1, violations: 0, accessesPerSec: 5, faultsPerSec: 1, fraction: 0.25, etaMs: 3000 });
    expect(line).toContain('ETA 3.0s');
    expect(line).toContain('10 accesses (5/s)');
    expect(renderProgress({ elapsedMs: 1000, accesses: 10, faults: 1, violations: 0, accessesPerSec: 5, faultsPerSec: 1 })).not.toContain('ETA');
    expect(renderProgress({ elapsedMs: 1000, accesses: 10, faults: 1, violations: 0, accessesPerSec: 5, faultsPerSec: 1, warmingUp: true })).toMatch(/^1\.0s {2}warm-up {2}10 accesses/);
  });

  it('start-up progress: vCPU threads ready of all, elapsed time and a bar', () => {
    expect(renderStartupProgress(8, 16, 1250)).toMatch(/^1\.3s {2}starting vCPU threads: 8 of 16 ready {2}\[█{10}░{10}\]$/);
    expect(renderStartupProgress(16, 16, 2000)).toMatch(/\[█{20}\]$/);
  });

  it('stress progress: rounds, violating rounds so far, elapsed time and a bar', () => {
    const line = renderStressProgress({ round: 4, seed: 9, violations: 2, violatingRounds: 3, elapsedMs: 2500, fraction: 0.5 });
    expect(line).toMatch(/^2\.5s {2}round 5 \(seed 9\): 2 violations {2}3 violating rounds so far {2}\[█+░+\] 50%$/);
  });

  it('one line, no newline, with a bar when the fraction is known', () => {
    const line = renderProgress({ elapsedMs: 2500, accesses: 1_500_000, faults: 35_000, violations: 0, accessesPerSec: 600_000, faultsPerSec: 14_000, fraction: 0.5 });
    expect(line).not.toMatch(/[\r\n]/);
    expect(line).toContain('2.5s');
    expect(line).toContain('1.5M accesses (600.0k/s)');
    expect(line).toContain('50%');
    expect(renderProgress({ elapsedMs: 0, accesses: 0, faults: 0, violations: 1, accessesPerSec: 0, faultsPerSec: 0 })).toContain('1 violation');
  });
});

describe('renderHtml', () => {
  it('escapes a <script> config file name and draws inline SVG charts', () => {
    const doc: RunDocument = buildResults(input('<script>alert(1)</script>.yaml', 1));
    const html = renderHtml(doc);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.yaml');
    expect(html).toContain('store &lt;lost&gt; &amp; &quot;dropped&quot;');
    expect(html).toContain('<svg');
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(3); // fault kinds + 2 latency charts
    expect(html).not.toMatch(/\b(src|href)=/); // self-contained
    expect(html).not.toContain('NaN');
    expect(html).toContain('workload.pattern');
  });

  it('the config table shows keys as users write them, sizes and durations with units', () => {
    const html = renderHtml(buildResults(input('c.yaml'), 'guests: {memory: 64M}\nduration: 2s\nwarmup: 500ms\n'));
    expect(html).toMatch(/<td>guests\.memory<\/td><td>64M<\/td><td>c\.yaml:1<\/td>/);
    expect(html).toMatch(/<td>duration<\/td><td>2s<\/td><td>c\.yaml:2<\/td>/);
    expect(html).toMatch(/<td>warmup<\/td><td>500ms<\/td>/);
    expect(html).toMatch(/<td>vcpus<\/td><td>2<\/td><td>default<\/td>/);
    expect(html).not.toContain('memoryBytes');
  });

  it('renders an empty run without NaN', () => {
    const empty = input('e.yaml');
    empty.counters = newCounters();
    empty.histograms = {};
    const html = renderHtml(buildResults(empty));
    expect(html).not.toContain('NaN');
    expect(html).toContain('No faults.');
  });
});
