/**
 * The command line's outputs and its Ctrl-C handling. Every output path is checked before the
 * run starts (a finished run is never thrown away for a bad path), and every output is written to
 * a temporary file in the same directory, then renamed over the target; `-` is stdout.
 */
import type { AnyDocument } from '../stats/document.js';
import type { Threshold } from '../stats/thresholds.js';
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EXIT_INTERRUPTED } from '../util/exit.js';
import { packageRoot } from '../util/paths.js';
import { requireLazily } from '../util/lazy.js';
import { UsageError, last, type Parsed } from './args.js';

/** Where an output goes: a file (checked writable before the run) or stdout (`-`). */
export interface Output {
  readonly flag: string;
  readonly path: string;
}

/**
 * The output of option `flag`, checked before anything runs: its directory exists and is a
 * directory, the path is not a directory, and a file can be created beside it. Exit 2 otherwise.
 */
function outputOf(p: Parsed, flag: string): Output | undefined {
  const path = last(p, flag);
  if (path === undefined) return undefined;
  if (path === '-') return { flag, path };
  if (path === '') throw new UsageError(`--${flag}: expected a file name, found an empty string`);
  const fail = (found: string): never => {
    throw new UsageError(`--${flag} ${path}: expected a file that can be written, found ${found}`);
  };
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') fail('a path under a file that is not a directory');
    if (code !== 'ENOENT') fail(`${code ?? 'an error'} (${(e as Error).message})`);
  }
  if (st?.isDirectory()) fail('a directory');
  const dir = dirname(path);
  let dst;
  try {
    dst = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? `no directory ${dir}` : code === 'ENOTDIR' ? `${dir} is under a file, not a directory` : `${dir}: ${code}`);
  }
  if (!dst!.isDirectory()) fail(`${dir}, which is not a directory`);
  const probe = join(dir, `.${basename(path)}.nestsim-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (e) {
    fail(`a directory where no file can be created (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return { flag, path };
}

/** The outputs of `flags`, checked; at most one of them may go to stdout. */
export function outputsOf(p: Parsed, ...flags: string[]): Array<Output | undefined> {
  const outs = flags.map((f) => outputOf(p, f));
  const toStdout = outs.filter((o) => o?.path === '-');
  if (toStdout.length > 1) throw new UsageError(`${toStdout.map((o) => `--${o!.flag} -`).join(' and ')}: expected at most one output on stdout, found ${toStdout.length}`);
  return outs;
}

/** Write `text` to the output: stdout, or a temporary file in the same directory renamed over the target. */
export function writeOutput(out: Output, text: string): void {
  if (out.path === '-') {
    process.stdout.write(text);
    return;
  }
  const tmp = join(dirname(out.path), `.${basename(out.path)}.tmp-${process.pid}`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, out.path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was created
    }
    throw new UsageError(`--${out.flag} ${out.path}: expected a file that can be written, found ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} while writing`);
  }
}

/** Whether any output takes stdout, so the human-readable text goes to stderr instead. */
export function stdoutTaken(...outs: Array<Output | undefined>): boolean {
  return outs.some((o) => o?.path === '-');
}

export function useColor(p: Parsed, stream: NodeJS.WriteStream): boolean {
  return !p.flags.has('no-color') && process.env.NO_COLOR === undefined && stream.isTTY === true;
}

/**
 * The first SIGINT or SIGTERM (Ctrl-C; a batch scheduler's time limit or cancel, a pod being
 * stopped) aborts the returned signal: the run stops at its next safe point and keeps what it
 * did. A second one exits at once with EXIT_INTERRUPTED.
 */
export function interruptOnSignal(): { signal: AbortSignal; release: () => void } {
  const ac = new AbortController();
  const on = (name: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      process.stderr.write(`\nnestsim: ${name} again: aborting now\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    process.stderr.write(name === 'SIGINT' ? '\nnestsim: interrupted: stopping at the next safe point (Ctrl-C again to abort)\n' : `\nnestsim: ${name}: stopping at the next safe point and writing what ran\n`);
    ac.abort();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: ac.signal,
    release: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

/** Set to `schema` (the test suite does), every document is validated against the shipped schema before it is written. */
export const SELF_CHECK_ENV = 'NESTSIM_SELF_CHECK';

let validate: ((doc: unknown) => string[]) | undefined;

/**
 * With NESTSIM_SELF_CHECK=schema, validate `doc` against schema/results.schema.json with ajv (a
 * development dependency) and fail as an internal error when it does not conform: a document
 * that breaks the contract is nestsim's bug. Otherwise nothing.
 */
export async function selfCheck(doc: unknown): Promise<void> {
  if (process.env[SELF_CHECK_ENV] !== 'schema') return;
  if (validate === undefined) {
    // CommonJS, so require(): the bundled command line runs as a script, where import() has no loader
    const { Ajv2020 } = requireLazily('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    const schema: unknown = JSON.parse(readFileSync(join(packageRoot(), 'schema', 'results.schema.json'), 'utf8'));
    const check = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema as object);
    validate = (d) => (check(d) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '(document)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`));
  }
  const problems = validate(doc);
  if (problems.length > 0) throw new Error(`the document does not conform to schema/results.schema.json: ${problems.slice(0, 5).join('; ')}`);
}

/** Write a document's JSON and HTML outputs (each only when asked for). */
export async function writeDocument(json: Output | undefined, html: Output | undefined, doc: AnyDocument): Promise<void> {
  await selfCheck(doc);
  if (json) writeOutput(json, JSON.stringify(doc, null, 2) + '\n');
  if (html) writeOutput(html, (await import('../report/report.js')).renderReport(doc));
}

/** Judge `doc` by its thresholds: record the verdicts, print them, and fail a clean command (exit 1) on any failure. */
export async function applyThresholds(doc: AnyDocument, thresholds: readonly Threshold[], text: NodeJS.WriteStream, p: Parsed): Promise<void> {
  if (thresholds.length === 0) return;
  const { evaluateThresholds, renderThresholds } = await import('../report/thresholds.js');
  doc.thresholds = evaluateThresholds(doc, thresholds);
  const failed = doc.thresholds.filter((r) => !r.pass);
  if (!p.flags.has('quiet')) text.write(renderThresholds(doc.thresholds, useColor(p, text)) + '\n');
  // --quiet: the tally and the failures only, on stderr.
  else if (failed.length > 0) process.stderr.write(renderThresholds(doc.thresholds, false, true));
  if (failed.length > 0 && doc.exitStatus === 0) doc.exitStatus = 1;
}
