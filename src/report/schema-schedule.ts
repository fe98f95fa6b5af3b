/**
 * The schema of a controlled run's `schedule` section (stats/schedule.ts).
 */
import { POINTS } from '../sync/schedule-layout.js';
import { arr, count, nullable, num, obj, str, type Schema } from './schema-build.js';

const POINT = (d: string): Schema => str(d, { enum: [...POINTS] });

export const SCHEDULE: Schema = obj('A controlled run\'s schedule (docs/schedules.md): the vCPUs ran one at a time between named schedule points, the next chosen by the strategy.', {
  strategy: str('How the next thread was chosen (schedule.strategy).', { enum: ['random', 'pct', 'modeled', 'exhaustive'] }),
  seed: count('The seed the choices derive from (the run\'s seed).', 'seed'),
  pct: {
    description: 'PCT only (null otherwise): its depth d, the step count k the d - 1 change points were drawn from, and the probability bound 1 / (n k^(d-1)) of finding a given depth-d bug in one run.',
    oneOf: [
      { type: 'null' },
      obj('PCT parameters.', { depth: count('d (schedule.depth).'), steps: count('k (schedule.steps, or its default).', 'schedule points'), probabilityBound: num('1 / (n k^(d-1)), n the vCPUs.', 'probability') }),
    ],
  },
  outcome: str('completed; deadlock (no thread could run while some were blocked); livelock (too many steps of threads only polling); failed (a vCPU thread failed).', { enum: ['completed', 'deadlock', 'livelock', 'failed'] }),
  points: count('Schedule points passed.', 'schedule points'),
  decisions: count('Points where more than one thread could run next.'),
  switches: count('Turns handed to another thread.'),
  preemptions: count('Switches away from a thread that could have gone on.'),
  lastPoints: arr('Each vCPU\'s last schedule point (where a deadlock or livelock left it).', POINT('A point.')),
  diverged: {
    description: 'For a replay of a list of choices: the first decision it could not follow (the code reached another point, or the thread named could not run), or null.',
    oneOf: [
      { type: 'null' },
      obj('A divergence.', {
        decision: count('The decision\'s number, from 0.', 'index'),
        expected: obj('What the list said.', { vcpu: count('The thread at the point (255: the start).', 'index'), point: POINT('The point.'), chose: count('The thread it chose.', 'index') }),
        found: obj('What the run reached.', { vcpu: count('The thread at the point (255: the start).', 'index'), point: POINT('The point.') }),
      }),
    ],
  },
  timeline: arr(
    'The steps before the first violation (the first unexplained one when there is one), or the run\'s last steps; oldest first, at most 64.',
    obj('One step.', { step: count('Its number, from 1.', 'index'), vcpu: count('The thread that passed the point.', 'index'), point: POINT('The point.'), detail: str('What the point is about: the lock of a lock point (mmu_lock, tlb_lock[g], slots_lock, ...); for pte-update and hw-rc-update, the PTE before and after as 64-bit Power ISA values ("0x... -> 0x...").') }, ['detail']),
    { maxItems: 64 },
  ),
  timelineAt: str('Whether the timeline ends at the first violation or at the end of the run.', { enum: ['first-violation', 'end'] }),
  token: str('`nestsim replay TOKEN` reruns this schedule and checks it reproduces the first violation recorded in it.', { pattern: '^nsx1\\.' }),
  choicesToken: nullable(str('The same token with the explicit list of choices: a replay says where it diverges; null when the list overflowed its log.', { pattern: '^nsx1\\.' })),
});

export const SCHEDULE_OR_NULL = (d: string): Schema => ({ description: d, oneOf: [{ type: 'null' }, SCHEDULE] });
