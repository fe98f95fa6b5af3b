/**
 * The commands that read results documents rather than run anything: `timings` (a run's modeled
 * time as KVM's debugfs timings file, report/timings.ts) and `compare` (two sides of documents,
 * figure by figure, report/compare.ts). Loaded only when one of them runs.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, last, type Parsed } from './args.js';
import { outputsOf } from './outputs.js';
import type { AnyDocument, RunDocument, StressDocument, SweepDocument } from '../stats/document.js';

/** `nestsim timings`: a run document's modeled time as KVM's debugfs timings file (report/timings.ts). */
export async function cmdTimings(p: Parsed): Promise<number> {
  if (p.file === undefined) throw new UsageError('timings: expected a run document (run --json FILE), found none');
  const { TIMING_LEVELS, TimingsError, compareTimings, formatTimings, parseTimings, timingsFromRun } = await import('../report/timings.js');
  const levelText = last(p, 'level') ?? 'l0';
  if (!(TIMING_LEVELS as readonly string[]).includes(levelText)) throw new UsageError(`--level: expected l0 or l1, found "${levelText}"`);
  const level = levelText as (typeof TIMING_LEVELS)[number];
  const { docs, files } = readDocuments([p.file]);
  if (docs.length !== 1) throw new UsageError(`${p.file}: expected one run document, found a directory of ${docs.length}`);
  const doc = docs[0] as RunDocument;
  if (doc.kind !== 'run') throw new UsageError(`${files[0]}: expected a run document (kind "run"), found kind ${JSON.stringify(doc.kind)}`);
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

/** A file's text; an unreadable file is a usage error. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Read a JSON results document, or every `.json` file of a directory (sorted); bad input is a usage error. */
function readDocuments(paths: readonly string[]): { docs: AnyDocument[]; files: string[] } {
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
  const docs = files.map((file) => {
    const text = readText(file);
    let doc: AnyDocument;
    try {
      doc = JSON.parse(text) as AnyDocument;
    } catch {
      throw new UsageError(`${file}: expected a results document (JSON), found text that does not parse`);
    }
    if (doc === null || typeof doc !== 'object' || typeof doc.kind !== 'string') throw new UsageError(`${file}: expected a results document (with a kind), found none`);
    return doc;
  });
  return { docs, files };
}

/** `nestsim compare <base...> -- <new...>` (report/compare.ts). */
export async function cmdCompare(p: Parsed): Promise<number> {
  if (p.file === undefined) throw new UsageError('compare: expected base documents, then --, then new documents; found none');
  // Options may follow the new documents too (`compare a -- b --markdown`): -- only separates the sides.
  const news: string[] = [];
  let markdown = p.flags.has('markdown');
  let alphaText = last(p, 'alpha') ?? '0.05';
  for (let i = 0; i < p.rest.length; i++) {
    const a = p.rest[i];
    if (a === '--markdown') markdown = true;
    else if (a === '--alpha' || a.startsWith('--alpha=')) {
      const v = a === '--alpha' ? p.rest[++i] : a.slice('--alpha='.length);
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--alpha: expected a significance level 0 < A < 1, found ${v === undefined ? 'nothing' : `"${v}"`}`);
      alphaText = v;
    } else if (a.startsWith('--')) throw new UsageError(`compare: expected one of its options (--markdown, --alpha A) or a document after --, found ${a}`);
    else news.push(a);
  }
  if (news.length === 0) throw new UsageError('compare: expected -- and the new documents after the base ones, found none');
  const alpha = Number(alphaText);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha: expected a significance level 0 < A < 1, found "${alphaText}"`);
  const { CompareError, compareDocuments, renderComparison } = await import('../report/compare.js');
  const base = readDocuments([p.file, ...p.more]).docs;
  const next = readDocuments(news).docs;
  try {
    const rows = compareDocuments(base as Array<RunDocument | StressDocument>, next as Array<RunDocument | StressDocument>, alpha);
    process.stdout.write(renderComparison(rows, alpha, markdown));
    return 0;
  } catch (e) {
    if (e instanceof CompareError) throw new UsageError(`compare: ${e.message}`);
    throw e;
  }
}


/**
 * The shard a stress campaign runs: `--shard i/N`, else a Slurm array task
 * (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT), else a Kubernetes
 * indexed job's JOB_COMPLETION_INDEX with `--shards N`; undefined for a whole campaign.
 */
export function shardOf(p: Parsed, env: NodeJS.ProcessEnv): { index: number; count: number } | undefined {
  const check = (index: number, count: number, what: string): { index: number; count: number } => {
    if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count) throw new UsageError(`${what}: expected a shard i/N with 0 <= i < N, found ${index}/${count}`);
    return { index, count };
  };
  const flag = last(p, 'shard');
  if (flag !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(flag);
    if (m === null) throw new UsageError(`--shard: expected i/N (0-based, like 0/4), found "${flag}"`);
    return check(Number(m[1]), Number(m[2]), '--shard');
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
    return check(Number(env.SLURM_ARRAY_TASK_ID) - Number(env.SLURM_ARRAY_TASK_MIN ?? 0), Number(env.SLURM_ARRAY_TASK_COUNT), 'SLURM_ARRAY_TASK_ID');
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const shards = last(p, 'shards');
    if (shards === undefined) throw new UsageError('JOB_COMPLETION_INDEX is set: expected --shards N (the Indexed Job\'s completions), found none');
    return check(Number(env.JOB_COMPLETION_INDEX), Number(shards), 'JOB_COMPLETION_INDEX');
  }
  if (last(p, 'shards') !== undefined) throw new UsageError('--shards: expected JOB_COMPLETION_INDEX in the environment (a Kubernetes Indexed Job), found none; use --shard i/N');
  return undefined;
}

/** `nestsim merge <shards...>` (stats/merge.ts): a stress or a sweep campaign's shards. */
export async function cmdMerge(p: Parsed): Promise<number> {
  if (p.file === undefined) throw new UsageError('merge: expected the shards\' documents (files or directories), found none');
  const { docs, files } = readDocuments([p.file, ...p.more]);
  const { MergeError, mergeDocuments } = await import('../stats/merge.js');
  let merged: StressDocument | SweepDocument;
  try {
    merged = mergeDocuments(docs, files, p.flags.has('allow-mixed'));
  } catch (e) {
    if (e instanceof MergeError) throw new UsageError(`merge: ${e.message}`);
    throw e;
  }
  const [json, html] = outputsOf(p, 'json', 'html');
  const text = (json?.path === '-' || html?.path === '-') ? process.stderr : process.stdout;
  const shard = merged.shard as { count: number; merged: number[]; missing: number[] };
  const absent = merged.kind === 'sweep' ? 'points' : 'rounds';
  text.write(`merged ${shard.merged.length} of ${shard.count} shards${shard.missing.length > 0 ? `; MISSING shards ${shard.missing.join(', ')} (their ${absent} are absent)` : ''}\n`);
  if (merged.kind === 'sweep') {
    if (!p.flags.has('quiet')) text.write((await import('../report/sweep-table.js')).renderSweep(merged as SweepDocument) + '\n');
  } else {
    const { renderStress } = await import('../engine/stress.js');
    text.write(renderStress(merged as StressDocument, { color: false, quiet: p.flags.has('quiet') }) + '\n');
  }
  // The campaign's thresholds (the shards' config) and merge's own judge the whole, not a shard.
  const exprs = [...((merged.config.thresholds as string[] | undefined) ?? []), ...(p.flags.get('threshold') ?? [])];
  if (exprs.length > 0) {
    const { checkThresholds } = await import('../report/thresholds.js');
    const { thresholds, problem } = checkThresholds(exprs, merged.kind);
    if (problem !== undefined) throw new UsageError(`--threshold "${problem.expr}": expected a threshold on a number field of the ${merged.kind} document (docs/results.md lists them), found ${problem.why}`);
    const { applyThresholds } = await import('./outputs.js');
    await applyThresholds(merged, thresholds, text as NodeJS.WriteStream, p);
  }
  const { selfCheck, writeOutput } = await import('./outputs.js');
  await selfCheck(merged);
  if (json) writeOutput(json, JSON.stringify(merged, null, 2) + '\n');
  if (html) writeOutput(html, (await import('../report/report.js')).renderReport(merged));
  return merged.exitStatus;
}
