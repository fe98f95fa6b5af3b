/**
 * Memory traces of real programs, replayed through the nested fault path (docs/traces.md).
 *
 * Two input formats, plain or gzip'd (detected by the gzip magic bytes), read as a stream (never
 * whole): Valgrind lackey's `--trace-mem=yes` output (`I` fetch, ` L` load, ` S` store, ` M` load
 * then store, `==pid==` lines skipped), and nestsim's page-level format (a header line
 * `nestsim-trace 1 page=4096`, then one record per line: `L|S|F <page, hex> [count]`).
 *
 * `convertTrace` turns a trace into the replay form the vCPUs read: a binary file of
 * (type << 28 | guest page, repeat count) pairs. Guest pages are assigned by first touch: the
 * trace's pages (at the guest's base-page size) get consecutive guest pages in the order the
 * program first touches them, after the pages L1 maps onto its read-only slot, folded modulo the
 * rest when the program touches more pages than the guest has. So valgrind's fixed layout (text
 * near 0x400000, heap, stack near 0x1fff000000) lands compactly in the guest, in touch order.
 */
import { createReadStream, closeSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hashHex, zlib } from '../util/lazy.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ConfigError } from './config.js';

import { CHUNK_RECORDS, TRACE_FETCH, TRACE_LOAD, TRACE_STORE, TYPE_BITS } from './trace-reader.js';

export { TRACE_FETCH, TRACE_LOAD, TRACE_STORE, TraceReader } from './trace-reader.js';

/** The page-level format's header: its name and version. */
export const TRACE_FORMAT_HEADER = 'nestsim-trace 1';

/** Where the trace's pages go in the guest: base pages [first, first + count). */
export interface TraceTarget {
  /** Guest base-page size (bytes): the granularity of first-touch placement. */
  readonly pageBytes: number;
  readonly firstPage: number;
  readonly pages: number;
  readonly skip: number;
  /** Accesses after the skip (0 = all). */
  readonly limit: number;
}

export interface ConvertedTrace {
  /** The replay file: (type << 28 | page, count) Int32 pairs. */
  readonly file: string;
  readonly records: number;
  readonly accesses: number;
  readonly distinctPages: number;
  /** Distinct pages beyond the guest's room, folded onto earlier ones (0 when all fit). */
  readonly foldedPages: number;
  readonly format: 'lackey' | 'nestsim';
}

/** A stream of the file's bytes, gunzipped when it starts with the gzip magic bytes. */
function openTrace(path: string): Readable {
  const fd = openSync(path, 'r');
  const magic = Buffer.alloc(2);
  const n = readSync(fd, magic, 0, 2, 0);
  closeSync(fd);
  const raw = createReadStream(path);
  return n === 2 && magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(zlib().createGunzip()) : raw;
}

/** Appends (type, page, count) pairs to the replay file in chunks, merging repeats. */
class ReplayWriter {
  private readonly buf = new Int32Array(CHUNK_RECORDS * 2);
  private n = 0;
  private lastKey = -1;
  records = 0;
  accesses = 0;

  constructor(private readonly fd: number) {}

  add(type: number, page: number, count: number): void {
    const key = (type << TYPE_BITS) | page;
    this.accesses += count;
    if (key === this.lastKey && this.n > 0) {
      this.buf[this.n * 2 - 1] += count;
      return;
    }
    if (this.n === CHUNK_RECORDS) this.flush();
    this.buf[this.n * 2] = key;
    this.buf[this.n * 2 + 1] = count;
    this.n++;
    this.records++;
    this.lastKey = key;
  }

  flush(): void {
    if (this.n > 0) writeSync(this.fd, new Uint8Array(this.buf.buffer, 0, this.n * 8));
    this.n = 0;
    this.lastKey = -1;
  }
}

/** Longest trace line read (lackey's are under 30 bytes; a longer one is an error). */
const MAX_LINE = 256;

/** The cache of converted traces, by input file, its size and time, and the target. */
const converted = new Map<string, ConvertedTrace>();

let cleanupRegistered = false;

/** Replay files are this process's: every one converted is removed when the process exits. */
function removeAtExit(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.once('exit', () => {
    for (const t of converted.values()) {
      try {
        unlinkSync(t.file);
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Convert trace `path` for `target` into a replay file (cached per process by the file's path,
 * size, modification time and the target). A line that is neither format's is a ConfigError
 * naming the file and line; an unreadable file too.
 */
export async function convertTrace(path: string, target: TraceTarget): Promise<ConvertedTrace> {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ConfigError(path, 0, 0, 'workload.trace', 'a readable trace file', 'no such file');
  }
  if (!st.isFile()) throw new ConfigError(path, 0, 0, 'workload.trace', 'a regular trace file', st.isDirectory() ? 'a directory' : 'not a regular file');
  const key = JSON.stringify([path, st.size, st.mtimeMs, target]);
  const hit = converted.get(key);
  if (hit !== undefined) return hit;
  const file = join(tmpdir(), `nestsim-trace-${process.pid}-${hashHex('sha1', key).slice(0, 12)}.bin`);
  const fd = openSync(file, 'w');
  const out = new ReplayWriter(fd);
  const placed = new Map<number, number>();
  let skip = target.skip;
  let left = target.limit > 0 ? target.limit : Infinity;
  let format: 'lackey' | 'nestsim' | undefined;
  let tracePageBytes = target.pageBytes;
  const emit = (type: number, addr: number, count: number): void => {
    if (skip > 0) {
      const s = Math.min(skip, count);
      skip -= s;
      count -= s;
    }
    if (count <= 0 || left <= 0) return;
    count = Math.min(count, left);
    left -= count;
    const key = Math.floor(addr / target.pageBytes);
    let slot = placed.get(key);
    if (slot === undefined) placed.set(key, (slot = placed.size));
    out.add(type, target.firstPage + (slot % target.pages), count);
  };
  let lineNo = 0;
  // Lines are scanned byte by byte from the stream's chunks into one reused buffer: nothing is
  // allocated per record (a string is made only for the header line and for an error message).
  const line = new Uint8Array(MAX_LINE);
  let len = 0;
  const text = (): string => Buffer.from(line.subarray(0, len)).toString('latin1');
  const bad = (expected: string): never => {
    const t = text();
    throw new ConfigError(path, lineNo, 1, 'workload.trace', expected, JSON.stringify(t.length > 60 ? `${t.slice(0, 57)}...` : t));
  };
  /** Hex number in line[from..), stopping at the first non-hex byte; `scanEnd` is set there. -1 when none. */
  let scanEnd = 0;
  const hex = (from: number): number => {
    let v = 0;
    let i = from;
    for (; i < len; i++) {
      const c = line[i];
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      v = v * 16 + d;
    }
    scanEnd = i;
    return i === from ? -1 : v;
  };
  const decimal = (from: number): number => {
    let v = 0;
    let i = from;
    for (; i < len && line[i] >= 48 && line[i] <= 57; i++) v = v * 10 + (line[i] - 48);
    scanEnd = i;
    return i === from ? -1 : v;
  };
  const LACKEY_EXPECTED = 'a lackey record ("I  addr,size", " L addr,size", " S addr,size" or " M addr,size")';
  const PAGE_EXPECTED = 'a record "L|S|F <page, hex> [count]"';
  const processLine = (): void => {
    lineNo++;
    if (len > 0 && line[len - 1] === 13) len--; // CRLF
    if (len === 0 || line[0] === 35 /* # */) return;
    if (format === undefined) {
      const t = text();
      if (t.startsWith(TRACE_FORMAT_HEADER)) {
        const m = /^nestsim-trace 1 page=(\d+)\s*$/.exec(t);
        if (m === null || !(Number(m[1]) >= 1)) bad(`"${TRACE_FORMAT_HEADER} page=<bytes>"`);
        tracePageBytes = Number(m![1]);
        format = 'nestsim';
        return;
      }
      if (t.startsWith('nestsim-trace')) bad(`"${TRACE_FORMAT_HEADER} page=<bytes>" (a format version this nestsim reads)`);
      format = 'lackey';
    }
    if (format === 'lackey') {
      if (line[0] === 61 /* = */) return;
      // "I  addr,size" or " X addr,size" (X = L, S, M): the address starts at byte 3.
      const k = line[0] === 73 /* I */ && line[1] === 32 && line[2] === 32 ? 73 : line[0] === 32 && line[2] === 32 ? line[1] : 0;
      if (k !== 73 && k !== 76 && k !== 83 && k !== 77) bad(LACKEY_EXPECTED);
      const addr = hex(3);
      if (addr < 0 || scanEnd >= len || line[scanEnd] !== 44 /* , */ || decimal(scanEnd + 1) < 0 || scanEnd !== len) bad(LACKEY_EXPECTED);
      if (k === 73) emit(TRACE_FETCH, addr, 1);
      else if (k === 76) emit(TRACE_LOAD, addr, 1);
      else if (k === 83) emit(TRACE_STORE, addr, 1);
      else {
        emit(TRACE_LOAD, addr, 1);
        emit(TRACE_STORE, addr, 1);
      }
      return;
    }
    const c = line[0];
    const type = c === 76 ? TRACE_LOAD : c === 83 ? TRACE_STORE : c === 70 ? TRACE_FETCH : -1;
    if (type < 0 || line[1] !== 32) bad(PAGE_EXPECTED);
    const page = hex(2);
    if (page < 0) bad(PAGE_EXPECTED);
    let count = 1;
    if (scanEnd < len) {
      if (line[scanEnd] !== 32) bad(PAGE_EXPECTED);
      count = decimal(scanEnd + 1);
      if (scanEnd !== len) bad(PAGE_EXPECTED);
      if (!(count >= 1) || !Number.isSafeInteger(count)) bad('a repeat count >= 1');
    }
    emit(type, page * tracePageBytes, count);
  };
  try {
    for await (const chunk of openTrace(path) as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === 10) {
          processLine();
          len = 0;
          if (left <= 0) break;
        } else if (len < MAX_LINE) line[len++] = b;
        else {
          lineNo++;
          bad(`a line of at most ${MAX_LINE} bytes`);
        }
      }
      if (left <= 0) break;
    }
    if (len > 0 && left > 0) processLine(); // a last line without its newline
  } catch (e) {
    closeSync(fd);
    unlinkSync(file);
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(path, lineNo, 0, 'workload.trace', 'a readable trace (plain or gzip)', (e as Error).message.split('\n')[0]);
  }
  out.flush();
  closeSync(fd);
  if (out.records === 0) {
    unlinkSync(file);
    throw new ConfigError(path, 0, 0, 'workload.trace', 'a trace with at least one access (after workload.traceSkip)', 'none');
  }
  const result: ConvertedTrace = {
    file,
    records: out.records,
    accesses: out.accesses,
    distinctPages: placed.size,
    foldedPages: Math.max(0, placed.size - target.pages),
    format: format ?? 'lackey',
  };
  removeAtExit();
  converted.set(key, result);
  return result;
}
