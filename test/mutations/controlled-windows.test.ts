/**
 * The kernel's windows under a controlled schedule: with `protocol: mainline`, every other window
 * fixed and `--strict` (a window's violations fail the round), a campaign of at most 200
 * controlled rounds reaches P1, P5 and P6, and the first violating round's token replays to the
 * same first violation (invariant, vCPU and message, tagged with its window) 20 times of 20.
 * Counts and outcomes only; the seed is fixed, so a failure repeats with the command in each test's
 * name. docs/schedules.md has the rounds each needed, for three seeds. Needs the build (dist/).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../../src/workload/config.js';
import { runStress } from '../../src/engine/stress.js';
import { replayToken } from '../../src/cli/replay.js';
import { FIXES } from '../../src/workload/types.js';

const CONFIGS = join(__dirname, '..', '..', 'configs');
const REPLAYS = 20;

describe('the kernel windows are reached under a controlled schedule, and each replays exactly', () => {
  for (const [window, config, seed] of [
    ['p1', 'stress-mainline.yaml', '1000'],
    ['p5', 'stress-mainline.yaml', '1000'],
    ['p6', 'stress-p6.yaml', '1'],
  ] as const) {
    const others = FIXES.filter((f) => f !== window);
    it(`${window.toUpperCase()}: reached within 200 controlled rounds, its token replays ${REPLAYS} times of ${REPLAYS} (nestsim stress configs/${config} --schedule random --set accesses=2000 --strict --seed ${seed}${others.map((f) => ` --fix ${f}`).join('')})`, async () => {
      const cfg = applyOverrides(loadConfig(join(CONFIGS, config)), { seed, 'schedule.strategy': 'random', accesses: '2000', fix: others });
      const doc = await runStress(cfg, { rounds: 200, timeMs: 0, stopAtFirst: true, strict: true });
      expect(doc.stress.violatingRounds, `${window}: not reached in ${doc.stress.rounds} controlled rounds`).toBeGreaterThan(0);
      const first = doc.firstViolation!;
      expect(first.violations[0].message).toContain(`window ${window.toUpperCase()} of the kernel as written`);
      for (let r = 0; r < REPLAYS; r++) {
        const out = await replayToken(first.schedule!.token);
        expect(out.reproduced, `replay ${r}: expected ${JSON.stringify(out.expected)}, found ${JSON.stringify(out.found)}`).toBe(true);
      }
    }, 1_200_000);
  }
});
