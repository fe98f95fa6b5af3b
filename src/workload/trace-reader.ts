/**
 * The vCPU side of trace replay (src/workload/trace.ts converts the traces): reading a replay file
 * of (type << 28 | guest page, repeat count) Int32 pairs. Kept apart from the converter so the
 * vCPU worker loads neither the YAML parser nor the stream machinery.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Access types, as the vCPU loop numbers them (hw/walker.ts ACCESS_*). */
export const TRACE_LOAD = 0;
export const TRACE_STORE = 1;
export const TRACE_FETCH = 2;
/** A record's key: type in the bits above TYPE_BITS, guest page below. */
export const TYPE_BITS = 28;
const PAGE_MASK = (1 << TYPE_BITS) - 1;
/** Records per chunk of the replay file (read and written 8 bytes per record). */
export const CHUNK_RECORDS = 16384;

/**
 * A vCPU's replay of a converted trace: reads the replay file in chunks (synchronously, on the
 * vCPU's own thread; nothing allocated per access), from record `start`, wrapping at the end
 * when `repeat`. After `next()`, `type` holds the access's type; `done` turns true at the end of
 * a pass without repeat.
 */
export class TraceReader {
  type = 0;
  done = false;
  private readonly fd: number;
  private readonly buf = new Int32Array(CHUNK_RECORDS * 2);
  private at = 0; // record index in the file of buf[0]
  private n = 0; // records in buf
  private i = 0; // current record in buf
  private left = 0; // repeats left of the current record
  private page = 0;

  constructor(
    file: string,
    private readonly records: number,
    start: number,
    private readonly repeat: boolean,
  ) {
    this.fd = openSync(file, 'r');
    this.load(start % records);
  }

  private load(record: number): void {
    this.at = record;
    const want = Math.min(CHUNK_RECORDS, this.records - record);
    const bytes = readSync(this.fd, new Uint8Array(this.buf.buffer, 0, want * 8), 0, want * 8, record * 8);
    this.n = bytes >> 3;
    this.i = -1;
  }

  /** The next access's guest page (its type in `type`). */
  next(): number {
    if (this.left > 0) {
      this.left--;
      return this.page;
    }
    if (++this.i >= this.n) {
      const nextRecord = this.at + this.n;
      if (nextRecord >= this.records) {
        if (!this.repeat) this.done = true;
        this.load(0);
      } else this.load(nextRecord);
      this.i = 0;
    }
    const key = this.buf[this.i * 2];
    this.left = this.buf[this.i * 2 + 1] - 1;
    this.type = key >>> TYPE_BITS;
    this.page = key & PAGE_MASK;
    return this.page;
  }

  close(): void {
    closeSync(this.fd);
  }
}
