/**
 * Under a controlled schedule (configs/stress-controlled.yaml), every protection still matters and
 * every catch replays: for each mutation M1-M14, a campaign of at most 200 controlled rounds
 * catches it, and the first violating round's token replays to the same first violation (invariant,
 * vCPU and message) 20 times of 20. Counts and outcomes only; the seed is fixed, so a failure
 * repeats with `nestsim stress configs/stress-controlled.yaml --mutation NAME --seed 1000`.
 * docs/schedules.md has the rounds each needed, for three seeds. Needs the build (dist/).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../../src/workload/config.js';
import { runStress } from '../../src/engine/stress.js';
import { replayToken } from '../../src/cli/replay.js';
import { MUTATIONS } from '../../src/workload/types.js';

const CONFIG = join(__dirname, '..', '..', 'configs', 'stress-controlled.yaml');
/** M1-M14: the mutations a correct model must catch (M15 is benign, M16 a cost). */
const CAUGHT = MUTATIONS.slice(0, 14);
const REPLAYS = 20;

describe('mutations are caught under a controlled schedule, and each catch replays exactly', () => {
  for (const [k, m] of CAUGHT.entries()) {
    it(`M${k + 1} ${m}: caught within 200 controlled rounds; its token replays ${REPLAYS} times of ${REPLAYS}`, async () => {
      const cfg = applyOverrides(loadConfig(CONFIG), { seed: '1000', mutation: [m] });
      const doc = await runStress(cfg, { rounds: 200, timeMs: 0, stopAtFirst: true });
      expect(doc.stress.violatingRounds, `${m}: not caught in ${doc.stress.rounds} controlled rounds`).toBeGreaterThan(0);
      const first = doc.firstViolation!;
      expect(first.schedule).not.toBeNull();
      for (let r = 0; r < REPLAYS; r++) {
        const out = await replayToken(first.schedule!.token);
        expect(out.reproduced, `replay ${r}: expected ${JSON.stringify(out.expected)}, found ${JSON.stringify(out.found)}`).toBe(true);
      }
    }, 900_000);
  }
});
