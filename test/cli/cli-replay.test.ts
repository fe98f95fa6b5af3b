/**
 * `nestsim replay` and `--schedule` as a user runs them: a controlled stress run's token replays
 * from the command line (the token, a file holding it, the JSON document), a shrunk token still
 * fails the same way, the document and its HTML carry the schedule, and bad input is one line and
 * exit 2, never a stack trace. Needs the build (dist/).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaProblems } from '../helpers/schema.js';
import { CLI, ROOT } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'nestsim-replay-'));
const CONTROLLED = join(ROOT, 'configs', 'stress-controlled.yaml');

function nestsim(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('nestsim replay', () => {
  it('a controlled stress violation replays from its token, a token file and the document; the shrunk run still fails the same way', () => {
    const json = join(tmp, 'stress.json');
    const s = nestsim('stress', CONTROLLED, '--mutation', 'skip-rmap', '--iterations', '30', '--json', json);
    expect(s.code, s.stderr).toBe(1);
    expect(s.stdout).toMatch(/schedule up to the first violation/);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(schemaProblems(doc)).toEqual([]);
    const first = doc.firstViolation;
    const token: string = first.schedule.token;
    expect(s.stdout).toContain(`nestsim replay ${token}`);
    const file = join(tmp, 'finding.token');
    writeFileSync(file, token + '\n');
    for (const arg of [token, file, json]) {
      const r = nestsim('replay', arg, '--quiet');
      expect(r.code, `${arg}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`reproduced: [${first.violations[0].invariant}] vCPU ${first.violations[0].vcpu}: ${first.violations[0].message}`);
    }
    const out = join(tmp, 'replay.json');
    const html = join(tmp, 'replay.html');
    const r = nestsim('replay', token, '--json', out, '--html', html, '--quiet');
    expect(r.code).toBe(0);
    const rd = JSON.parse(readFileSync(out, 'utf8'));
    expect(schemaProblems(rd)).toEqual([]);
    expect(rd.schedule.strategy).toBe('random');
    expect(readFileSync(html, 'utf8')).toContain('<table class="timeline">');

    const sh = nestsim('replay', token, '--shrink', '--budget', '25');
    expect(sh.code, sh.stderr).toBe(0);
    const m = /shrunk in (\d+) runs, still \[([\w-]+)\]/.exec(sh.stdout);
    expect(m, sh.stdout).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(25);
    expect(m![2]).toBe(first.violations[0].invariant);
    const shrunk = /replay it: nestsim replay (nsx1\.[\w-]+)/.exec(sh.stdout)![1]!;
    const again = nestsim('replay', shrunk, '--quiet');
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain(`reproduced: [${first.violations[0].invariant}]`);
  });

  it('bad input: one line naming what was expected, exit 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['replay'], /replay: expected a schedule token, or a file holding one/],
      [['replay', 'nsx1.!!!'], /replay: expected a schedule token, found one that is damaged/],
      [['replay', 'nsx9.abc'], /a schedule token of format 9, which this nestsim \(format 1\) does not read/],
      [['replay', join(tmp, 'missing.token')], /expected a schedule token \(starting nsx1\.\) or a file holding one, found ".*missing\.token" \(ENOENT\)/],
      [['run', CONTROLLED, '--schedule', 'sometimes'], /--schedule: expected free, random, pct, pct:DEPTH, modeled or exhaustive:BOUND, found "sometimes"/],
      [['run', CONTROLLED, '--schedule', 'random:3'], /--schedule: expected free, random, pct, pct:DEPTH, modeled or exhaustive:BOUND, found "random:3"/],
      [['run', CONTROLLED, '--accesses', '0', '--duration', '1s'], /accesses: .*> 0 under schedule.strategy random|bounded by accesses/],
    ];
    for (const [args, re] of cases) {
      const r = nestsim(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const free = join(tmp, 'free.json');
    expect(nestsim('run', join(ROOT, 'configs', 'default.yaml'), '--vcpus', '1', '--accesses', '200', '--json', free, '--quiet').code).toBe(0);
    const r = nestsim('replay', free);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected a results document of a controlled run/);
  });
});
