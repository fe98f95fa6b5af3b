/**
 * The commands that read results documents rather than run anything: `timings` (a run's modeled
 * time as KVM's debugfs timings file, report/timings.ts) and `compare` (two sides of documents,
 * figure by figure, report/compare.ts). Loaded only when one of them runs.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, last, type Parsed } from './args.js';
import { outputsOf } from './outputs.js';
import type { AnyDocument, RunDocument, StressDocument } from '../stats/document.js';

/** `nestsim timings`: a run document's modeled time as KVM's debugfs timings file (report/timings.ts). */
export async function cmdTimings(p: Parsed): Promise<number> {
  if (p.file === undefined) throw new UsageError('timings: expected a run document (run --json FILE), found none');
  const { TIMING_LEVELS, TimingsError, compareTimings, formatTimings, parseTimings, timingsFromRun } = await import('../report/timings.js');
  const levelText = last(p, 'level') ?? 'l0';
  if (!(TIMING_LEVELS as readonly string[]).includes(levelText)) throw new UsageError(`--level: expected l0 or l1, found "${levelText}"`);
  const level = levelText as (typeof TIMING_LEVELS)[number];
  const readText = (file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  let doc: RunDocument;
  try {
    doc = JSON.parse(readText(p.file)) as RunDocument;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${p.file}: expected a run document (JSON), found text that does not parse (${(e as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || doc.kind !== 'run') throw new UsageError(`${p.file}: expected a run document (kind "run"), found ${doc === null || typeof doc !== 'object' ? 'no object' : `kind ${JSON.stringify(doc.kind)}`}`);
  try {
    const rows = timingsFromRun(doc, level);
    const hostFile = last(p, 'host');
    const text = hostFile !== undefined ? compareTimings(parseTimings(readText(hostFile), hostFile), rows, 'host', 'nestsim') : formatTimings(rows);
    const [out] = outputsOf(p, 'output');
    if (out !== undefined && out.path !== '-') writeFileSync(out.path, text);
    else process.stdout.write(text);
    return 0;
  } catch (e) {
    if (e instanceof TimingsError) throw new UsageError(`${p.file}: ${e.message}`);
    throw e;
  }
}

/** Read a JSON results document, or every `.json` file of a directory (sorted); bad input is a usage error. */
function readDocuments(paths: readonly string[]): AnyDocument[] {
  const files = paths.flatMap((path) => {
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      throw new UsageError(`${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (!st.isDirectory()) return [path];
    const inDir = readdirSync(path).filter((f) => f.endsWith('.json')).sort().map((f) => join(path, f));
    if (inDir.length === 0) throw new UsageError(`${path}: expected results documents (*.json), found none in the directory`);
    return inDir;
  });
  return files.map((file) => {
    let doc: AnyDocument;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8')) as AnyDocument;
    } catch (e) {
      throw new UsageError(`${file}: expected a results document (JSON), found ${(e as NodeJS.ErrnoException).code !== undefined ? `an unreadable file (${(e as NodeJS.ErrnoException).code})` : 'text that does not parse'}`);
    }
    if (doc === null || typeof doc !== 'object' || typeof doc.kind !== 'string') throw new UsageError(`${file}: expected a results document (with a kind), found none`);
    return doc;
  });
}

/** `nestsim compare <base...> -- <new...>` (report/compare.ts). */
export async function cmdCompare(p: Parsed): Promise<number> {
  if (p.file === undefined) throw new UsageError('compare: expected base documents, then --, then new documents; found none');
  if (p.rest.length === 0) throw new UsageError('compare: expected -- and the new documents after the base ones, found none');
  const alphaText = last(p, 'alpha') ?? '0.05';
  const alpha = Number(alphaText);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha: expected a significance level 0 < A < 1, found "${alphaText}"`);
  const { CompareError, compareDocuments, renderComparison } = await import('../report/compare.js');
  const base = readDocuments([p.file, ...p.more]);
  const next = readDocuments(p.rest);
  try {
    const rows = compareDocuments(base as Array<RunDocument | StressDocument>, next as Array<RunDocument | StressDocument>, alpha);
    process.stdout.write(renderComparison(rows, alpha, p.flags.has('markdown')));
    return 0;
  } catch (e) {
    if (e instanceof CompareError) throw new UsageError(`compare: ${e.message}`);
    throw e;
  }
}

