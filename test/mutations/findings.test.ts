/**
 * The findings of docs/findings/ replay from their committed, shrunk schedule tokens: each one
 * reproduces the same first violation, tagged with its kernel window, every time. A change to the
 * code that moves a schedule point may make a token diverge (the replay says where); one that
 * makes it stop reproducing fails here. Needs the build (dist/); runs from the repository root,
 * where the tokens' config paths resolve.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayToken, tokenFrom } from '../../src/cli/replay.js';
import { decodeToken, encodeToken } from '../../src/stats/schedule.js';

const FINDINGS = join(__dirname, '..', '..', 'docs', 'findings');

describe('findings replay exactly from their tokens', () => {
  for (const [window, invariants] of [
    ['P1', ['I6-dirty-log', 'I4-tlb']],
    ['P5', ['I6-dirty-log', 'I3-dirty-chain']],
    ['P6', ['I1-no-stale-shadow', 'I5-no-lost-write', 'I6-dirty-log', 'I4-tlb']],
  ] as const) {
    it(`${window}: docs/findings/${window.toLowerCase()}.token reproduces its first violation, 3 replays of 3`, async () => {
      const file = join(FINDINGS, `${window.toLowerCase()}.token`);
      expect(readFileSync(file, 'utf8').trim()).toMatch(/^nsx1\./);
      for (let k = 0; k < 3; k++) {
        const r = await replayToken(tokenFrom(file));
        expect(r.reproduced, `replay ${k}: expected ${JSON.stringify(r.expected)}, found ${JSON.stringify(r.found)}`).toBe(true);
        expect(invariants).toContain(r.found!.invariant);
        expect(r.found!.message).toContain(`window ${window} of the kernel as written`);
      }
    });

    it(`${window}: the same schedule with --fix ${window.toLowerCase()} is clean`, async () => {
      const t = decodeToken(tokenFrom(join(FINDINGS, `${window.toLowerCase()}.token`)));
      const r = await replayToken(encodeToken({ ...t, argv: [...t.argv, '--fix', window.toLowerCase()] }));
      expect(r.found, JSON.stringify(r.found)).toBeNull();
      expect(r.doc.checks.violations).toBe(0);
    });
  }
});
