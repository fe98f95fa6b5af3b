/**
 * Trace formats and replay (src/workload/trace.ts): lackey and nestsim's page-level format, plain
 * and gzip'd, read as a stream; first-touch placement in the guest and folding; skip and limit;
 * malformed lines as errors naming file and line; the vCPU's reader wrapping or stopping.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRACE_FETCH, TRACE_LOAD, TRACE_STORE, TraceReader, convertTrace, type TraceTarget } from '../../src/workload/trace.js';
import { ConfigError } from '../../src/workload/config.js';

const dir = mkdtempSync(join(tmpdir(), 'nestsim-trace-test-'));
let k = 0;
function file(text: string, gz = false): string {
  const f = join(dir, `t${k++}${gz ? '.gz' : ''}`);
  writeFileSync(f, gz ? gzipSync(text) : text);
  return f;
}
const TARGET: TraceTarget = { pageBytes: 4096, firstPage: 10, pages: 100, skip: 0, limit: 0 };

/** Every access of a converted trace, as [type, page], by reading it with one reader. */
async function accesses(path: string, target = TARGET): Promise<Array<[number, number]>> {
  const t = await convertTrace(path, target);
  const r = new TraceReader(t.file, t.records, 0, false);
  const out: Array<[number, number]> = [];
  for (;;) {
    const page = r.next();
    if (r.done) break;
    out.push([r.type, page]);
  }
  r.close();
  expect(out).toHaveLength(t.accesses);
  return out;
}

const LACKEY = `==1== Lackey, an example Valgrind tool
==1== Command: demo
I  0401ab70,3
 L 1fff000768,8
 S 1fff000760,8
 M 0060a000,4
I  0401b770,1
`;

describe('lackey traces', () => {
  it('I fetch, L load, S store, M load then store; pages placed by first touch after the read-only pages', async () => {
    expect(await accesses(file(LACKEY))).toEqual([
      [TRACE_FETCH, 10], // 0x0401a page: first touched -> guest page 10
      [TRACE_LOAD, 11], // the stack page
      [TRACE_STORE, 11],
      [TRACE_LOAD, 12], // M: load then store
      [TRACE_STORE, 12],
      [TRACE_FETCH, 13], // 0x0401b: the next text page, first touched now
    ]);
  });

  it('gzip is detected by its magic bytes and gives the same accesses', async () => {
    expect(await accesses(file(LACKEY, true))).toEqual(await accesses(file(LACKEY)));
  });

  it('a malformed line names the file and line (exit 2 on the command line)', async () => {
    const f = file(`${LACKEY} X 1234,8\n`);
    await expect(convertTrace(f, TARGET)).rejects.toThrow(new RegExp(`^${f.replace(/[.]/g, '\\.')}:8:1: workload\\.trace: expected a lackey record .* found " X 1234,8"$`));
    await expect(convertTrace(f, TARGET)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("nestsim's page-level format", () => {
  const PAGES = `nestsim-trace 1 page=4096
# a comment
L 400 3
S 400
F 1fff000 2
L 7
`;

  it('records with repeat counts, in the page size of the header', async () => {
    expect(await accesses(file(PAGES))).toEqual([
      [TRACE_LOAD, 10],
      [TRACE_LOAD, 10],
      [TRACE_LOAD, 10],
      [TRACE_STORE, 10],
      [TRACE_FETCH, 11],
      [TRACE_FETCH, 11],
      [TRACE_LOAD, 12],
    ]);
  });

  it('on a 64K base page, 4K trace pages in one 64K page share a guest page', async () => {
    const t = await accesses(file('nestsim-trace 1 page=4096\nL 10\nL 11\nL 1f\nL 20\n'), { ...TARGET, pageBytes: 65536 });
    expect(t.map(([, p]) => p)).toEqual([10, 10, 10, 11]);
  });

  it('more pages than the guest has room for fold modulo the room, and say so', async () => {
    const t = await convertTrace(file('nestsim-trace 1 page=4096\nL 1\nL 2\nL 3\nL 4\nL 5\n'), { ...TARGET, pages: 3 });
    expect(t).toMatchObject({ distinctPages: 5, foldedPages: 2 });
    expect((await accesses(file('nestsim-trace 1 page=4096\nL 1\nL 2\nL 3\nL 4\nL 5\n'), { ...TARGET, pages: 3 })).map(([, p]) => p)).toEqual([10, 11, 12, 10, 11]);
  });

  it('skip and limit count accesses, repeat counts included', async () => {
    const t = await accesses(file(PAGES), { ...TARGET, skip: 2, limit: 3 });
    expect(t).toEqual([
      [TRACE_LOAD, 10],
      [TRACE_STORE, 10],
      [TRACE_FETCH, 11],
    ]);
  });

  it('another format version, a bad record and an empty trace are refused with file and line', async () => {
    await expect(convertTrace(file('nestsim-trace 2 page=4096\nL 1\n'), TARGET)).rejects.toThrow(/:1:1: workload\.trace: expected "nestsim-trace 1 page=<bytes>" \(a format version this nestsim reads\)/);
    await expect(convertTrace(file('nestsim-trace 1 page=4096\nL 1\nQ 2\n'), TARGET)).rejects.toThrow(/:3:1: workload\.trace: expected a record "L\|S\|F <page, hex> \[count\]", found "Q 2"/);
    await expect(convertTrace(file('nestsim-trace 1 page=4096\n'), TARGET)).rejects.toThrow(/workload\.trace: expected a trace with at least one access/);
    await expect(convertTrace(join(dir, 'missing'), TARGET)).rejects.toThrow(/missing: workload\.trace: expected a readable trace file, found no such file/);
  });
});

describe("a vCPU's reader", () => {
  it('starts at its offset and wraps at the end (repeat), or stops after its pass', async () => {
    const t = await convertTrace(file('nestsim-trace 1 page=4096\nL 1\nS 2\nF 3\n'), TARGET);
    const wrap = new TraceReader(t.file, t.records, 1, true);
    const seen = Array.from({ length: 5 }, () => [wrap.next(), wrap.type]);
    expect(seen).toEqual([
      [11, TRACE_STORE],
      [12, TRACE_FETCH],
      [10, TRACE_LOAD],
      [11, TRACE_STORE],
      [12, TRACE_FETCH],
    ]);
    wrap.close();
    const once = new TraceReader(t.file, t.records, 1, false);
    once.next();
    once.next();
    expect(once.done).toBe(false);
    once.next();
    expect(once.done).toBe(true);
    once.close();
  });
});
