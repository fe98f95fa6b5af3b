/**
 * `nestsim merge`: the shards of a campaign merged into the document the whole campaign would
 * have written. Exact:
 * - a count-bounded stress campaign (`stress --shard i/N`): rounds join in round order, counts and
 *   outcome tables add, the first violation is the earliest round's, and detection is recomputed
 *   from the joined rounds. A round's seed comes from the round, so the merge does not depend on
 *   how the campaign was cut;
 * - a sweep (`sweep --shard i/N`): the points join in grid order (each point's config, its seed
 *   included, is the grid's, not the shard's).
 *
 * Refused (unless `allowMixed`): documents of another kind, another major schema version, another
 * config (the resolved config, seeds and overrides' sources aside) or another git commit, and
 * always: a shard count that differs, a shard present twice (its rounds would count twice), a
 * sweep of another grid. Missing shards are named and the merge goes on: an honest result of what
 * ran.
 */
import { detectionOf } from './detection.js';
import type { AnyDocument, StressDocument, SweepDocument } from './document.js';
import { SCHEMA_VERSION } from './document.js';
import { EXIT_INTERRUPTED } from '../util/exit.js';

export class MergeError extends Error {
  override name = 'MergeError';
}

/** The config as compared across shards: resolved values, without the overrides' sources. */
function configKey(d: AnyDocument): string {
  const { overrides: _o, ...rest } = d.config as Record<string, unknown>;
  return JSON.stringify(rest);
}

/** The checks every merge makes, and which shards the documents hold and miss. */
function shardsOf(docs: readonly (StressDocument | SweepDocument)[], files: readonly string[], allowMixed: boolean): { count: number; merged: number[]; missing: number[] } {
  if (docs.length === 0) throw new MergeError('expected documents to merge, found none');
  const kind = docs[0].kind;
  const what = kind === 'sweep' ? 'points' : 'rounds';
  const major = SCHEMA_VERSION.split('.')[0];
  docs.forEach((d, i) => {
    if (d.kind !== 'stress' && d.kind !== 'sweep') throw new MergeError(`${files[i]}: expected a stress or sweep document (a shard of stress or sweep --shard i/N), found kind ${JSON.stringify(d.kind)}`);
    if (d.kind !== kind) throw new MergeError(`${files[i]}: expected a ${kind} document like ${files[0]}, found a ${d.kind} document`);
    if (String(d.schemaVersion).split('.')[0] !== major) throw new MergeError(`${files[i]}: expected schema ${major}.x, found ${d.schemaVersion}`);
    if (d.shard === null || d.shard === undefined || !('index' in d.shard)) throw new MergeError(`${files[i]}: expected a shard (written by ${kind} --shard i/N), found a whole campaign`);
  });
  const count = (docs[0].shard as { count: number }).count;
  const seen = new Map<number, string>();
  docs.forEach((d, i) => {
    const s = d.shard as { index: number; count: number };
    if (s.count !== count) throw new MergeError(`${files[i]}: expected shard i/${count} like ${files[0]}, found ${s.index}/${s.count}`);
    const other = seen.get(s.index);
    if (other !== undefined) throw new MergeError(`shard ${s.index}/${count} appears twice: ${other} and ${files[i]} (its ${what} would count twice)`);
    seen.set(s.index, files[i]);
    if (!allowMixed && configKey(d) !== configKey(docs[0])) throw new MergeError(`${files[i]}: expected the config of ${files[0]}, found another (--allow-mixed merges anyway)`);
    if (!allowMixed && d.gitCommit !== docs[0].gitCommit) throw new MergeError(`${files[i]}: expected git commit ${docs[0].gitCommit ?? 'unknown'} like ${files[0]}, found ${d.gitCommit ?? 'unknown'} (--allow-mixed merges anyway)`);
  });
  const merged = [...seen.keys()].sort((a, b) => a - b);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  return { count, merged, missing };
}

/** Merge shards of one campaign: stress or sweep, as the documents are. */
export function mergeDocuments(docs: readonly AnyDocument[], files: readonly string[], allowMixed = false): StressDocument | SweepDocument {
  if (docs.length > 0 && docs[0].kind === 'sweep') return mergeSweep(docs as SweepDocument[], files, allowMixed);
  return mergeStress(docs as StressDocument[], files, allowMixed);
}

export function mergeSweep(docs: readonly SweepDocument[], files: readonly string[], allowMixed = false): SweepDocument {
  const shard = shardsOf(docs, files, allowMixed);
  const first = docs[0];
  const axes = JSON.stringify(first.axes);
  docs.forEach((d, i) => {
    if (JSON.stringify(d.axes) !== axes) throw new MergeError(`${files[i]}: expected the grid of ${files[0]} (${first.axes.map((a) => `${a.key}=${a.values.join(',')}`).join(' ')}), found ${d.axes.map((a) => `${a.key}=${a.values.join(',')}`).join(' ')}`);
  });
  // A point's place in the grid, first axis slowest.
  const index = (values: Record<string, string>): number => first.axes.reduce((at, a) => at * a.values.length + a.values.indexOf(values[a.key]), 0);
  const points = docs.flatMap((d) => d.points).sort((a, b) => index(a.values) - index(b.values));
  return {
    ...first,
    command: ['nestsim', 'merge', ...files],
    // From the points, not the shards' own statuses: thresholds are judged again on the whole.
    exitStatus: docs.some((d) => d.interrupted) ? EXIT_INTERRUPTED : Math.max(0, ...points.map((p) => p.exitStatus)),
    interrupted: docs.some((d) => d.interrupted),
    thresholds: [],
    points,
    shard,
  };
}

export function mergeStress(docs: readonly StressDocument[], files: readonly string[], allowMixed = false): StressDocument {
  const { count, merged, missing } = shardsOf(docs, files, allowMixed);
  const first = docs[0];
  const rounds = docs.flatMap((d) => d.rounds).sort((a, b) => a.round - b.round);
  const outcomes: StressDocument['outcomes'] = {};
  for (const d of docs) {
    for (const [name, o] of Object.entries(d.outcomes)) {
      const into = (outcomes[name] ??= { clean: 0, violated: 0, violations: 0 });
      into.clean += o.clean;
      into.violated += o.violated;
      into.violations += o.violations;
    }
  }
  const firsts = docs.map((d) => d.firstViolation).filter((f) => f !== null);
  const sum = (f: (s: StressDocument['stress']) => number): number => docs.reduce((a, d) => a + f(d.stress), 0);
  // From the rounds, not the shards' own statuses: thresholds are judged again on the whole.
  const interrupted = docs.some((d) => d.interrupted);
  const exitStatus = interrupted ? EXIT_INTERRUPTED : docs.some((d) => d.stress.violatingRounds > 0) ? 1 : 0;
  return {
    ...first,
    command: ['nestsim', 'merge', ...files],
    exitStatus,
    interrupted,
    thresholds: [],
    stress: {
      ...first.stress,
      rounds: sum((s) => s.rounds),
      violatingRounds: sum((s) => s.violatingRounds),
      windowRounds: sum((s) => s.windowRounds),
      // The shards may have run side by side: the campaign took as long as its longest shard.
      elapsedMs: Math.max(...docs.map((d) => d.stress.elapsedMs)),
      accesses: sum((s) => s.accesses),
      faults: sum((s) => s.faults),
    },
    outcomes,
    rounds,
    firstViolation: firsts.length > 0 ? firsts.reduce((a, b) => (b.round < a.round ? b : a)) : null,
    detection: detectionOf(rounds.map((r) => ({ detected: r.exitStatus === 1, wallMs: r.durationMs, modeledNs: r.modeledNs }))),
    shard: { count, merged, missing },
    exploration: null,
  };
}
