/**
 * A run's modeled time in the layout of KVM's per-vCPU debugfs `timings` file on POWER (the P9
 * path's categories, CONFIG_KVM_BOOK3S_HV_P9_TIMING: one line per category, `name: count total
 * min max`, times in ns), so a run can be laid beside the same file from a real host
 * (`nestsim timings run.json --host timings.txt`). docs/cost-model.md, "Comparing with a real
 * host", gives the map from nestsim's events to each category, for both levels:
 *
 * - `l0`: L0's view of the L1 vCPU that runs H_ENTER_NESTED (nested faults are L0's page faults);
 * - `l1`: the L1 hypervisor's view of its L2 vCPU (faults L0 reflects are L1's page faults;
 *   those L0 resolves alone hide inside in_guest).
 *
 * The file describes an average vCPU of the run: counts and totals over all vCPUs divided by their
 * number, min and max over all of them.
 */
import type { RunDocument } from '../stats/document.js';
import { FAULT_KIND_NAMES } from '../stats/kinds.js';

export const TIMING_CATEGORIES = ['vcpu_entry', 'guest_entry', 'in_guest', 'guest_exit', 'vcpu_exit', 'hypercall', 'page_fault'] as const;
export type TimingCategory = (typeof TIMING_CATEGORIES)[number];
export const TIMING_LEVELS = ['l0', 'l1'] as const;
export type TimingLevel = (typeof TIMING_LEVELS)[number];

export interface TimingRow {
  name: string;
  count: number;
  totalNs: number;
  minNs: number;
  maxNs: number;
}

export class TimingsError extends Error {
  override name = 'TimingsError';
}

/** `count` events of `ns` each. */
function fixed(name: string, count: number, ns: number): TimingRow {
  return { name, count, totalNs: count * ns, minNs: count > 0 ? ns : 0, maxNs: count > 0 ? ns : 0 };
}

/** A run document's modeled time as an average vCPU's timings at `level`. */
export function timingsFromRun(doc: RunDocument, level: TimingLevel): TimingRow[] {
  const m = doc.modeled;
  if (m === null || m === undefined) throw new TimingsError('the run has no modeled time (it ran with cost.model: none)');
  const cost = (doc.config as Record<string, unknown>).cost as Record<string, number> | undefined;
  if (cost === undefined || typeof cost.exitCycles !== 'number') throw new TimingsError('the run document records no cost model in its config (written by an older nestsim)');
  const ghz = m.cpuGHz;
  const ns = (cycles: number): number => cycles / ghz;
  const exitNs = ns(cost.exitCycles);
  const vcpus = Math.max(1, doc.run.vcpus);
  const a = doc.actors;
  const l1Hcalls = a.l1Unmaps + a.l1Protects + a.l1Cleans + a.l1RangeFlushes + a.l1LpidFlushes + a.l1Destroys;
  const reflections = doc.counts.l1Handled;
  const vcpuNs = m.perVcpu.reduce((s, p) => s + p.durationNs, 0);
  const rows: TimingRow[] = [];
  if (level === 'l0') {
    // Every fault is an exit from the guest and an entry back; a reflection adds one of each
    // (H_ENTER_NESTED returns to L1, L1 calls it again). An L1 hcall is an exit and an entry too.
    const entries = doc.counts.faultsTotal + reflections + l1Hcalls;
    let count = 0;
    let total = 0;
    let min = Infinity;
    let max = 0;
    for (const kind of FAULT_KIND_NAMES) {
      const h = m.latencyNs[kind];
      if (h === null || h === undefined) continue;
      // The modeled latency runs from the exit to L0's return: its handler is that less the exit.
      count += h.count;
      total += Math.max(0, h.sumNs - h.count * exitNs);
      min = Math.min(min, Math.max(0, h.min - exitNs));
      max = Math.max(max, Math.max(0, h.max - exitNs));
    }
    const pageFault: TimingRow = { name: 'page_fault', count, totalNs: total, minNs: count > 0 ? min : 0, maxNs: max };
    const hypercall = fixed('hypercall', reflections + l1Hcalls, 0);
    hypercall.totalNs = reflections * ns(cost.enterNestedCycles) + l1Hcalls * ns(cost.hcallCycles);
    if (hypercall.count > 0) {
      hypercall.minNs = Math.min(...[reflections > 0 ? ns(cost.enterNestedCycles) : Infinity, l1Hcalls > 0 ? ns(cost.hcallCycles) : Infinity]);
      hypercall.maxNs = Math.max(reflections > 0 ? ns(cost.enterNestedCycles) : 0, l1Hcalls > 0 ? ns(cost.hcallCycles) : 0);
    }
    const guestEntry = fixed('guest_entry', entries, exitNs / 2);
    const guestExit = fixed('guest_exit', entries, exitNs / 2);
    const outside = pageFault.totalNs + hypercall.totalNs + guestEntry.totalNs + guestExit.totalNs;
    rows.push(fixed('vcpu_entry', 0, 0), guestEntry, { name: 'in_guest', count: entries, totalNs: Math.max(0, vcpuNs - outside), minNs: 0, maxNs: 0 }, guestExit, fixed('vcpu_exit', 0, 0), hypercall, pageFault);
  } else {
    // L1 enters L2 once per vCPU, and again after each fault L0 returns to it (a reflection, an
    // MMIO exit to L0's userspace, an error). Each entry and exit is half an exit-entry pair plus
    // half of H_ENTER_NESTED's own work, as L1 sees the hcall.
    const returns = reflections + doc.counts.faults.mmio + doc.counts.faults.error;
    const entries = vcpus + returns;
    const half = (exitNs + ns(cost.enterNestedCycles)) / 2;
    const pageFault = fixed('page_fault', reflections, ns(cost.reflectCycles));
    const guestEntry = fixed('guest_entry', entries, half);
    const guestExit = fixed('guest_exit', returns, half);
    // L2 makes no hcalls in nestsim; L1's own hcalls (its flushes) are L1's work outside L2.
    const l1Work = l1Hcalls * (exitNs + ns(cost.hcallCycles)) + doc.counts.faults.mmio * ns(cost.mmioCycles);
    const outside = pageFault.totalNs + guestEntry.totalNs + guestExit.totalNs + l1Work;
    rows.push(fixed('vcpu_entry', 0, 0), guestEntry, { name: 'in_guest', count: entries, totalNs: Math.max(0, vcpuNs - outside), minNs: 0, maxNs: 0 }, guestExit, fixed('vcpu_exit', 0, 0), fixed('hypercall', 0, 0), pageFault);
  }
  // An average vCPU: counts and totals per vCPU.
  return rows.map((r) => ({ ...r, count: Math.round(r.count / vcpus), totalNs: Math.round(r.totalNs / vcpus), minNs: Math.round(r.minNs), maxNs: Math.round(r.maxNs) }));
}

/** The debugfs layout: `name: count total min max`, one line per category. */
export function formatTimings(rows: readonly TimingRow[]): string {
  return rows.map((r) => `${r.name}: ${r.count} ${r.totalNs} ${r.minNs} ${r.maxNs}`).join('\n') + '\n';
}

/** A timings file from a real host. Unknown names are kept; a `stuck` line (the kernel could not read it) is skipped. */
export function parseTimings(text: string, file: string): TimingRow[] {
  const rows: TimingRow[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const m = /^([a-z_]+):\s+(.*)$/.exec(line);
    if (m === null) throw new TimingsError(`${file}:${i + 1}: expected "name: count total min max", found "${line.slice(0, 60)}"`);
    if (m[2] === 'stuck') return;
    const nums = m[2].split(/\s+/);
    if (nums.length !== 4 || !nums.every((n) => /^\d+$/.test(n))) throw new TimingsError(`${file}:${i + 1}: ${m[1]}: expected four whole numbers (count total min max, in ns), found "${m[2].slice(0, 60)}"`);
    const [count, totalNs, minNs, maxNs] = nums.map(Number);
    rows.push({ name: m[1], count, totalNs, minNs, maxNs });
  });
  if (rows.length === 0) throw new TimingsError(`${file}: expected lines "name: count total min max", found none`);
  return rows;
}

const mean = (r: TimingRow | undefined): string => (r === undefined ? '-' : r.count > 0 ? String(Math.round(r.totalNs / r.count)) : '0');

/** A host's file and a run's, side by side (per category: count, mean, min, max in ns). */
export function compareTimings(host: readonly TimingRow[], run: readonly TimingRow[], hostLabel: string, runLabel: string): string {
  const names = [...TIMING_CATEGORIES.filter((n) => host.some((r) => r.name === n) || run.some((r) => r.name === n)), ...host.map((r) => r.name).filter((n) => !(TIMING_CATEGORIES as readonly string[]).includes(n))];
  const rows = names.map((n) => {
    const h = host.find((r) => r.name === n);
    const s = run.find((r) => r.name === n);
    const cells = (r: TimingRow | undefined): string[] => (r === undefined ? ['-', '-', '-', '-'] : [String(r.count), mean(r), String(r.minNs), String(r.maxNs)]);
    return [n, ...cells(h), ...cells(s)];
  });
  const header = ['category', `${hostLabel} count`, 'mean ns', 'min ns', 'max ns', `${runLabel} count`, 'mean ns', 'min ns', 'max ns'];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n') + '\n';
}
