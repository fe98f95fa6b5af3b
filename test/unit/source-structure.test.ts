/**
 * The shape of the source tree: no import cycle anywhere in src/ (a module and everything it
 * imports can be read bottom-up, and the radix mechanism never reaches back into the nesting
 * policy), the layering of the folders, and no source file over ~400 lines.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of `file` (type-only ones too: they tie the modules just the same), as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

/** Strongly connected components of more than one file (or a file importing itself): Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.map((f) => relative(ROOT, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('source structure', () => {
  it('reads every import (the parser sees the tree)', () => {
    expect(files.length).toBeGreaterThan(40);
    expect(graph.get(join(SRC, 'hv/nested-fault.ts'))).toContain(join(SRC, 'hv/radix.ts'));
  });

  it('the cycle finder finds a planted cycle', () => {
    const planted = new Map([
      ['/a.ts', ['/b.ts']],
      ['/b.ts', ['/c.ts']],
      ['/c.ts', ['/a.ts']],
      ['/d.ts', ['/a.ts']],
    ]);
    expect(cycles(planted)).toHaveLength(1);
    expect(cycles(planted)[0]).toHaveLength(3);
  });

  it('no import cycle in src/', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('the radix mechanism imports nothing of the nesting policy (guests, shadow tables, the L1 table)', () => {
    const mech = importsOf(join(SRC, 'hv/radix.ts')).map((f) => relative(SRC, f));
    for (const nesting of ['hv/guests.ts', 'hv/shadow.ts', 'hv/l1-table.ts', 'hv/nested-fault.ts', 'hv/tlbie.ts']) expect(mech).not.toContain(nesting);
  });

  it('lower folders never import higher ones (mmu, memory, invariants, hv, hw, check, engine)', () => {
    const rank: Record<string, number> = { util: 0, mmu: 1, sync: 1, cost: 1, stats: 1, workload: 1, memory: 2, invariants: 3, hv: 4, hw: 5, check: 6, report: 6, engine: 7 };
    const bad: string[] = [];
    for (const [f, deps] of graph) {
      const from = relative(SRC, f).split('/')[0]!;
      for (const d of deps) {
        const to = relative(SRC, d).split('/')[0]!;
        if (rank[from] !== undefined && rank[to] !== undefined && rank[to] > rank[from]) bad.push(`${relative(ROOT, f)} -> ${relative(ROOT, d)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no source file over 400 lines', () => {
    const long = files.map((f) => [relative(ROOT, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });
});
