/**
 * M16 `skip-inval` is a cost mutation, not a safety one: a well-behaved L1 grants the access or
 * injects a fault into L2 whether or not L0 runs the INVAL exit, so dropping it only changes how
 * many exits the protocol takes and how long a stale shadow leaf lives. One vCPU makes the run a
 * function of its config and seed, so the two runs are compared count for count.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { applyOverrides, loadConfig } from '../../src/workload/config.js';
import { runSimulation } from '../../src/engine/run.js';

const STRESS = join(__dirname, '..', '..', 'configs', 'stress.yaml');

async function counts(mutations: string[]) {
  const cfg = applyOverrides(loadConfig(STRESS), { vcpus: '1', accesses: '60000', 'stress.pause': '0', ...(mutations.length > 0 ? { mutation: mutations } : {}) });
  const out = await runSimulation(cfg, { inline: true });
  return out.doc;
}

describe('M16 skip-inval: a cost mutation (configs/stress.yaml, 1 vCPU, 60,000 accesses)', () => {
  it('no violation either way; the INVAL exits disappear and every other fault outcome, reflections included, is unchanged', async () => {
    const intact = await counts([]);
    const mutated = await counts(['skip-inval']);
    expect(intact.checks.violations).toBe(0);
    expect(mutated.checks.violations).toBe(0);
    // The workload reaches the INVAL path (L1 write-protects and cleans pages under L2).
    expect(intact.counts.faults.inval).toBeGreaterThan(0);
    expect(mutated.counts.faults.inval).toBe(0);
    // The protection fault is reflected to L1 either way: after INVAL on L2's re-fault, without it at once.
    expect(mutated.counts.faults.reflected).toBe(intact.counts.faults.reflected);
    expect(mutated.counts.l1Handled).toBe(intact.counts.l1Handled);
    expect(mutated.counts.faultsTotal).toBe(intact.counts.faultsTotal - intact.counts.faults.inval);
    expect({ ...mutated.counts.faults, inval: 0 }).toEqual({ ...intact.counts.faults, inval: 0 });
  });
});
