/**
 * The built CLI as a user runs it: exit codes, one-line error messages (no stack traces), the
 * results document against the contract, and determinism of a seeded 1-vCPU run.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaProblems } from '../helpers/schema.js';

import { CLI } from '../helpers/cli.js';
const CONFIGS = join(__dirname, '..', '..', 'configs');
const tmp = mkdtempSync(join(tmpdir(), 'nestsim-cli-'));

function nestsim(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('nestsim CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const r = nestsim('--help');
    expect(r.code).toBe(0);
    for (const c of ['run', 'stress', 'validate', 'sweep']) expect(r.stdout).toContain(`nestsim ${c}`);
    expect(nestsim('run', '--help').stdout).toContain('--accesses N');
  });

  it('unknown command -> exit 2 with a one-line message', () => {
    const r = nestsim('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('nestsim: unknown command "frobnicate" (expected run, stress, validate, sweep, trace, timings, compare, merge or replay)');
  });

  it('bad config value -> exit 2 naming file, line, column, key, expected and found', () => {
    const f = join(tmp, 'bad.yaml');
    writeFileSync(f, 'seed: 1\nvcpus: four\n');
    const r = nestsim('run', f, '--quiet');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:2:8: vcpus: expected integer 1\.\.256, found "four"/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('unknown mutation -> exit 2 listing the known ones', () => {
    const r = nestsim('run', join(CONFIGS, 'default.yaml'), '--mutation', 'skip-everything', '--quiet');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('skip-mmu-seq-check');
    expect(r.stderr).toContain('"skip-everything"');
  });

  it('missing config file -> exit 2', () => {
    const r = nestsim('validate', join(tmp, 'nope.yaml'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected a readable YAML file, found no such file');
  });

  it('unknown option -> exit 2', () => {
    const r = nestsim('run', join(CONFIGS, 'default.yaml'), '--frobs', '3');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option --frobs');
  });

  it('validate prints the resolved config with defaults filled', () => {
    const r = nestsim('validate', join(CONFIGS, 'default.yaml'));
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(json.vcpus).toBe(2);
    expect(json.hardware.rc).toBe('fault');
  });

  it('every shipped config validates', () => {
    for (const c of ['default', 'thp', 'invalidation-storm', 'host-pressure', 'dirty-log', 'many-guests', 'fault-storm']) {
      expect(nestsim('validate', join(CONFIGS, `${c}.yaml`)).code, c).toBe(0);
    }
  });

  it('run --json writes a document that meets the contract; exit 0 when clean', () => {
    const out = join(tmp, 'r.json');
    const r = nestsim('run', join(CONFIGS, 'default.yaml'), '--vcpus', '1', '--accesses', '20000', '--json', out, '--quiet');
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(schemaProblems(doc)).toEqual([]);
    expect(doc.counts.accesses).toBe(20000);
    expect(doc.checks.violations).toBe(0);
    expect(doc.run.vcpus).toBe(1);
    expect(doc.config.seed).toBe(1);
  });

  it('a seeded 1-vCPU --accesses run is deterministic', () => {
    const a = join(tmp, 'a.json');
    const b = join(tmp, 'b.json');
    for (const f of [a, b]) {
      const r = nestsim('run', join(CONFIGS, 'default.yaml'), '--vcpus', '1', '--accesses', '30000', '--seed', '9', '--json', f, '--quiet');
      expect(r.code).toBe(0);
    }
    const da = JSON.parse(readFileSync(a, 'utf8'));
    const db = JSON.parse(readFileSync(b, 'utf8'));
    expect(da.counts).toEqual(db.counts);
    expect(da.invalidations).toEqual(db.invalidations);
    expect(da.actors).toEqual(db.actors);
    expect(da.counts.faultsTotal).toBeGreaterThan(0);
  });

  it('a run with a protection removed that breaks an invariant exits 1 and names it', () => {
    // M12: permissions from L0 only. L1 write-protects pages (actor), L2 stores anyway.
    const r = nestsim(
      'run', join(CONFIGS, 'default.yaml'), '--vcpus', '1', '--accesses', '40000', '--mutation', 'ignore-l1-perm',
      '--set', 'actors.l1.protect=20', '--set', 'audit.perMillion=200', '--no-color',
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('I2-permissions');
  });

  it("L1's own accesses (workload.l1Ratio, hardware.l1Rc auto): counted in the document, clean exit 0", () => {
    const out = join(tmp, 'l1.json');
    const r = nestsim(
      'run', join(CONFIGS, 'dirty-log.yaml'), '--vcpus', '1', '--accesses', '20000', '--set', 'workload.l1Ratio=0.3',
      '--set', 'hardware.l1Rc=auto', '--set', 'actors.host.harvest=2', '--json', out, '--quiet',
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(schemaProblems(doc)).toEqual([]);
    expect(doc.counts.accesses).toBe(20000);
    expect(doc.counts.l1Accesses).toBeGreaterThan(0);
    expect(doc.counts.l1Accesses).toBeLessThan(20000);
    expect(doc.counts.faults.l1Direct).toBeGreaterThan(0);
    expect(doc.counts.l1HwRcSets).toBeGreaterThan(0);
    // L1's faults go through the vCPU's one statistics path: counted exactly, timed one fault in
    // stats.faultSample (16) like every nested fault.
    expect(doc.latencyNs.l1Direct?.count).toBeGreaterThan(0);
    expect(doc.latencyNs.l1Direct?.count).toBeLessThan(doc.counts.faults.l1Direct);
    expect(doc.checks.violations).toBe(0);
  });

  it('bad hardware.l1Rc -> exit 2 naming the key', () => {
    const r = nestsim('run', join(CONFIGS, 'default.yaml'), '--set', 'hardware.l1Rc=sometimes');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('nestsim: --set: hardware.l1Rc: expected one of fault, auto, found "sometimes"');
  });

  it('run prints the readable report', () => {
    const r = nestsim('run', join(CONFIGS, 'default.yaml'), '--vcpus', '1', '--accesses', '5000', '--no-color');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Throughput');
    expect(r.stdout).toContain('mmu_lock');
  });
});

describe('README', () => {
  it('shows the test command and the config reference generated from the key table', async () => {
    const { describeKeys } = await import('../../src/workload/keys.js');
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain('npm test');
    expect(readme).toContain(describeKeys().trim());
  });
});
