import { describe, it, expect } from 'vitest';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/workload/units.js';

describe('parseSize', () => {
  it.each([
    ['4K', 4096],
    ['4k', 4096],
    ['512M', 512 * 2 ** 20],
    ['64G', 64 * 2 ** 30],
    ['1T', 2 ** 40],
    ['4KB', 4096],
    ['4KiB', 4096],
    ['2mib', 2 * 2 ** 20],
    ['4 K', 4096],
    ['1.5G', 1.5 * 2 ** 30],
    ['4096', 4096],
    ['4096B', 4096],
    ['0', 0],
  ])('%s -> %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'K', '4X', '-4K', '4KK', '4iB', '4 Ki', '1.5', '0.1K', '4K extra', '1e3', '99999999T'])('%j -> null', (text) => {
    expect(parseSize(text)).toBeNull();
  });
});

describe('parseDuration', () => {
  it.each([
    ['5s', 5000],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['5S', 5000],
    ['10 ms', 10],
  ])('%s -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 's', '5 sec', '-1s', '0.5ms', '5d', '5s5', '250', '3'])('%j -> null', (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe('format', () => {
  it('sizes use the largest exact suffix', () => {
    expect([0, 4096, 2 ** 32, 1536 * 1024, 1000].map(formatSize)).toEqual(['0', '4K', '4G', '1536K', '1000']);
  });

  it('durations use the largest exact unit', () => {
    expect([0, 5000, 120_000, 1500, 3_600_000].map(formatDuration)).toEqual(['0ms', '5s', '2m', '1500ms', '1h']);
  });

  it('round-trips through the parsers', () => {
    for (const b of [4096, 3 * 2 ** 20, 5 * 2 ** 40]) expect(parseSize(formatSize(b))).toBe(b);
    for (const ms of [1, 999, 5000, 7_200_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
