import { describe, it, expect } from 'vitest';
import { COST_ITEMS } from '../../src/cost/model.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, applyOverrides, loadConfig, parseConfig } from '../../src/workload/config.js';
import { describeKeys } from '../../src/workload/keys.js';
import { KEYS } from '../../src/workload/keys.js';
import type { ResolvedConfig } from '../../src/workload/types.js';

const FILE = 'configs/x.yaml';

/** The ConfigError thrown by `fn` (fails the test if none is thrown). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const messageOf = (yaml: string): string => configError(() => parseConfig(yaml, FILE)).message;

const ROOT_KEYS = 'seed, duration, accesses, warmup, vcpus, threads, protocol, fixes, mutations, basePageSize, hardware, host, l1, guests, workload, actors, audit, stress, schedule, stats, thresholds, cost';

const DEFAULTS: ResolvedConfig = {
  file: '<inline>',
  seed: 1,
  durationMs: 5000,
  accesses: 0,
  warmupAccesses: 0,
  warmupMs: 0,
  vcpus: 2,
  threads: 0,
  protocol: 'mainline',
  fixes: [],
  mutations: [],
  basePageSize: '4K',
  hardware: { rc: 'fault', l1Rc: 'fault', tlbEntries: 64, tlbWays: 4 },
  host: { memoryBytes: 4 * 2 ** 30, backing: { base: 1, '2M': 0, '1G': 0 }, overcommit: false },
  l1: { count: 1, memoryBytes: 2 * 2 ** 30, readonlyBytes: 0, mmioBytes: 0, pageSizes: { base: 1, '2M': 0, '1G': 0 }, dirtyLog: false },
  guests: { count: 1, memoryBytes: 256 * 2 ** 20, vcpuMap: 'spread' },
  workload: {
    pattern: 'uniform', theta: 0.99, hotFraction: 0.1, hotProbability: 0.9,
    writeRatio: 0.3, execRatio: 0, mmioRatio: 0, workingSetBytes: 256 * 2 ** 20, l1Ratio: 0, trace: '', traceSkip: 0, traceLimit: 0, traceRepeat: true,
  },
  actors: {
    l1: { unmap: 0, protect: 0, clean: 0, rangeFlush: 0, lpidFlush: 0, destroy: 0 },
    host: { migrate: 0, swap: 0, age: 0, harvest: 0, memslotFlush: 0, dirtyLogToggle: 0 },
  },
  audit: { perMillion: 0 },
  stress: { pause: 0 },
  schedule: { strategy: 'free', depth: 3, steps: 0, preempt: 1, preemptions: 2 },
  stats: { accessSample: 1024, faultSample: 16 },
  // Every cost item's default cycles (the one table, cost/model.ts), with the sourced ones stated.
  thresholds: [],
  cost: { ...Object.fromEntries(COST_ITEMS.map((c) => [c.name, c.cycles])), model: 'power9', cpuGHz: 3.07, skewCycles: 10_000, exitCycles: 4700, tlbsyncCycles: COST_ITEMS.find((c) => c.name === 'tlbsyncCycles')!.cycles },
};

describe('parseConfig: defaults and values', () => {
  it('an empty file -> every default filled', () => {
    expect(parseConfig('')).toEqual(DEFAULTS);
    expect(parseConfig('# only a comment\n')).toEqual(DEFAULTS);
  });

  it('user forms -> resolved units (bytes, ms), mixes keyed by base', () => {
    const cfg = parseConfig(
      [
        'seed: 9',
        'duration: 2m',
        'vcpus: 8',
        'protocol: fixed',
        'fixes: [p5, p1, p5]',
        'mutations: skip-rmap',
        'basePageSize: 64K',
        'hardware: {rc: auto, tlb: {entries: 128, ways: 8}}',
        'host:',
        '  memory: 8G',
        '  backing: {64K: 1, 2M: 3}',
        'l1:',
        '  memory: 1G',
        '  readonly: 128M',
        '  mmio: 64M',
        '  pageSizes: {base: 1, 1G: 0.5}',
        '  dirtyLog: true',
        'guests: {count: 4, memory: 512M, vcpuMap: packed}',
        'workload: {pattern: zipf, theta: 1.2, writeRatio: 0.5, mmioRatio: 0.1}',
        'actors:',
        '  l1: {unmap: 2.5}',
        '  host: {migrate: 1}',
        'audit: {perMillion: 10}',
      ].join('\n'),
      FILE,
    );
    expect(cfg.file).toBe(FILE);
    expect(cfg.durationMs).toBe(120_000);
    expect(cfg.fixes).toEqual(['p5', 'p1']);
    expect(cfg.mutations).toEqual(['skip-rmap']);
    expect(cfg.hardware).toEqual({ rc: 'auto', l1Rc: 'fault', tlbEntries: 128, tlbWays: 8 });
    expect(cfg.host).toEqual({ memoryBytes: 8 * 2 ** 30, backing: { base: 1, '2M': 3, '1G': 0 }, overcommit: false });
    expect(cfg.l1).toEqual({ count: 1, memoryBytes: 2 ** 30, readonlyBytes: 128 * 2 ** 20, mmioBytes: 64 * 2 ** 20, pageSizes: { base: 1, '2M': 0, '1G': 0.5 }, dirtyLog: true });
    expect(cfg.guests).toEqual({ count: 4, memoryBytes: 512 * 2 ** 20, vcpuMap: 'packed' });
    expect(cfg.workload.workingSetBytes).toBe(512 * 2 ** 20); // follows guests.memory when absent
    expect(cfg.actors.l1.unmap).toBe(2.5);
    expect(cfg.actors.host.migrate).toBe(1);
    expect(cfg.audit.perMillion).toBe(10);
  });

  it('sizes also take plain numbers (bytes); a duration needs its unit', () => {
    const cfg = parseConfig('duration: 750ms\nguests: {memory: 1048576}\n');
    expect(cfg.durationMs).toBe(750);
    expect(cfg.guests.memoryBytes).toBe(2 ** 20);
    expect(messageOf('duration: 750\n')).toBe(
      'configs/x.yaml:1:11: duration: expected a duration 1ms..24h with a unit (ms, s, m or h), like 3s, 500ms or 2m, found 750 (a duration needs its unit: write 3s or 3ms)',
    );
  });

  it('the result is deeply frozen', () => {
    const cfg = parseConfig('fixes: [p1]');
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.workload)).toBe(true);
    expect(Object.isFrozen(cfg.host.backing)).toBe(true);
    expect(Object.isFrozen(cfg.fixes)).toBe(true);
    expect(() => {
      (cfg as { vcpus: number }).vcpus = 3;
    }).toThrow(TypeError);
    expect(() => (cfg.fixes as string[]).push('p2')).toThrow(TypeError);
  });
});

describe('parseConfig: one message per kind of bad input', () => {
  it('unknown key -> known keys at that level and the closest one', () => {
    expect(messageOf('vcpus: 2\nvcpu: 4\n')).toBe(
      `configs/x.yaml:2:1: vcpu: expected one of ${ROOT_KEYS}, found unknown key "vcpu" (did you mean "vcpus"?)`,
    );
    expect(messageOf('hardware:\n  tlb:\n    entires: 32\n')).toBe(
      'configs/x.yaml:3:5: hardware.tlb.entires: expected one of entries, ways, found unknown key "entires" (did you mean "entries"?)',
    );
  });

  it('unknown key with nothing close -> no suggestion', () => {
    expect(messageOf('workload:\n  colour: blue\n')).toBe(
      'configs/x.yaml:2:3: workload.colour: expected one of pattern, theta, hotFraction, hotProbability, writeRatio, execRatio, mmioRatio, workingSet, trace, traceSkip, traceLimit, traceRepeat, l1Ratio, found unknown key "colour"',
    );
  });

  it('wrong type -> expected integer, found the YAML value as JSON', () => {
    const e = configError(() => parseConfig('# x\n\nvcpus: four\n', FILE));
    expect(e.message).toBe('configs/x.yaml:3:8: vcpus: expected integer 1..256, found "four"');
    expect({ file: e.file, line: e.line, col: e.col, key: e.key, expected: e.expected, found: e.found }).toEqual({
      file: FILE, line: 3, col: 8, key: 'vcpus', expected: 'integer 1..256', found: '"four"',
    });
  });

  it('wrong type: a bool key given a string, a group given a scalar, a missing value', () => {
    expect(messageOf('l1:\n  dirtyLog: yes\n')).toBe('configs/x.yaml:2:13: l1.dirtyLog: expected true or false, found "yes"');
    expect(messageOf('host: 4G\n')).toBe('configs/x.yaml:1:7: host: expected a mapping of memory, backing, overcommit, found "4G"');
    expect(messageOf('seed:\n')).toBe('configs/x.yaml:1:1: seed: expected integer 0..4294967295, found null');
    expect(messageOf('- vcpus: 2\n')).toBe(`configs/x.yaml:1:1: expected a mapping of ${ROOT_KEYS}, found [{"vcpus":2}]`);
  });

  it('out of range -> the range in the message', () => {
    expect(messageOf('vcpus: 300\n')).toBe('configs/x.yaml:1:8: vcpus: expected integer 1..256, found 300');
    expect(messageOf('hardware: {tlb: {entries: 48}}\n')).toBe(
      'configs/x.yaml:1:27: hardware.tlb.entries: expected power of two 1..4096, found 48',
    );
    expect(messageOf('workload:\n  theta: 1\n')).toBe('configs/x.yaml:2:10: workload.theta: expected number > 0 and <= 10, not 1, found 1');
    expect(messageOf('workload:\n  writeRatio: 1.5\n')).toBe('configs/x.yaml:2:15: workload.writeRatio: expected number 0..1, found 1.5');
    expect(messageOf('workload:\n  l1Ratio: -0.1\n')).toBe('configs/x.yaml:2:12: workload.l1Ratio: expected number 0..1, found -0.1');
  });

  it('bad enum -> the values and the closest one', () => {
    expect(messageOf('protocol: mainlne\n')).toBe(
      'configs/x.yaml:1:11: protocol: expected one of mainline, fixed, found "mainlne" (did you mean "mainline"?)',
    );
    expect(messageOf('hardware:\n  l1Rc: atuo\n')).toBe(
      'configs/x.yaml:2:9: hardware.l1Rc: expected one of fault, auto, found "atuo" (did you mean "auto"?)',
    );
  });

  it('bad list element -> its index and position', () => {
    expect(messageOf('fixes: [p1, p7]\n')).toBe(
      'configs/x.yaml:1:13: fixes[1]: expected one of p1, p2, p3, p4, p5, p6, found "p7" (did you mean "p1"?)',
    );
  });

  it('bad size string', () => {
    expect(messageOf('guests:\n  memory: 12Q\n')).toBe(
      'configs/x.yaml:2:11: guests.memory: expected size 4K..64G in multiples of 4K (like 512M or 4G), found "12Q"',
    );
    expect(messageOf('host:\n  memory: 6000\n')).toBe(
      'configs/x.yaml:2:11: host.memory: expected size 4K..64G in multiples of 4K (like 512M or 4G), found 6000',
    );
  });

  it('bad duration', () => {
    expect(messageOf('duration: 5 sec\n')).toBe(
      'configs/x.yaml:1:11: duration: expected a duration 1ms..24h with a unit (ms, s, m or h), like 3s, 500ms or 2m, found "5 sec"',
    );
  });

  it('YAML syntax error -> the parser position', () => {
    const e = configError(() => parseConfig('vcpus: 2\nhost:\n  memory: 4G\n   backing: x\n', FILE));
    expect(e.message).toBe('configs/x.yaml:3:11: expected valid YAML, found syntax error: Nested mappings are not allowed in compact mappings');
    expect([e.line, e.col, e.key]).toEqual([3, 11, '']);
    expect(messageOf('seed: 1\nseed: 2\n')).toBe('configs/x.yaml:2:1: expected valid YAML, found syntax error: Map keys must be unique');
  });

  it('cross-key error -> reported on the key written later', () => {
    expect(messageOf('workload:\n  writeRatio: 0.7\n  execRatio: 0.5\n')).toBe(
      'configs/x.yaml:3:3: workload.execRatio: expected writeRatio + execRatio + mmioRatio <= 1 (they add up to 1.2), found 0.5',
    );
    expect(messageOf('workload:\n  execRatio: 0.5\n  writeRatio: 0.7\n')).toBe(
      'configs/x.yaml:3:3: workload.writeRatio: expected writeRatio + execRatio + mmioRatio <= 1 (they add up to 1.2), found 0.7',
    );
    expect(messageOf('guests: {memory: 128M}\nworkload: {workingSet: 256M}\n')).toBe(
      'configs/x.yaml:2:12: workload.workingSet: expected size <= guests.memory (128M), found "256M"',
    );
    expect(messageOf('hardware: {tlb: {ways: 8, entries: 4}}\n')).toBe(
      'configs/x.yaml:1:27: hardware.tlb.entries: expected at least hardware.tlb.ways (8), found 4',
    );
  });

  it('cross-key error: sizes must be multiples of a 64K base page', () => {
    expect(messageOf('basePageSize: 64K\nguests: {memory: 96K}\n')).toBe(
      'configs/x.yaml:2:10: guests.memory: expected size in multiples of the base page 64K (basePageSize), found "96K"',
    );
    expect(messageOf('guests: {memory: 96K}\nbasePageSize: 64K\n')).toBe(
      'configs/x.yaml:2:1: basePageSize: expected a base page that divides guests.memory (96K), found "64K"',
    );
  });

  it('cross-key error: the base page key of a mix must match basePageSize', () => {
    expect(messageOf('basePageSize: 64K\nhost: {backing: {4K: 1}}\n')).toBe(
      'configs/x.yaml:2:18: host.backing.4K: expected base page key "base" or "64K" (basePageSize is 64K), found "4K"',
    );
    expect(messageOf('l1: {pageSizes: {base: 1, 4K: 2}}\n')).toBe(
      'configs/x.yaml:1:27: l1.pageSizes.4K: expected one base page key (base, 4K or 64K), found "4K" after "base"',
    );
    expect(messageOf('host: {backing: {base: 0}}\n')).toBe(
      'configs/x.yaml:1:18: host.backing.base: expected at least one weight of host.backing (base, 2M, 1G) > 0, found 0',
    );
  });

  it('cross-key error: L1 address space, readonly part, MMIO hole', () => {
    expect(messageOf('l1: {memory: 60G, mmio: 8G}\n')).toBe(
      'configs/x.yaml:1:19: l1.mmio: expected size that with l1.memory (60G) stays within 64G of L1 address space, found "8G"',
    );
    expect(messageOf('l1: {memory: 1G, readonly: 1G}\n')).toBe(
      'configs/x.yaml:1:18: l1.readonly: expected size < l1.memory (1G), found "1G"',
    );
    expect(messageOf('workload: {mmioRatio: 0.1}\n')).toBe(
      'configs/x.yaml:1:12: workload.mmioRatio: expected 0 because l1.mmio is 0 (set l1.mmio to give L1 an MMIO hole), found 0.1',
    );
  });
});

describe('loadConfig', () => {
  it('reads a file and labels the config with its path', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nestsim-')), 'w.yaml');
    writeFileSync(path, 'vcpus: 3\n');
    const cfg = loadConfig(path);
    expect(cfg.vcpus).toBe(3);
    expect(cfg.file).toBe(path);
  });

  it('errors in a file carry its path', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nestsim-')), 'bad.yaml');
    writeFileSync(path, 'vcpus: 0\n');
    expect(configError(() => loadConfig(path)).message).toBe(`${path}:1:8: vcpus: expected integer 1..256, found 0`);
  });

  it('missing file -> ConfigError without a position', () => {
    const e = configError(() => loadConfig('configs/does-not-exist.yaml'));
    expect(e.message).toBe('configs/does-not-exist.yaml: expected a readable YAML file, found no such file');
    expect([e.line, e.col]).toEqual([0, 0]);
  });
});

describe('applyOverrides', () => {
  it('CLI flags replace values, --mutation appends', () => {
    const base = parseConfig('mutations: [skip-rmap]\n', FILE);
    const cfg = applyOverrides(base, {
      vcpus: '4', seed: '9', accesses: '1000', duration: '2s', protocol: 'fixed', mutation: ['skip-inval', 'skip-rmap'],
    });
    expect([cfg.vcpus, cfg.seed, cfg.accesses, cfg.durationMs, cfg.protocol]).toEqual([4, 9, 1000, 2000, 'fixed']);
    expect(cfg.mutations).toEqual(['skip-rmap', 'skip-inval']);
    expect(cfg.file).toBe(FILE);
    expect(Object.isFrozen(cfg.mutations)).toBe(true);
    expect(base.vcpus).toBe(2); // the input is untouched
  });

  it('--set takes any dotted key, parsed as YAML', () => {
    const cfg = applyOverrides(parseConfig(''), {
      'host.backing.2M': '3', 'hardware.tlb.entries': '256', 'workload.pattern': 'zipf', 'l1.dirtyLog': 'true', fixes: '[p1, p2]',
    });
    expect(cfg.host.backing['2M']).toBe(3);
    expect(cfg.hardware.tlbEntries).toBe(256);
    expect(cfg.workload.pattern).toBe('zipf');
    expect(cfg.l1.dirtyLog).toBe(true);
    expect(cfg.fixes).toEqual(['p1', 'p2']);
  });

  it('keys the file left out keep following their defaults', () => {
    const cfg = applyOverrides(parseConfig('guests: {count: 2}\n'), { 'guests.memory': '64M' });
    expect(cfg.workload.workingSetBytes).toBe(64 * 2 ** 20);
  });

  it('bad override value -> ConfigError naming the source and key', () => {
    expect(configError(() => applyOverrides(parseConfig(''), { vcpus: 'four' })).message).toBe(
      'command line: vcpus: expected integer 1..256, found "four"',
    );
    expect(configError(() => applyOverrides(parseConfig(''), { 'workload.pattern': 'zipff' }, '--set')).message).toBe(
      '--set: workload.pattern: expected one of uniform, sequential, zipf, hotset, found "zipff" (did you mean "zipf"?)',
    );
  });

  it('unknown override key -> the closest dotted key', () => {
    expect(configError(() => applyOverrides(parseConfig(''), { 'workload.writeRatoi': '0.1' })).message).toBe(
      'command line: workload.writeRatoi: expected a config key (nestsim validate --keys lists them), found unknown key "workload.writeRatoi" (did you mean "workload.writeRatio"?)',
    );
  });

  it('cross-key error: an override is the later key, a file key keeps its position', () => {
    const cfg = parseConfig('workload:\n  execRatio: 0.5\n', FILE);
    expect(configError(() => applyOverrides(cfg, { 'workload.writeRatio': '0.6' })).message).toBe(
      'command line: workload.writeRatio: expected writeRatio + execRatio + mmioRatio <= 1 (they add up to 1.1), found 0.6',
    );
    const e = configError(() => applyOverrides(parseConfig('workload: {workingSet: 128M}\n', FILE), { 'guests.memory': '64M' }));
    expect(e.message).toBe('command line: guests.memory: expected at least workload.workingSet (128M), found "64M"');
  });
});

describe('key table', () => {
  it('covers every field of ResolvedConfig exactly once', () => {
    const fields = KEYS.flatMap((k) => [k.field, ...(k.durationField ? [k.durationField] : [])]).sort();
    expect(new Set(fields).size).toBe(fields.length);
    const leaves = (o: object, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        typeof v === 'object' && v !== null && !Array.isArray(v) ? leaves(v as object, `${prefix}${k}.`) : [`${prefix}${k}`]);
    expect(leaves(DEFAULTS).filter((f) => f !== 'file').sort()).toEqual(fields);
  });

  it('describeKeys renders one Markdown row per key', () => {
    const md = describeKeys();
    const lines = md.trim().split('\n');
    expect(lines[0]).toBe('| key | type | default | unit | doc |');
    expect(lines).toHaveLength(KEYS.length + 2);
    expect(md).toContain('| `vcpus` | integer 1..256 | 2 |  | simulated vCPUs |');
    expect(md).toContain('| `workload.workingSet` |');
    expect(md).toContain('= guests.memory');
  });
});
