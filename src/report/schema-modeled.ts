/**
 * The schema of a run's `modeled` section (stats/modeled.ts): the run in modeled POWER9 time.
 */
import { COST_CATEGORIES, COST_CATEGORY_DOCS, COST_MODELS, type CostCategory } from '../cost/model.js';
import { MODELED_LATENCY_KINDS } from '../stats/modeled.js';
import { arr, count, counts, num, obj, ref, str, type Schema } from './schema-build.js';

export const MODELED: Schema = {
    description: 'The run in modeled POWER9 time (docs/cost-model.md): each event charged its cost in cycles onto a per-vCPU modeled clock; null when cost.model is none. The wall-clock figures above are the simulator\'s own.',
    oneOf: [
      { type: 'null' },
      obj('Modeled time.', {
        model: str('The cost model (cost.model).', { enum: COST_MODELS.filter((m) => m !== 'none') }),
        cpuGHz: num('Clock of the modeled core (cost.cpuGHz): modeled ns = cycles / cpuGHz.', 'GHz'),
        durationNs: count('Modeled run time: the earliest vCPU start to the latest vCPU end.', 'ns'),
        accessesPerSec: num("Accesses per modeled second: the sum of the vCPUs' rates, each over its own modeled time.", 'per second'),
        faultsPerSec: num("Faults (every kind) per modeled second: the sum of the vCPUs' rates, each over its own modeled time.", 'per second'),
        perVcpu: arr(
          'One entry per vCPU, in vCPU order.',
          obj('One vCPU in modeled time.', {
            vcpu: count('vCPU number.', 'index'),
            durationNs: count('Its modeled run time.', 'ns'),
            accessesPerSec: num('Its accesses per modeled second.', 'per second'),
            faultsPerSec: num('Its faults per modeled second.', 'per second'),
          }),
        ),
        latencyNs: {
          type: 'object',
          description: "Modeled latency per fault kind (from the exit to L0's return, L0's part) and per stage, in modeled ns. Every fault records its kind's latency; one fault in stageSample records its stages (every fault before 1.7.0); every modeled lock wait records its wait stage.",
          required: [...MODELED_LATENCY_KINDS],
          properties: Object.fromEntries(MODELED_LATENCY_KINDS.map((k) => [k, ref('histogram')])),
          additionalProperties: ref('histogram'),
        },
        stageSample: { type: 'integer', minimum: 1, description: 'One fault in this many recorded its modeled stages in latencyNs (a fixed stride: which faults is repeatable). Since 1.7.0.' },
        lockWait: obj('Modeled queueing on the locks.', {
          mmuLock: obj('mmu_lock.', { waitNs: count('Modeled time waiters queued for it.', 'ns'), share: num('That wait as a share of all vCPUs\' modeled time.', 'fraction') }),
          tlbLock: obj('The nested guests\' tlb_locks.', { waitNs: count('Modeled time waiters queued for them.', 'ns'), share: num('That wait as a share of all vCPUs\' modeled time.', 'fraction') }),
          inversions: count('Acquisitions that arrived, in modeled time, before the previous holder took the lock (wall-clock order differed from modeled order; bounded by cost.skewCycles).'),
        }),
        breakdown: counts('Modeled cycles by cost category over all vCPUs: where the accesses, faults and actors spent their time.', COST_CATEGORIES, (k) => COST_CATEGORY_DOCS[k as CostCategory], 'cycles'),
        skewCycles: obj('The skew bound between the vCPUs\' modeled clocks.', {
          bound: count('cost.skewCycles.', 'cycles'),
          observedMax: count('The largest lead of a vCPU over the slowest running one seen at a check.', 'cycles'),
          waits: count('Times a vCPU slept to stay within the bound.'),
        }),
      }),
    ],
  };
