/**
 * `nestsim trace`: run a program under Valgrind lackey and write its memory accesses as a
 * nestsim page-level trace (src/workload/trace.ts reads it). Lackey's output is read through a
 * named pipe as it is produced (a real program's trace runs to hundreds of MB), reduced to one
 * record per run of accesses of one type to one 4K page, optionally without the accesses a small
 * TLB would hit, and written (gzip'd when the file name ends in .gz) to a temporary file renamed
 * over the target at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, createReadStream, createWriteStream, mkdtempSync, openSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';
import { TRACE_FORMAT_HEADER } from '../workload/trace.js';
import { UsageError } from './args.js';

export interface TraceSummary {
  /** Data accesses and fetches lackey reported (M counts twice: load and store). */
  accesses: number;
  /** Of those, dropped as hits of the `--tlb` TLB. */
  tlbHits: number;
  records: number;
  distinctPages: number;
  exitCode: number;
  bytes: number;
}

const PAGE_SHIFT = 12;

/** Valgrind's presence, or a usage error naming the package. */
export function requireValgrind(): void {
  const r = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new UsageError('trace: expected valgrind on the PATH (Debian: apt-get install valgrind), found none');
  }
}

/** A fully associative LRU TLB of `entries` pages: `hit(page)` says whether the page was cached, and caches it. */
class LruTlb {
  private readonly pages = new Map<number, true>();
  constructor(private readonly entries: number) {}
  hit(page: number): boolean {
    if (this.pages.delete(page)) {
      this.pages.set(page, true);
      return true;
    }
    this.pages.set(page, true);
    if (this.pages.size > this.entries) this.pages.delete(this.pages.keys().next().value as number);
    return false;
  }
}

/** Write `text` and wait for the stream to drain when it asks to. */
async function put(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((r) => out.once('drain', r));
}

/**
 * Run `command` under lackey and write its trace to `output`. Returns what was written. The
 * program's own output goes to stderr (stdout may be a pipe the trace is not on).
 */
export async function recordTrace(command: readonly string[], output: string, tlbEntries: number): Promise<TraceSummary> {
  requireValgrind();
  const work = mkdtempSync(join(tmpdir(), 'nestsim-trace-'));
  const fifo = join(work, 'lackey');
  const tmpOut = join(dirname(output), `.${basename(output)}.tmp-${process.pid}`);
  try {
    if (spawnSync('mkfifo', [fifo]).status !== 0) throw new UsageError('trace: expected mkfifo (coreutils) to make a pipe for lackey\'s output, found it failing');
    const file = createWriteStream(tmpOut);
    const out: Writable = output.endsWith('.gz') ? createGzip() : file;
    if (out !== file) out.pipe(file);
    const vg = spawn('valgrind', ['--tool=lackey', '--trace-mem=yes', `--log-file=${fifo}`, ...command], { stdio: ['inherit', process.stderr, 'inherit'] });
    const exited = new Promise<number>((resolve, reject) => {
      vg.on('error', reject);
      vg.on('close', (code) => {
        // Valgrind gone before it opened the pipe (a command it could not start): open the
        // write end ourselves, so the reader below sees the end instead of waiting forever.
        try {
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {
          // no reader waiting: it has finished already
        }
        resolve(code ?? 1);
      });
    });
    const tlb = tlbEntries > 0 ? new LruTlb(tlbEntries) : null;
    const pages = new Set<number>();
    const s: TraceSummary = { accesses: 0, tlbHits: 0, records: 0, distinctPages: 0, exitCode: 0, bytes: 0 };
    await put(out, `${TRACE_FORMAT_HEADER} page=${1 << PAGE_SHIFT}\n# ${command.join(' ')}\n`);
    let lastType = '';
    let lastPage = -1;
    let count = 0;
    const flush = async (): Promise<void> => {
      if (count === 0) return;
      await put(out, count === 1 ? `${lastType} ${lastPage.toString(16)}\n` : `${lastType} ${lastPage.toString(16)} ${count}\n`);
      s.records++;
      count = 0;
    };
    const access = async (type: string, addrHex: string): Promise<void> => {
      s.accesses++;
      const page = Math.floor(parseInt(addrHex, 16) / (1 << PAGE_SHIFT));
      pages.add(page);
      if (tlb !== null && tlb.hit(page)) {
        s.tlbHits++;
        return;
      }
      if (type === lastType && page === lastPage) {
        count++;
        return;
      }
      await flush();
      lastType = type;
      lastPage = page;
      count = 1;
    };
    const lines = createInterface({ input: createReadStream(fifo), crlfDelay: Infinity });
    for await (const line of lines) {
      const m = /^(I | L| S| M) ([0-9a-fA-F]+),\d+$/.exec(line);
      if (m === null) continue; // valgrind's own lines (==pid==)
      const kind = m[1];
      if (kind === 'I ') await access('F', m[2]);
      else if (kind === ' L') await access('L', m[2]);
      else if (kind === ' S') await access('S', m[2]);
      else {
        await access('L', m[2]);
        await access('S', m[2]);
      }
    }
    await flush();
    s.exitCode = await exited;
    s.distinctPages = pages.size;
    await new Promise<void>((resolve, reject) => {
      file.on('finish', resolve);
      file.on('error', reject);
      out.end();
    });
    if (s.accesses === 0) throw new UsageError(`trace: expected lackey to report memory accesses of "${command.join(' ')}", found none (did the command start?)`);
    renameSync(tmpOut, output);
    s.bytes = statSync(output).size;
    return s;
  } finally {
    try {
      unlinkSync(tmpOut);
    } catch {
      // renamed, or never made
    }
    rmSync(work, { recursive: true, force: true });
  }
}
