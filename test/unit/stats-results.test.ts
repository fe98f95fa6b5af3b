import { describe, expect, it } from 'vitest';

import { COUNTER, COUNTER_COUNT, COUNTER_NAMES, countersToObject, mergeCounters, newCounters } from '../../src/stats/counters.js';
import { Histogram } from '../../src/stats/histogram.js';
import {
  FAULT_KINDS,
  LATENCY_KINDS,
  MAX_VIOLATION_RECORDS,
  buildResults,
  validateResultsShape,
  type ResultsInput,
  type ViolationRecord,
} from '../../src/stats/results.js';

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
    { invariant: 'I1', message: 'stale shadow leaf', vcpu: 1, timeMs: 12.5, lpid: 2, l2Ra: '0x1000', pte: { shadow: '0x8000000000001003' } },
  ];
  return {
    config: { file: 'configs/default.yaml', protocol: 'mainline', vcpus: 2, nested: { a: [1, 2] } },
    seed: 42,
    vcpus: 2,
    durationMs: 2_000,
    wallMs: 2_345.67,
    counters,
    histograms: { access, shadowInsert },
    violations,
    byInvariant: { I1: 1 },
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

describe('buildResults', () => {
  it('synthetic counters -> the right sums and rates', () => {
    const doc = buildResults(syntheticInput());
    expect(doc.tool.name).toBe('nestsim');
    expect(doc.tool.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.tool.version).not.toBe('0.0.0'); // package.json was found from the source tree
    expect(doc.counts.accesses).toBe(1_000_000);
    expect(doc.counts.faults.shadowInsert).toBe(70);
    expect(doc.counts.faults.reflected).toBe(30);
    expect(doc.counts.faults.dsi).toBe(1);
    // every faultXxx counter, inval and error included: 70+30+5+7+3+2+4+1+6+2
    expect(doc.counts.faultsTotal).toBe(130);
    expect(doc.throughput.accessesPerSec).toBe(500_000);
    expect(doc.throughput.faultsPerSec).toBe(65);
    expect(doc.run).toMatchObject({ seed: 42, vcpus: 2, durationMs: 2000, wallMs: 2345.7 });
    expect(doc.run.node).toBe(process.version);
    expect(doc.invalidations.tlbiePage).toBe(11);
    expect(doc.invalidations.shadowPtesRemoved).toBe(9);
    expect(doc.locks.mmuLock).toEqual({ acquisitions: 200, contended: 20, waitNs: 123_456 });
    expect(doc.locks.tlbLock.acquisitions).toBe(130);
    expect(doc.actors.migrations).toBe(8);
    expect(doc.checks).toEqual({ violations: 1, byInvariant: { I1: 1 }, byWindow: {}, unexplained: 1, hostOom: 0, overcommit: false, audits: 3, lostWrites: 0 });
    expect(doc.perVcpu).toEqual([
      { vcpu: 0, accesses: 600_000, faults: 50 },
      { vcpu: 1, accesses: 400_000, faults: 50 },
    ]);
    expect(doc.violations[0]).toMatchObject({ invariant: 'I1', l2Ra: '0x1000' });
    expect(doc.config).toEqual({ file: 'configs/default.yaml', protocol: 'mainline', vcpus: 2, nested: { a: [1, 2] } });
  });

  it('every latency kind is present; unrecorded kinds are all-zero summaries', () => {
    const doc = buildResults(syntheticInput());
    for (const kind of LATENCY_KINDS) expect(doc.latencyNs[kind]).toBeDefined();
    expect(doc.latencyNs.shadowInsert).toEqual({ count: 70, mean: 2000, p50: 2000, p90: 2000, p99: 2000, p999: 2000, max: 2000 });
    expect(doc.latencyNs.access.count).toBe(1000);
    expect(doc.latencyNs.access.max).toBe(1000);
    expect(doc.latencyNs.reflected).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });

  it('violation records are capped, the count is not', () => {
    const input = syntheticInput();
    input.violations = Array.from({ length: MAX_VIOLATION_RECORDS + 5 }, (_, i) => ({ invariant: 'I5', message: 'lost write', vcpu: 0, timeMs: i }));
    input.byInvariant = { I5: MAX_VIOLATION_RECORDS + 5 };
    const doc = buildResults(input);
    expect(doc.violations).toHaveLength(MAX_VIOLATION_RECORDS);
    expect(doc.checks.violations).toBe(MAX_VIOLATION_RECORDS + 5);
  });

  it('zero duration -> zero rates, never NaN or Infinity', () => {
    const input = syntheticInput();
    input.durationMs = 0;
    const doc = buildResults(input);
    expect(doc.throughput).toEqual({ accessesPerSec: 0, faultsPerSec: 0 });
  });

  it('the document survives a JSON round trip unchanged', () => {
    const doc = buildResults(syntheticInput());
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('validateResultsShape', () => {
  it('accepts a built document', () => {
    expect(validateResultsShape(buildResults(syntheticInput()))).toEqual([]);
    expect(validateResultsShape(JSON.parse(JSON.stringify(buildResults(syntheticInput()))))).toEqual([]);
  });

  it('flags a missing field, an ill-typed field and a missing latency kind by path', () => {
    const doc = JSON.parse(JSON.stringify(buildResults(syntheticInput())));
    delete doc.throughput.faultsPerSec;
    doc.run.node = 20;
    delete doc.latencyNs[FAULT_KINDS[2]];
    doc.checks.byInvariant.I1 = 'one';
    const problems = validateResultsShape(doc);
    expect(problems).toContain('throughput.faultsPerSec: expected finite number, found undefined');
    expect(problems).toContain('run.node: expected string, found number');
    expect(problems).toContain('latencyNs.reflected: expected object, found undefined');
    expect(problems).toContain('checks.byInvariant.I1: expected finite number, found "one"');
    expect(problems).toHaveLength(4);
  });

  it('rejects a non-object', () => {
    expect(validateResultsShape(null)).toEqual(['(document): expected object, found null']);
    expect(validateResultsShape([])).toEqual(['(document): expected object, found array']);
  });
});
