/**
 * An internal error (a bug in nestsim, not in the input) is one line on stderr and exit 3; the
 * stack only with --debug. Forced here by making the first write to stdout throw.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';

describe('internal errors', () => {
  afterEach(() => vi.restoreAllMocks());

  function run(args: string[]): { code: Promise<number>; stderr: () => string } {
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(() => {
      throw new TypeError('boom in the writer');
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    return { code: main(args), stderr: () => err };
  }

  it('one line naming the error, exit 3, and how to see the stack', async () => {
    const r = run(['--version']);
    expect(await r.code).toBe(3);
    expect(r.stderr()).toBe('nestsim: internal error: TypeError: boom in the writer (run again with --debug for the stack)\n');
  });

  it('--debug prints the stack', async () => {
    const r = run(['--version', '--debug']);
    expect(await r.code).toBe(3);
    expect(r.stderr()).toMatch(/^nestsim: internal error: TypeError: boom in the writer\n\s+at /);
  });
});
