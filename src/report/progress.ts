/**
 * The live progress lines on stderr: the run's (accesses, faults, violations, rates, a bar and
 * the time left), the start-up line while vCPU threads load, and stress's per-round line.
 */
import { fmtCount, fmtInt } from './table.js';

export interface ProgressInput {
  elapsedMs: number;
  accesses: number;
  faults: number;
  violations: number;
  /** Rates over the last progress interval (current, not averaged over the run). */
  accessesPerSec: number;
  faultsPerSec: number;
  /** 0..1 when the run length is known (duration or access budget). */
  fraction?: number;
  /** Estimated time to the end (ms), when it can be told. */
  etaMs?: number;
  /** Some vCPU is still in its warm-up (its figures are not counted yet). */
  warmingUp?: boolean;
}

const BAR_WIDTH = 20;

/** A progress bar for the fraction `f` (clamped to 0..1), with its percentage unless `percent` is false. */
function bar(f: number, percent = true): string {
  const c = Math.min(1, Math.max(0, f));
  const filled = Math.round(c * BAR_WIDTH);
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]${percent ? ` ${Math.floor(c * 100)}%` : ''}`;
}

/** One stress progress line: rounds, violating rounds so far, elapsed time and a bar. */
export function renderStressProgress(r: { round: number; seed: number; violations: number; violatingRounds: number; elapsedMs: number; fraction: number }): string {
  return (
    `${(r.elapsedMs / 1000).toFixed(1)}s  round ${r.round + 1} (seed ${r.seed}): ${fmtInt(r.violations)} violations  ` +
    `${fmtInt(r.violatingRounds)} violating round${r.violatingRounds === 1 ? '' : 's'} so far  ${bar(r.fraction)}`
  );
}

/** The progress line while the vCPU threads start, before the measured run. */
export function renderStartupProgress(ready: number, total: number, elapsedMs: number): string {
  return `${(elapsedMs / 1000).toFixed(1)}s  starting vCPU threads: ${ready} of ${total} ready  ${bar(total > 0 ? ready / total : 1, false)}`;
}

/** One line of live progress (no newline, no carriage return: the caller owns the cursor). */
export function renderProgress(p: ProgressInput): string {
  let line =
    `${(p.elapsedMs / 1000).toFixed(1)}s  ${p.warmingUp ? 'warm-up  ' : ''}${fmtCount(p.accesses)} accesses (${fmtCount(p.accessesPerSec)}/s)  ` +
    `${fmtCount(p.faults)} faults (${fmtCount(p.faultsPerSec)}/s)  ` +
    `${fmtCount(p.violations)} violation${p.violations === 1 ? '' : 's'}`;
  if (p.fraction !== undefined && Number.isFinite(p.fraction)) line += `  ${bar(p.fraction)}`;
  if (p.etaMs !== undefined && Number.isFinite(p.etaMs)) line += `  ETA ${(Math.max(0, p.etaMs) / 1000).toFixed(1)}s`;
  return line;
}
