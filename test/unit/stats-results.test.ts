import { describe, expect, it } from 'vitest';

import { COUNTER, COUNTER_COUNT, COUNTER_NAMES, countersToObject, mergeCounters, newCounters } from '../../src/stats/counters.js';
import { Histogram } from '../../src/stats/histogram.js';
import {
  FAULT_KINDS,
  LATENCY_KINDS,
  MAX_VIOLATION_RECORDS,
  buildRunBody,
  type ResultsInput,
  type ViolationRecord,
} from '../../src/stats/results.js';
import { SCHEMA_VERSION, makeHeader, runBodyOf, type RunDocument } from '../../src/stats/document.js';
import { parseConfig } from '../../src/workload/config.js';
import { schemaProblems } from '../helpers/schema.js';

/** A whole run document: a header for a small inline config, and the synthetic body. */
function syntheticDoc(input = syntheticInput()): RunDocument {
  const cfg = parseConfig('vcpus: 2\nseed: 42\n', 'configs/synthetic.yaml');
  return { ...makeHeader('run', cfg, ['run', 'configs/synthetic.yaml'], new Date(Date.UTC(2026, 11, 1, 3, 4, 5))), ...buildRunBody(input) };
}

function vcpuBlock(accesses: number, shadowInserts: number, reflected: number): Float64Array {
  const b = newCounters();
  b[COUNTER.accesses] = accesses;
  b[COUNTER.faultShadowInsert] = shadowInserts;
  b[COUNTER.faultReflected] = reflected;
  return b;
}

function syntheticInput(): ResultsInput {
  const perVcpu = [vcpuBlock(600_000, 40, 10), vcpuBlock(400_000, 30, 20)];
  const counters = newCounters();
  for (const b of perVcpu) mergeCounters(counters, b);
  counters[COUNTER.tlbHits] = 990_000;
  counters[COUNTER.tlbMisses] = 10_000;
  counters[COUNTER.faultHostInstantiate] = 5;
  counters[COUNTER.faultRcFixed] = 7;
  counters[COUNTER.faultRcReflected] = 3;
  counters[COUNTER.faultRetried] = 2;
  counters[COUNTER.faultMmio] = 4;
  counters[COUNTER.faultDsi] = 1;
  counters[COUNTER.faultInval] = 6;
  counters[COUNTER.faultError] = 2;
  counters[COUNTER.tlbiePage] = 11;
  counters[COUNTER.shadowPtesRemoved] = 9;
  counters[COUNTER.mmuLockAcq] = 200;
  counters[COUNTER.mmuLockContended] = 20;
  counters[COUNTER.mmuLockWaitNs] = 123_456;
  counters[COUNTER.tlbLockAcq] = 130;
  counters[COUNTER.migrations] = 8;
  counters[COUNTER.audits] = 3;
  const access = new Histogram();
  for (let i = 1; i <= 1000; i++) access.record(i);
  const shadowInsert = new Histogram();
  shadowInsert.recordN(2_000, 70);
  const violations: ViolationRecord[] = [
    { invariant: 'I1-no-stale-shadow', message: 'stale shadow leaf', vcpu: 1, timeMs: 12.5, lpid: 2, l2Ra: '0x1000', pte: { shadow: '0x8000000000001003' } },
  ];
  return {
    seed: 42,
    vcpus: 2,
    durationMs: 2_000,
    wallMs: 2_345.67,
    counters,
    histograms: { access, shadowInsert },
    violations,
    byInvariant: { 'I1-no-stale-shadow': 1 },
    lostWrites: 0,
    perVcpu,
  };
}

describe('counters', () => {
  it('indices are 0..COUNTER_COUNT-1 in name order, and merge adds element-wise', () => {
    expect(COUNTER_NAMES.length).toBe(COUNTER_COUNT);
    COUNTER_NAMES.forEach((name, i) => expect(COUNTER[name]).toBe(i));
    const a = newCounters();
    const b = newCounters();
    a[COUNTER.stores] = 2;
    b[COUNTER.stores] = 3;
    b[COUNTER.audits] = 1;
    mergeCounters(a, b);
    const o = countersToObject(a);
    expect(o.stores).toBe(5);
    expect(o.audits).toBe(1);
    expect(Object.keys(o)).toHaveLength(COUNTER_COUNT);
  });
});

describe('buildRunBody', () => {
  it('synthetic counters -> the right sums and rates', () => {
    const doc = buildRunBody(syntheticInput());
    expect(doc.counts.accesses).toBe(1_000_000);
    expect(doc.counts.faults.shadowInsert).toBe(70);
    expect(doc.counts.faults.reflected).toBe(30);
    expect(doc.counts.faults.dsi).toBe(1);
    // every faultXxx counter, inval and error included: 70+30+5+7+3+2+4+1+6+2
    expect(doc.counts.faultsTotal).toBe(130);
    expect(doc.throughput.accessesPerSec).toBe(500_000);
    expect(doc.throughput.faultsPerSec).toBe(65);
    expect(doc.run).toMatchObject({ seed: 42, vcpus: 2, durationMs: 2000, wallMs: 2345.7 });
    expect(doc.invalidations.tlbiePage).toBe(11);
    expect(doc.invalidations.shadowPtesRemoved).toBe(9);
    expect(doc.locks.mmuLock).toEqual({ acquisitions: 200, contended: 20, waitNs: 123_456 });
    expect(doc.locks.tlbLock.acquisitions).toBe(130);
    expect(doc.actors.migrations).toBe(8);
    expect(doc.checks).toEqual({ violations: 1, byInvariant: { 'I1-no-stale-shadow': 1 }, byWindow: {}, unexplained: 1, hostOom: 0, overcommit: false, audits: 3, lostWrites: 0 });
    expect(doc.perVcpu).toEqual([
      { vcpu: 0, accesses: 600_000, faults: 50, tlbMisses: 0, mmuLockWaitNs: 0 },
      { vcpu: 1, accesses: 400_000, faults: 50, tlbMisses: 0, mmuLockWaitNs: 0 },
    ]);
    expect(doc.violations[0]).toMatchObject({ invariant: 'I1-no-stale-shadow', l2Ra: '0x1000' });
  });

  it('every latency kind is present; a kind nothing was timed for is null; a histogram carries its buckets', () => {
    const doc = buildRunBody(syntheticInput());
    for (const kind of LATENCY_KINDS) expect(doc.latencyNs[kind]).toBeDefined();
    expect(doc.latencyNs.shadowInsert).toEqual({ count: 70, sumNs: 140_000, mean: 2000, min: 2000, p50: 2000, p90: 2000, p99: 2000, p999: 2000, max: 2000, buckets: [[1984, 70]] }); // 2,000 ns lies in [1,984, 2,048)
    expect(doc.latencyNs.access?.count).toBe(1000);
    expect(doc.latencyNs.access?.max).toBe(1000);
    expect(doc.latencyNs.access?.buckets.reduce((n, [, c]) => n + c, 0)).toBe(1000);
    expect(doc.latencyNs.reflected).toBeNull();
  });

  it('ns totals are integers', () => {
    const input = syntheticInput();
    input.counters[COUNTER.mmuLockWaitNs] = 1234.56;
    const h = new Histogram();
    h.record(10.4);
    h.record(20.3);
    input.histograms = { ...input.histograms, retried: h };
    const doc = buildRunBody(input);
    expect(doc.locks.mmuLock.waitNs).toBe(1235);
    expect(doc.latencyNs.retried?.sumNs).toBe(31);
    expect(Number.isInteger(doc.latencyNs.retried?.mean)).toBe(true);
  });

  it('violation records are capped, the count is not', () => {
    const input = syntheticInput();
    input.violations = Array.from({ length: MAX_VIOLATION_RECORDS + 5 }, (_, i) => ({ invariant: 'I5-no-lost-write', message: 'lost write', vcpu: 0, timeMs: i }));
    input.byInvariant = { 'I5-no-lost-write': MAX_VIOLATION_RECORDS + 5 };
    const doc = buildRunBody(input);
    expect(doc.violations).toHaveLength(MAX_VIOLATION_RECORDS);
    expect(doc.checks.violations).toBe(MAX_VIOLATION_RECORDS + 5);
  });

  it('zero duration -> zero rates, never NaN or Infinity', () => {
    const input = syntheticInput();
    input.durationMs = 0;
    const doc = buildRunBody(input);
    expect(doc.throughput).toEqual({ accessesPerSec: 0, faultsPerSec: 0 });
  });

  it('the document survives a JSON round trip unchanged', () => {
    const doc = syntheticDoc();
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('document header', () => {
  it('names the contract, the tool, the command, the time, the host and the config with its overrides', () => {
    const doc = syntheticDoc();
    expect(doc.schemaVersion).toBe(SCHEMA_VERSION);
    expect(doc.kind).toBe('run');
    expect(doc.tool.name).toBe('nestsim');
    expect(doc.tool.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.tool.version).not.toBe('0.0.0'); // package.json was found from the source tree
    expect(doc.command).toEqual(['nestsim', 'run', 'configs/synthetic.yaml']);
    expect(doc.startedAt).toBe('2026-12-01T03:04:05.000Z');
    expect(doc.host.node).toBe(process.version);
    expect(doc.host.cpus).toBeGreaterThanOrEqual(1);
    expect(doc.config.overrides).toEqual([
      { key: 'vcpus', value: 2, from: 'configs/synthetic.yaml:1' },
      { key: 'seed', value: 42, from: 'configs/synthetic.yaml:2' },
    ]);
    expect(runBodyOf(doc)).toEqual(buildRunBody(syntheticInput()));
  });
});

describe('the shipped schema', () => {
  it('accepts a built document, before and after a JSON round trip', () => {
    expect(schemaProblems(syntheticDoc())).toEqual([]);
    expect(schemaProblems(JSON.parse(JSON.stringify(syntheticDoc())))).toEqual([]);
  });

  it('refuses a missing field, an ill-typed field, a missing latency kind, an unknown invariant and an unknown field, by path', () => {
    const doc = JSON.parse(JSON.stringify(syntheticDoc()));
    delete doc.throughput.faultsPerSec;
    doc.run.seed = 'one';
    delete doc.latencyNs[FAULT_KINDS[2]];
    doc.checks.byInvariant.I1 = 1;
    doc.extra = true;
    const problems = schemaProblems(doc).join('\n');
    expect(problems).toMatch(/\/throughput must have required property 'faultsPerSec'/);
    expect(problems).toMatch(/\/run\/seed must be integer/);
    expect(problems).toMatch(/\/latencyNs must have required property 'reflected'/);
    expect(problems).toMatch(/\/checks\/byInvariant must be equal to one of the allowed values/);
    expect(problems).toMatch(/\(document\) must NOT have unevaluated properties .*extra/);
  });

  it('refuses a histogram of zeros (an empty one is null) and a fractional ns total', () => {
    const doc = JSON.parse(JSON.stringify(syntheticDoc()));
    doc.latencyNs.reflected = { count: 0, sumNs: 0, mean: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, buckets: [] };
    expect(schemaProblems(doc).join('\n')).toMatch(/\/latencyNs\/reflected/);
    const doc2 = JSON.parse(JSON.stringify(syntheticDoc()));
    doc2.locks.mmuLock.waitNs = 1.5;
    expect(schemaProblems(doc2).join('\n')).toMatch(/\/locks\/mmuLock\/waitNs must be integer/);
  });

  it('refuses a document of another major version', () => {
    const doc = JSON.parse(JSON.stringify(syntheticDoc()));
    doc.schemaVersion = '2.0.0';
    expect(schemaProblems(doc).join('\n')).toMatch(/\/schemaVersion must match pattern/);
  });
});
