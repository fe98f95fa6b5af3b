/**
 * `npm run bench:wasm`: an experiment, not a design. Would moving the walk and the hottest atomics
 * into a small WebAssembly module make the fault path faster? It measures, on a copy of a machine
 * whose shadow table fault-storm has populated:
 *
 * - an atomic 32-bit load: `Atomics.load` on the machine's Int32Array; `i32.atomic.load` called from
 *   JS once per load; and the same inside a Wasm loop (no boundary crossing);
 * - the shadow-table walk the hardware walker does on a TLB miss (`findLeaf`, four atomic loads
 *   and the index arithmetic): in JS, and as one Wasm call.
 *
 * Wasm can only address a `WebAssembly.Memory`, so the machine is copied into a shared one here; a
 * Wasm core would need the whole machine to live in one (docs/performance.md). Results: minimum
 * over repetitions of ns per operation, printed as a table and written to bench/results.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import wabtInit from 'wabt';
import { loadConfig, applyOverrides } from '../src/workload/config.js';
import { setupMachine, contextFor } from '../src/engine/setup.js';
import { Cpu } from '../src/hw/cpu.js';
import { shadowPgdUnit } from '../src/hv/guests.js';
import { LeafRef, findLeaf, UNIT_WORDS } from '../src/mmu/tree.js';
import { PAGE_PTE, PTE_NLB_MASK } from '../src/mmu/pte.js';
import { packageRoot } from '../src/util/paths.js';

/** The walk of `findLeaf` for the 4 KiB geometry (bits 13/9/9/9, index shifts 27/18/9/0), as WAT. */
function walkWat(): string {
  const level = (shift: number, bits: number, last: boolean): string => `
    (local.set $idx (i32.add (local.get $table) (i32.and (i32.shr_u (local.get $pn) (i32.const ${shift})) (i32.const ${(1 << bits) - 1}))))
    (local.set $e (i32.atomic.load (i32.shl (local.get $idx) (i32.const 2))))
    (if (i32.ge_s (local.get $e) (i32.const 0)) (then (return (i32.const -1))))
    (if (i32.ne (i32.and (local.get $e) (i32.const ${PAGE_PTE})) (i32.const 0)) (then (return ${shift === 27 ? '(i32.const -1)' : '(local.get $idx)'})))
    ${last ? '' : `(local.set $table (i32.add (local.get $spaceWord) (i32.mul (i32.sub (i32.and (local.get $e) (i32.const ${PTE_NLB_MASK})) (local.get $spaceBasePn)) (i32.const ${UNIT_WORDS}))))`}`;
  return `(module
  (import "m" "mem" (memory 1 65536 shared))
  (func (export "load1") (param $word i32) (result i32)
    (i32.atomic.load (i32.shl (local.get $word) (i32.const 2))))
  (func (export "loads") (param $word i32) (param $n i32) (result i32)
    (local $k i32) (local $s i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.atomic.load (i32.shl (i32.add (local.get $word) (i32.and (local.get $k) (i32.const 1023))) (i32.const 2)))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next)))
    (local.get $s))
  (func (export "findLeaf") (param $table i32) (param $pn i32) (param $spaceWord i32) (param $spaceBasePn i32) (result i32)
    (local $idx i32) (local $e i32)${level(27, 13, false)}${level(18, 9, false)}${level(9, 9, false)}${level(0, 9, true)}
    (i32.const -1))
)`;
}

/** The part of the WebAssembly API used here (the ES2022 library types do not declare it). */
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer };
  compile(bytes: ArrayBufferLike | Uint8Array): Promise<unknown>;
  instantiate(module: unknown, imports: object): Promise<{ exports: unknown }>;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Minimum over `reps` of ns per call of `op`, run `n` times per repetition. */
function bestNs(reps: number, n: number, op: () => number): { ns: number; sink: number } {
  let best = Infinity;
  let sink = 0;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) sink ^= op();
    best = Math.min(best, ((performance.now() - t) * 1e6) / n);
  }
  return { ns: best, sink };
}

async function main(): Promise<void> {
  // A fault-storm machine, one vCPU, its shadow table populated by a pass over the working set.
  const cfg = applyOverrides(loadConfig(join(packageRoot(), 'configs', 'fault-storm.yaml')), { vcpus: '1', 'guests.count': '1', accesses: '1' }, 'bench');
  const m = setupMachine(cfg);
  const ctx = contextFor(m, cfg, 0, 0);
  const cpu = new Cpu(ctx, 1);
  cpu.enter();
  const pages = 4096;
  const pn = (i: number): number => (256 + i) * m.L.basePn;
  for (let i = 0; i < pages; i++) cpu.access(pn(i), 0);
  const slot = cpu.regs.slot;

  // The same bytes in a shared WebAssembly.Memory.
  const wasmPages = Math.ceil(m.sab.byteLength / 65536);
  const memory = new Wasm.Memory({ initial: wasmPages, maximum: wasmPages, shared: true });
  new Uint8Array(memory.buffer).set(new Uint8Array(m.sab));
  const w = new Int32Array(memory.buffer);
  const wabt = await wabtInit();
  const bin = wabt.parseWat('walk.wat', walkWat(), { threads: true }).toBinary({}).buffer;
  const inst = await Wasm.instantiate(await Wasm.compile(bin), { m: { mem: memory } });
  const x = inst.exports as { load1(word: number): number; loads(word: number, n: number): number; findLeaf(table: number, pn: number, spaceWord: number, spaceBasePn: number): number };

  const space = m.hostSpace;
  const table = space.word + shadowPgdUnit(slot) * UNIT_WORDS;
  const ref = new LeafRef();
  // The two walks agree on every page.
  for (let i = 0; i < pages; i++) {
    const a = findLeaf(w, space, shadowPgdUnit(slot), pn(i), ctx.g, ref);
    const b = x.findLeaf(table, pn(i), space.word, space.basePn);
    if (a !== b || a < 0) throw new Error(`page ${i}: JS walk ${a}, Wasm walk ${b}`);
  }

  const reps = 15;
  const n = 1 << 20;
  const base = space.word;
  let k = 0;
  const jsLoad = bestNs(reps, n, () => Atomics.load(w, base + (k++ & 1023)));
  k = 0;
  const wasmCall = bestNs(reps, n, () => x.load1(base + (k++ & 1023)));
  const inWasm = bestNs(reps, 16, () => x.loads(base, n));
  let p = 0;
  const jsWalk = bestNs(reps, n >> 2, () => findLeaf(w, space, shadowPgdUnit(slot), pn(p++ & (pages - 1)), ctx.g, ref));
  p = 0;
  const wasmWalk = bestNs(reps, n >> 2, () => x.findLeaf(table, pn(p++ & (pages - 1)), space.word, space.basePn));

  const rows: Array<[string, number]> = [
    ['atomic load, Atomics.load (JS)', jsLoad.ns],
    ['atomic load, i32.atomic.load called from JS', wasmCall.ns],
    ['atomic load, inside a Wasm loop', inWasm.ns / n],
    ['shadow walk (findLeaf), JS', jsWalk.ns],
    ['shadow walk (findLeaf), one Wasm call', wasmWalk.ns],
  ];
  const width = Math.max(...rows.map(([l]) => l.length));
  process.stdout.write(`ns per operation (minimum of ${reps} repetitions; Node ${process.version}, ${os.cpus()[0]?.model ?? '?'})\n`);
  for (const [label, ns] of rows) process.stdout.write(`${label.padEnd(width)}  ${ns.toFixed(2).padStart(7)}\n`);
  const out = join(packageRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `wasm-atomics-${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), command: 'npm run bench:wasm', node: process.version, cpu: os.cpus()[0]?.model, nsPerOp: Object.fromEntries(rows.map(([l, ns]) => [l, +ns.toFixed(2)])), sink: jsLoad.sink ^ wasmCall.sink ^ inWasm.sink ^ jsWalk.sink ^ wasmWalk.sink }, null, 2) + '\n');
  process.stdout.write(`wrote ${file}\n`);
}

await main();
