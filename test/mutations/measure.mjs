// Time to detection per mutation on a stress config (the figures in docs/mutations.md).
//
//   npm run build
//   node test/mutations/measure.mjs [config=configs/stress.yaml] [runs=10] [maxRounds=100] [mutation ...]
//
// For each mutation (default: all of them, plus the intact protocol), `runs` stress runs with
// seeds 1000, 2000, ... (round r of a run uses seed + r, as `nestsim stress --seed` does), each
// stopping at its first violating round (or after maxRounds): rounds and seconds to detection
// (seconds include starting the worker pool), and which invariants the violating round broke.
// A name `open:p5` (or `open:p1+p5`) instead of a mutation runs the config with every window of
// docs/model.md §7 fixed except those (for configs/stress-mainline.yaml). Prints a Markdown
// table; MEASURE_JSON=file also writes the raw runs; MEASURE_SET=k=v,... overrides config keys. Equivalent CLI, one run: nestsim stress <config> --mutation X --seed 1000
// --iterations <maxRounds> (which does not stop at the first violation, but reports its round
// and time as "first violation: round R ... after S s").
import { writeFileSync } from 'node:fs';
import { loadConfig, applyOverrides } from '../../dist/src/workload/config.js';
import { runStress } from '../../dist/src/engine/stress.js';
import { MUTATIONS } from '../../dist/src/workload/types.js';

const [cfgPath = 'configs/stress.yaml', runsArg = '10', maxArg = '100', ...only] = process.argv.slice(2);
const runs = Number(runsArg);
const maxRounds = Number(maxArg);
const names = only.length > 0 ? only : ['none', ...MUTATIONS];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// MEASURE_SET="stress.pause=0,actors.host.harvest=1": extra config overrides, as --set would.
const sets = Object.fromEntries(
  (process.env.MEASURE_SET ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

const raw = [];
const rows = [];
for (const name of names) {
  const results = [];
  for (let k = 1; k <= runs; k++) {
    const o = { seed: String(k * 1000), ...sets };
    if (name.startsWith('open:')) {
      // protocol: mainline with every window but the named ones fixed (open:p5, open:p1+p5)
      const open = name.slice(5).split('+');
      o.fix = ['p1', 'p2', 'p3', 'p4', 'p5'].filter((p) => !open.includes(p));
    } else if (name !== 'none') o.mutation = [name];
    const cfg = applyOverrides(loadConfig(cfgPath), o);
    const r = await runStress(cfg, { rounds: maxRounds, timeMs: 0, stopAtFirst: true });
    const inv = Object.entries(r.byInvariant)
      .filter(([, v]) => v.violated > 0)
      .map(([n]) => n);
    const res = {
      mutation: name,
      seed: k * 1000,
      caught: r.violatingRounds > 0,
      rounds: r.first ? r.first.round + 1 : r.rounds,
      seconds: (r.first ? r.first.atMs : r.elapsedMs) / 1000,
      invariants: inv,
      first: r.first?.violations[0]?.message,
    };
    results.push(res);
    raw.push(res);
    process.stderr.write(`${name} seed ${res.seed}: ${res.caught ? `caught in round ${res.rounds} (${res.seconds.toFixed(2)} s): ${inv.join(', ')}` : `clean for ${res.rounds} rounds`}\n`);
  }
  const caught = results.filter((x) => x.caught);
  const invCount = {};
  for (const x of caught) for (const n of x.invariants) invCount[n] = (invCount[n] ?? 0) + 1;
  rows.push({
    name,
    caught: `${caught.length}/${results.length}`,
    medRounds: caught.length === results.length ? median(caught.map((x) => x.rounds)) : NaN,
    maxRounds: caught.length ? Math.max(...caught.map((x) => x.rounds)) : NaN,
    medSeconds: caught.length === results.length ? median(caught.map((x) => x.seconds)) : NaN,
    inv: Object.entries(invCount)
      .sort((a, b) => b[1] - a[1])
      .map(([n, c]) => `${n} (${c})`)
      .join(', '),
  });
}

const fmt = (x, d = 0) => (Number.isNaN(x) ? '-' : x.toFixed(d));
console.log(`| mutation | caught | median rounds | max rounds | median s | invariants broken (runs) |`);
console.log(`|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(`| ${r.name} | ${r.caught} | ${fmt(r.medRounds, r.medRounds % 1 ? 1 : 0)} | ${fmt(r.maxRounds)} | ${fmt(r.medSeconds, 2)} | ${r.inv || '-'} |`);
}
if (process.env.MEASURE_JSON) writeFileSync(process.env.MEASURE_JSON, JSON.stringify(raw, null, 2) + '\n');
