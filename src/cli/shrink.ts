/**
 * `nestsim replay TOKEN --shrink`: from a violating controlled run, search for a smaller one that
 * still violates the same invariant, and give its token. Greedy passes, each kept only when the
 * smaller run still fails the same way: fewer accesses (a controlled run is a prefix of a longer
 * one with the same choices, so halving until it stops failing finds the length the violation
 * needs), fewer vCPUs, actors switched off one at a time, then fewer preemptions (delta debugging
 * over the switches of the choice list: a chunk of them replaced by "the same thread goes on",
 * halving the chunk size). Every attempt is one controlled run; `budget` bounds them.
 */
import type { Piscina } from 'piscina';
import { parseArgs } from './args.js';
import { configFrom } from './config-from.js';
import { KEYS } from '../workload/keys.js';
import type { ResolvedConfig } from '../workload/types.js';
import type { RunDocument } from '../stats/document.js';
import { choiceChosen, choiceYielder, packChoice, choicePoint } from '../sync/schedule-layout.js';
import { TOKEN_VERSION, TokenError, configHash, decodeToken, encodeToken, packChoices, unpackChoices, type ExpectedViolation } from '../stats/schedule.js';

export interface ShrinkResult {
  token: string;
  doc: RunDocument;
  /** Runs made (the first reproduces the token). */
  runs: number;
  before: ShrinkSize;
  after: ShrinkSize;
}

export interface ShrinkSize {
  accesses: number;
  vcpus: number;
  /** Actor keys (and audits) with a non-zero rate. */
  actors: string[];
  preemptions: number;
}

/** Decisions that handed the turn to another thread. */
export function preemptionsOf(choices: Int32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < choices.length; i++) {
    const y = choiceYielder(choices[i]!);
    if (y !== 0xff && y !== choiceChosen(choices[i]!)) out.push(i);
  }
  return out;
}

const ACTOR_KEYS = KEYS.filter((k) => k.key.startsWith('actors.') || k.key === 'audit.perMillion' || k.key === 'stress.pause').map((k) => k.key);

function get(cfg: ResolvedConfig, field: string): number {
  let o: unknown = cfg;
  for (const p of field.split('.')) o = (o as Record<string, unknown>)[p];
  return o as number;
}

function activeActors(cfg: ResolvedConfig): string[] {
  return ACTOR_KEYS.filter((k) => get(cfg, KEYS.find((s) => s.key === k)!.field) > 0);
}

export async function shrinkToken(tokenText: string, budget: number, onRun?: (n: number, what: string, kept: boolean) => void): Promise<ShrinkResult> {
  const t = decodeToken(tokenText);
  if (t.first === null) throw new TokenError('a token of a run that reported a violation (this one reported none: nothing to shrink)');
  const target = t.first.invariant;
  const sets: Record<string, string> = {};
  const argvOf = (s: Record<string, string>): string[] => [...t.argv, ...Object.entries(s).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
  const cfgOf = (s: Record<string, string>): ResolvedConfig => configFrom(parseArgs(argvOf(s)));
  const base = cfgOf(sets);
  const { runSimulation, makePool } = await import('../engine/run.js');
  const pool: Piscina = makePool(base.vcpus);
  let runs = 0;
  const firstOf = (d: RunDocument): ExpectedViolation | null => {
    const r = d.violations.find((v) => v.window === undefined) ?? d.violations[0];
    return r === undefined ? null : { invariant: r.invariant, vcpu: r.vcpu, message: r.message };
  };
  /** One run; its document when it still violates `target`, else null. */
  const attempt = async (s: Record<string, string>, choices: Int32Array | undefined, what: string): Promise<RunDocument | null> => {
    runs++;
    const out = await runSimulation(cfgOf(s), { pool, stopAtViolation: true, ...(choices !== undefined ? { scheduleChoices: choices, scheduleLenient: true } : {}) });
    const ok = firstOf(out.doc)?.invariant === target;
    onRun?.(runs, what, ok);
    return ok ? out.doc : null;
  };
  const logOf = (d: RunDocument): Int32Array | undefined => (d.schedule?.choicesToken ? unpackChoices(decodeToken(d.schedule.choicesToken).choices!) : undefined);
  try {
    let choices = t.choices !== undefined ? unpackChoices(t.choices) : undefined;
    let best = await attempt(sets, choices, 'the token as given');
    if (best === null) throw new TokenError('a token that reproduces its violation (this one does not: replay it to see what it does)');
    const before: ShrinkSize = { accesses: base.accesses, vcpus: base.vcpus, actors: activeActors(base), preemptions: preemptionsOf(logOf(best) ?? new Int32Array()).length };
    // 1. Fewer accesses: the same choices, cut short.
    let hi = base.accesses;
    let lo = 0;
    while (hi - lo > Math.max(1, hi >> 4) && runs < budget) {
      const mid = lo === 0 ? Math.ceil(hi / 2) : Math.floor((lo + hi) / 2);
      const d = await attempt({ ...sets, accesses: String(mid) }, choices, `accesses ${mid}`);
      if (d !== null) {
        hi = mid;
        best = d;
      } else lo = mid;
    }
    if (hi !== base.accesses) sets.accesses = String(hi);
    // 2. Fewer vCPUs (another machine: the choices name threads that may not exist; the seed decides).
    for (let v = 1; v < base.vcpus && runs < budget; v++) {
      const d = await attempt({ ...sets, vcpus: String(v) }, undefined, `vcpus ${v}`);
      if (d !== null) {
        sets.vcpus = String(v);
        best = d;
        choices = undefined;
        break;
      }
    }
    // 3. Actors off, one at a time (the schedule changes with them: the seed decides).
    for (const key of activeActors(cfgOf(sets))) {
      if (runs >= budget) break;
      const d = await attempt({ ...sets, [key]: '0' }, undefined, `${key} 0`);
      if (d !== null) {
        sets[key] = '0';
        best = d;
        choices = undefined;
      }
    }
    // 4. Fewer preemptions: delta debugging over the switches of the best run's choice list.
    let list = logOf(best);
    if (list !== undefined) {
      let pre = preemptionsOf(list);
      for (let chunk = Math.max(1, pre.length >> 1); chunk >= 1 && runs < budget; chunk = chunk === 1 ? 0 : chunk >> 1) {
        for (let start = 0; start < pre.length && runs < budget; ) {
          const cand = list.slice();
          for (const i of pre.slice(start, start + chunk)) cand[i] = packChoice(choiceYielder(cand[i]!), choicePoint(cand[i]!), choiceYielder(cand[i]!));
          const d = await attempt(sets, cand, `${Math.min(chunk, pre.length - start)} of ${pre.length} preemptions removed`);
          const log = d !== null ? logOf(d) : undefined;
          if (d !== null && log !== undefined && preemptionsOf(log).length < pre.length) {
            best = d;
            list = log;
            pre = preemptionsOf(list);
          } else start += chunk;
        }
      }
    }
    const final = cfgOf(sets);
    const after: ShrinkSize = { accesses: final.accesses, vcpus: final.vcpus, actors: activeActors(final), preemptions: preemptionsOf(list ?? new Int32Array()).length };
    const token = encodeToken({ v: TOKEN_VERSION, argv: argvOf(sets), config: configHash(final), first: firstOf(best), ...(list !== undefined ? { choices: packChoices(list), lenient: true } : {}) });
    return { token, doc: best, runs, before, after };
  } finally {
    await pool.destroy();
  }
}
