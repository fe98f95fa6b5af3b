/**
 * `nestsim replay <token|file>`: rerun a controlled schedule from its token (stats/schedule.ts)
 * and say whether it reproduced the first violation the token records, and where a list of
 * choices could no longer be followed (the code gained or lost a schedule point, say).
 */
import { readFileSync, statSync } from 'node:fs';
import { UsageError, last, parseArgs, type Parsed } from './args.js';
import { shrinkToken, type ShrinkResult, type ShrinkSize } from './shrink.js';
import { configFrom } from './config-from.js';
import { interruptOnSignal, outputsOf, stdoutTaken, useColor, writeDocument, writeOutput, type Output } from './outputs.js';
import { TOKEN_PREFIX, TokenError, configHash, decodeToken, describeChoice, renderTimeline, unpackChoices, type ExpectedViolation, type TokenData } from '../stats/schedule.js';
import { packChoice, POINTS } from '../sync/schedule-layout.js';
import type { RunDocument } from '../stats/document.js';

/** Runs `--shrink` makes at most, unless told (`--budget`). */
export const DEFAULT_SHRINK_BUDGET = 150;

/** Exit status of a replay that did not reproduce what its token records. */
export const EXIT_NOT_REPRODUCED = 1;

/** The token in `arg`: the token itself, a file holding one, or a results document that carries one. */
export function tokenFrom(arg: string): string {
  if (arg.startsWith('nsx')) return arg;
  let text: string;
  try {
    if (!statSync(arg).isFile()) throw new UsageError(`replay: expected a schedule token or a file, found "${arg}", which is not a regular file`);
    text = readFileSync(arg, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`replay: expected a schedule token (starting ${TOKEN_PREFIX}) or a file holding one, found "${arg}" (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  const t = text.trim();
  if (t.startsWith('{')) {
    let doc: { schedule?: { choicesToken?: string | null; token?: string } | null; firstViolation?: { schedule?: { choicesToken?: string | null; token?: string } | null } | null };
    try {
      doc = JSON.parse(t);
    } catch (e) {
      throw new UsageError(`replay: ${arg}: expected JSON (a results document), found a syntax error: ${(e as Error).message}`);
    }
    const s = doc.firstViolation?.schedule ?? doc.schedule;
    const token = s?.choicesToken ?? s?.token;
    if (token === undefined || token === null) throw new UsageError(`replay: ${arg}: expected a results document of a controlled run (schedule.token, or firstViolation.schedule.token in a stress document), found none`);
    return token;
  }
  return t;
}

function firstOf(doc: RunDocument): ExpectedViolation | null {
  const r = doc.violations.find((v) => v.window === undefined) ?? doc.violations[0];
  return r === undefined ? null : { invariant: r.invariant, vcpu: r.vcpu, message: r.message };
}

const same = (a: ExpectedViolation | null, b: ExpectedViolation | null): boolean =>
  a === null || b === null ? a === b : a.invariant === b.invariant && a.vcpu === b.vcpu && a.message === b.message;

const show = (v: ExpectedViolation | null): string => (v === null ? 'no violation' : `[${v.invariant}] vCPU ${v.vcpu}: ${v.message}`);

export interface ReplayOutcome {
  reproduced: boolean;
  expected: ExpectedViolation | null;
  found: ExpectedViolation | null;
  doc: RunDocument;
  token: TokenData;
  configChanged: boolean;
}

/** Rerun the token's schedule (on a fresh worker pool); no output. */
export async function replayToken(tokenText: string): Promise<ReplayOutcome> {
  const token = decodeToken(tokenText);
  const p = parseArgs(token.argv);
  if (p.command !== 'run') throw new TokenError(`a token of a run, found one of "${p.command}"`);
  const cfg = configFrom(p);
  if (cfg.schedule.strategy === 'free') throw new TokenError('a token of a controlled run, found one whose config runs its threads freely');
  const { runSimulation } = await import('../engine/run.js');
  const { signal, release } = interruptOnSignal();
  try {
    const out = await runSimulation(cfg, {
      signal,
      command: ['replay', tokenText],
      // The first violation is all a replay compares: stop there.
      stopAtViolation: token.first !== null,
      ...(token.choices !== undefined ? { scheduleChoices: unpackChoices(token.choices), scheduleLenient: token.lenient === true } : {}),
    });
    const found = firstOf(out.doc);
    return { reproduced: same(token.first, found), expected: token.first, found, doc: out.doc, token, configChanged: configHash(cfg) !== token.config };
  } finally {
    release();
  }
}

export async function cmdReplay(p: Parsed): Promise<number> {
  if (p.file === undefined) throw new UsageError('replay: expected a schedule token, or a file holding one (a stress or run document of a controlled run), found none');
  const [json, html, output] = outputsOf(p, 'json', 'html', 'output');
  if (output !== undefined && !p.flags.has('shrink')) throw new UsageError('replay: expected -o FILE only with --shrink (it writes the shrunk token)');
  const text = stdoutTaken(json, html) ? process.stderr : process.stdout;
  let r: ReplayOutcome;
  try {
    r = await replayToken(tokenFrom(p.file));
  } catch (e) {
    if (e instanceof TokenError) throw new UsageError(`replay: expected ${e.message}`);
    throw e;
  }
  if (p.flags.has('shrink')) return await shrinkCommand(p, tokenFrom(p.file), text, json, html, output);
  const color = useColor(p, text);
  const paint = (code: number, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const s = r.doc.schedule!;
  const lines: string[] = [];
  if (r.configChanged) lines.push(`note: the config is not the one the token was made with (the file changed since): the replay may differ`);
  lines.push(`replayed ${s.strategy} schedule of \`nestsim ${r.token.argv.join(' ')}\`: ${s.points.toLocaleString('en-US')} steps, ${s.decisions.toLocaleString('en-US')} decisions, ${s.outcome}`);
  if (s.diverged !== null) {
    const d = s.diverged;
    const want = packChoice(d.expected.vcpu, POINTS.indexOf(d.expected.point), d.expected.chose);
    lines.push(paint(33, `diverged at decision ${d.decision}: the token has ${describeChoice(want)}, the run reached vCPU ${d.found.vcpu === 0xff ? '(start)' : d.found.vcpu} at ${d.found.point}; the strategy chose from there`));
  }
  if (r.reproduced) lines.push(paint(32, `reproduced: ${show(r.found)}`));
  else lines.push(paint(31, `not reproduced: expected ${show(r.expected)}`), paint(31, `                found    ${show(r.found)}`));
  if (!p.flags.has('quiet')) lines.push('', renderTimeline(s, r.doc.config.vcpus as number));
  text.write(lines.join('\n') + '\n');
  await writeDocument(json, html, r.doc);
  return r.reproduced ? 0 : EXIT_NOT_REPRODUCED;
}

async function shrinkCommand(p: Parsed, token: string, text: NodeJS.WriteStream, json: Output | undefined, html: Output | undefined, output: Output | undefined): Promise<number> {
  const b = last(p, 'budget');
  const budget = b === undefined ? DEFAULT_SHRINK_BUDGET : Number(b);
  if (!Number.isInteger(budget) || budget < 1) throw new UsageError(`--budget: expected a number of runs >= 1, found "${b}"`);
  const live = !p.flags.has('quiet') && process.stderr.isTTY === true;
  let r: ShrinkResult;
  try {
    r = await shrinkToken(token, budget, live ? (n, what, kept) => process.stderr.write(`\rshrinking: run ${n}/${budget}: ${what}: ${kept ? 'still fails' : 'passes'}\x1b[K`) : undefined);
  } catch (e) {
    if (e instanceof TokenError) throw new UsageError(`replay --shrink: expected ${e.message}`);
    throw e;
  }
  if (live) process.stderr.write('\r\x1b[K');
  const size = (s: ShrinkSize): string => `${s.accesses} accesses per vCPU, ${s.vcpus} vCPUs, ${s.preemptions} preemptions, actors: ${s.actors.length > 0 ? s.actors.join(' ') : 'none'}`;
  const lines = [
    `shrunk in ${r.runs} runs, still ${show(firstOf(r.doc))}`,
    `  from ${size(r.before)}`,
    `  to   ${size(r.after)}`,
  ];
  if (!p.flags.has('quiet')) lines.push('', renderTimeline(r.doc.schedule!, r.doc.config.vcpus as number));
  if (output !== undefined && output.path !== '-') {
    writeOutput(output, r.token + '\n');
    lines.push('', `replay it: nestsim replay ${output.path}`);
  } else lines.push('', `replay it: nestsim replay ${r.token}`);
  text.write(lines.join('\n') + '\n');
  await writeDocument(json, html, r.doc);
  return 0;
}
