/**
 * The header every results document starts with (`run`, `stress`, `sweep`), and the version of
 * the contract they follow. The JSON Schema (`schema/results.schema.json`, made by `schema.ts`)
 * states every field; `docs/results.md` lists them with their units.
 *
 * Versioning: `schemaVersion` is semver. Adding a field bumps the minor version; removing or
 * changing one bumps the major. Documents of one major version merge and compare: same fields,
 * same units, same histogram bucket boundaries.
 */
import type { ScheduleSection } from './schedule.js';
import type { Detection } from './detection.js';
import type { ThresholdResult } from './thresholds.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../util/paths.js';
import { overridesOf, type Override } from '../workload/overrides.js';
import type { ResolvedConfig } from '../workload/types.js';
import { TOOL_NAME, toolVersion } from './version.js';
import type { RunBody, ViolationRecord } from './results.js';

/** The version of the results contract these documents follow. */
export const SCHEMA_VERSION = '1.7.0';

/** The commands that write a results document. */
export const DOCUMENT_KINDS = ['run', 'stress', 'sweep'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

/** The resolved config (defaults filled) and every key that does not have its default. */
export type ConfigRecord = Record<string, unknown> & { overrides: Override[] };

export interface HostInfo {
  hostname: string;
  /** Processors Node may use (`os.availableParallelism()`). */
  cpus: number;
  cpuModel: string;
  /** The Node.js version (`v20.20.2`). */
  node: string;
}

export interface DocumentHeader {
  schemaVersion: string;
  kind: DocumentKind;
  tool: { name: string; version: string };
  /** The command as typed: `nestsim` and its arguments. */
  command: string[];
  /** When the command started, ISO 8601 in UTC. */
  startedAt: string;
  host: HostInfo;
  /** The commit nestsim was built from, when it runs from a git checkout. */
  gitCommit?: string;
  config: ConfigRecord;
  /** The command's exit status (0 clean, 1 violation, 130 interrupted). */
  exitStatus: number;
  /** Stopped by a signal (Ctrl-C, or SIGTERM from a scheduler) before its end: the figures cover what was done. */
  interrupted: boolean;
  /** The config's thresholds and their verdicts (empty when it has none). */
  thresholds: ThresholdResult[];
}

export function hostInfo(): HostInfo {
  return { hostname: os.hostname(), cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version };
}

let commit: string | null | undefined;

/** The commit checked out at nestsim's package root (reading .git, no git process); null if none. */
export function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  commit = null;
  try {
    let git = join(packageRoot(), '.git');
    if (!existsSync(git)) return commit;
    // A worktree's .git is a file naming its git directory; its refs live in the common one.
    let common = git;
    if (statSync(git).isFile()) {
      const dir = /^gitdir: (.+)$/m.exec(readFileSync(git, 'utf8'))?.[1]?.trim();
      if (dir === undefined) return commit;
      git = resolve(packageRoot(), dir);
      const c = join(git, 'commondir');
      common = existsSync(c) ? resolve(git, readFileSync(c, 'utf8').trim()) : git;
    }
    const head = readFileSync(join(git, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return (commit = head);
    const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
    if (ref === undefined) return commit;
    const loose = join(common, ref);
    if (existsSync(loose)) {
      const sha = readFileSync(loose, 'utf8').trim();
      if (/^[0-9a-f]{40}$/.test(sha)) return (commit = sha);
    }
    const packed = join(common, 'packed-refs');
    if (existsSync(packed)) {
      for (const line of readFileSync(packed, 'utf8').split('\n')) {
        const [sha, name] = line.split(' ');
        if (name === ref && sha !== undefined && /^[0-9a-f]{40}$/.test(sha)) return (commit = sha);
      }
    }
  } catch {
    // an unreadable ref: the commit is not known
  }
  return commit;
}

/** The config as a document records it: the resolved values and where the non-defaults came from. */
export function configRecord(cfg: ResolvedConfig): ConfigRecord {
  return { ...(JSON.parse(JSON.stringify(cfg)) as Record<string, unknown>), overrides: overridesOf(cfg) };
}

/** A header for a document of `kind`; `exitStatus` and `interrupted` are filled in when the command ends. */
export function makeHeader(kind: DocumentKind, cfg: ResolvedConfig, command: readonly string[], startedAt: Date): DocumentHeader {
  const sha = gitCommit();
  return {
    schemaVersion: SCHEMA_VERSION,
    kind,
    tool: { name: TOOL_NAME, version: toolVersion() },
    command: ['nestsim', ...command],
    startedAt: startedAt.toISOString(),
    host: hostInfo(),
    ...(sha !== null ? { gitCommit: sha } : {}),
    config: configRecord(cfg),
    exitStatus: 0,
    interrupted: false,
    thresholds: [],
  };
}

/** The `run` command's document. */
export type RunDocument = DocumentHeader & RunBody;

// ---- stress and sweep bodies ------------------------------------------------------------------

/** One stress round: a fresh machine, its own seed, run to completion. */
export interface StressRound {
  round: number;
  seed: number;
  /** When the round started, from the start of the campaign (ms). */
  startMs: number;
  durationMs: number;
  accesses: number;
  faults: number;
  violations: number;
  /** Violations no window of the kernel as written explains. */
  unexplained: number;
  byInvariant: Record<string, number>;
  byWindow: Record<string, number>;
  /** The round's own exit status as a `run` (0, 1, or 130 when cut short). */
  exitStatus: number;
  /** Its vCPUs were stopped at its first failing violation (fail-fast). */
  stoppedAtViolation: boolean;
  /** Its modeled duration (ns), null without modeled time. */
  modeledNs: number | null;
  /** Under a controlled schedule, how it ended (completed, deadlock, livelock); null when the threads ran freely. */
  schedule: ScheduleSection['outcome'] | null;
}

/** The first violating round: its records and the `run` that repeats it. */
export interface FirstViolation {
  round: number;
  seed: number;
  /** From the start of the campaign (ms). */
  atMs: number;
  /** Its first records, the unexplained ones first. */
  violations: ViolationRecord[];
  /** The argv (after `nestsim`) of the `run` that rebuilds the round's config exactly. */
  replay: string[];
  /** The same, as one shell line beginning with `nestsim`. */
  replayLine: string;
  /** Under a controlled schedule: the round's schedule, its replay token and the steps that led to the violation; else null. */
  schedule: ScheduleSection | null;
}

export interface StressBody {
  stress: {
    protocol: string;
    mutations: string[];
    /** `--time` (ms) when time-bounded, else null. */
    timeBudgetMs: number | null;
    /** `--iterations` when count-bounded, else null. */
    roundsRequested: number | null;
    /** Every violation counts (`--strict`), not only unexplained ones. */
    strict: boolean;
    /** Stopped at the first failing violation (`--fail-fast`; the default when a mutation is given). */
    failFast: boolean;
    rounds: number;
    /** Rounds with an unexplained violation (with `strict`, with any). */
    violatingRounds: number;
    /** Rounds in which a window of the kernel as written produced a violation. */
    windowRounds: number;
    elapsedMs: number;
    accesses: number;
    faults: number;
  };
  /** Per invariant: rounds clean, rounds with at least one violation, and its violations in all. */
  outcomes: Record<string, { clean: number; violated: number; violations: number }>;
  rounds: StressRound[];
  firstViolation: FirstViolation | null;
  /** How often rounds detect a violation, and how long detecting takes (stats/detection.ts). */
  detection: Detection;
  /**
   * The shard of a count-bounded campaign this document ran (`--shard i/N`: rounds r with
   * r % N == i), null for a whole one; a merged document lists the shards it holds and misses.
   */
  shard: Shard;
  /** Under the exhaustive strategy: its preemption bound, the schedules run, and whether none is left; else null. */
  exploration: { preemptionBound: number; schedules: number; exhausted: boolean } | null;
}

export type StressDocument = DocumentHeader & StressBody;

/** The shard a document ran, or the shards a merged one holds and misses; null for a whole campaign. */
export type Shard = { index: number; count: number } | { count: number; merged: number[]; missing: number[] } | null;

/** One point of a sweep: the swept keys' values, its run's exit status and what it measured. */
export type SweepPoint = { values: Record<string, string>; exitStatus: number; replay: string[] } & RunBody;

export interface SweepBody {
  /** Each `--set key=v1,v2,...`, in order; the grid is every combination, first axis slowest. */
  axes: Array<{ key: string; values: string[] }>;
  points: SweepPoint[];
  /**
   * The shard of the grid this document ran (`--shard i/N`: points p with p % N == i), null for a
   * whole sweep; a merged document lists the shards it holds and misses.
   */
  shard: Shard;
}

export type SweepDocument = DocumentHeader & SweepBody;

export type AnyDocument = RunDocument | StressDocument | SweepDocument;

/** The fields of a document before its body, in order. */
export const HEADER_FIELDS = ['schemaVersion', 'kind', 'tool', 'command', 'startedAt', 'host', 'gitCommit', 'config', 'exitStatus', 'interrupted', 'thresholds'] as const;

/** A run document without its header: what a sweep point carries. */
export function runBodyOf(doc: RunDocument): RunBody {
  const body: Record<string, unknown> = { ...doc };
  for (const f of HEADER_FIELDS) delete body[f];
  return body as unknown as RunBody;
}
