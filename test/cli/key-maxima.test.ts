/**
 * Every documented maximum of the key table runs: each key with a bound in `nestsim validate
 * --keys` is set to that bound on the shipped default workload, with a short --accesses, and the
 * run finishes (exit 0), no internal error. Keys whose bound is joint with another key's (ways <=
 * entries, the three access ratios summing to at most 1, L1's tables living in its own memory)
 * also set the other key, as their documented constraint asks. Run-length keys (accesses, duration,
 * warm-up) are left out: their maxima are run times, not machines. The list comes from the key
 * table itself, so a new key with a bound is covered without editing this file, and one whose
 * maximum cannot run fails here.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { KEYS } from '../../src/workload/keys.js';
import { formatSize } from '../../src/workload/units.js';
import { CLI, ROOT } from '../helpers/cli.js';

const DEFAULT = join(ROOT, 'configs', 'default.yaml');
const RUN_LENGTH = new Set(['accesses', 'duration', 'warmup']);

/** What a key's joint constraint asks of the others when it is at its maximum (and why). */
const WITH: Readonly<Record<string, { set: Record<string, string>; value?: string }>> = {
  // ways <= entries
  'hardware.tlb.ways': { set: { 'hardware.tlb.entries': '4096' } },
  // l1.memory + l1.mmio <= 64G; no MMIO hole leaves no MMIO accesses
  'l1.memory': { set: { 'l1.mmio': '0', 'workload.mmioRatio': '0' } },
  // the read-only slot is the top of l1.memory, below it; the main slot below holds L1's tables
  'l1.readonly': { set: { 'l1.memory': '64G', 'l1.mmio': '0', 'workload.mmioRatio': '0' }, value: '62G' },
  // l1.memory (2G in the default workload) + l1.mmio <= 64G
  'l1.mmio': { set: {}, value: '62G' },
  // every L1 runs at least one vCPU (l1.count <= vcpus)
  'l1.count': { set: { vcpus: '64' } },
  // every thread runs at least one vCPU (threads <= vcpus)
  threads: { set: { vcpus: '256' } },
  // L1's tables for 4096 guests of 256M take 2401M of L1's own memory
  'guests.count': { set: { 'l1.memory': '4G' } },
  // writeRatio + execRatio + mmioRatio <= 1
  'workload.writeRatio': { set: { 'workload.execRatio': '0', 'workload.mmioRatio': '0' } },
  'workload.execRatio': { set: { 'workload.writeRatio': '0', 'workload.mmioRatio': '0' } },
  'workload.mmioRatio': { set: { 'workload.writeRatio': '0', 'workload.execRatio': '0' } },
  // workingSet <= guests.memory
  'workload.workingSet': { set: { 'guests.memory': '64G' } },
};

const bounded = KEYS.filter((k) => k.max !== undefined && (k.type === 'int' || k.type === 'number' || k.type === 'size') && !RUN_LENGTH.has(k.key));

describe('every documented maximum runs', () => {
  it('the key table has bounded keys to try, and every joint constraint listed here is a real key', () => {
    expect(bounded.length).toBeGreaterThanOrEqual(20);
    const keys = new Set(KEYS.map((k) => k.key));
    for (const [key, w] of Object.entries(WITH)) {
      expect(keys.has(key)).toBe(true);
      for (const other of Object.keys(w.set)) expect(keys.has(other)).toBe(true);
    }
  });

  for (const k of bounded) {
    const value = WITH[k.key]?.value ?? (k.type === 'size' ? formatSize(k.max!) : String(k.max));
    const others = Object.entries(WITH[k.key]?.set ?? {}).flatMap(([o, v]) => ['--set', `${o}=${v}`]);
    it(`${k.key}=${value}${others.length > 0 ? ` (with ${others.filter((_, i) => i % 2 === 1).join(', ')})` : ''}`, { timeout: 120_000 }, () => {
      const r = spawnSync(process.execPath, [CLI, 'run', DEFAULT, '--set', `${k.key}=${value}`, ...others, '--accesses', '10', '--quiet', '--json', '-'], {
        encoding: 'utf8',
        timeout: 110_000,
        maxBuffer: 64 << 20,
      });
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(r.status, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { exitStatus: number; counts: { accesses: number }; run: { vcpus: number } };
      expect(doc.exitStatus).toBe(0);
      expect(doc.counts.accesses).toBeGreaterThan(0);
    });
  }
});
