/**
 * A controlled run's schedule in the HTML report: the timeline that led to the first violation
 * (a column per vCPU, a row per step, each point coloured by what it touches) and the command
 * that replays it.
 */
import type { ScheduleSection } from '../stats/schedule.js';
import { esc } from './svg.js';

/** Point families and their colours (the legend lists them). */
const FAMILIES: ReadonlyArray<{ name: string; color: string; points: readonly string[] }> = [
  { name: 'fault path', color: '#4c78a8', points: ['after-translate', 'after-seq-read', 'after-l1-lookup', 'before-commit'] },
  { name: 'lock', color: '#9d755d', points: ['lock-acquire', 'lock-release'] },
  { name: 'PTE / rmap', color: '#e45756', points: ['pte-update', 'nonatomic-rmw', 'hw-rc-update', 'rmap-update'] },
  { name: 'tlbie', color: '#f58518', points: ['tlbie', 'tlbie-wait'] },
  { name: 'actor', color: '#54a24b', points: ['actor-step', 'srcu-grace', 'audit-park', 'audit-wait'] },
  { name: 'guest entry / exit', color: '#b279a2', points: ['guest-entry', 'guest-exit', 'start', 'end', 'yield'] },
];
const COLOR = new Map(FAMILIES.flatMap((f) => f.points.map((p) => [p, f.color] as const)));

export function scheduleHtml(s: ScheduleSection, vcpus: number): string {
  const cols = Array.from({ length: vcpus }, (_, v) => `<th>vCPU ${v}</th>`).join('');
  const rows = s.timeline
    .map((e, i) => {
      const last = i === s.timeline.length - 1 && s.timelineAt === 'first-violation';
      const cells = Array.from({ length: vcpus }, (_, v) =>
        v === e.vcpu ? `<td class="pt" style="border-left:4px solid ${COLOR.get(e.point) ?? '#bab0ac'}">${esc(e.detail !== undefined ? `${e.point} ${e.detail}` : e.point)}</td>` : '<td class="idle"></td>',
      ).join('');
      return `<tr${last ? ' class="viol-step"' : ''}><td>${e.step}</td>${cells}</tr>`;
    })
    .join('\n');
  const legend = FAMILIES.map((f) => `<span style="border-left:4px solid ${f.color};padding-left:4px;margin-right:12px">${esc(f.name)}</span>`).join('');
  const pct = s.pct !== null ? `, PCT depth ${s.pct.depth} over k = ${s.pct.steps.toLocaleString('en-US')} steps (a depth-${s.pct.depth} bug found with probability at least ${s.pct.probabilityBound.toPrecision(2)} per run)` : '';
  return `<p>Controlled schedule (${esc(s.strategy)}, seed ${s.seed}${esc(pct)}): ${s.points.toLocaleString('en-US')} steps, ${s.decisions.toLocaleString('en-US')} decisions, ${s.switches.toLocaleString('en-US')} switches, ${s.preemptions.toLocaleString('en-US')} preemptions; ${esc(s.outcome)}${s.outcome === 'completed' ? '' : ` (last points: ${esc(s.lastPoints.map((p, v) => `vCPU ${v} ${p}`).join(', '))})`}.</p>
<p>${s.timelineAt === 'first-violation' ? 'The steps that led to the first violation (the last row is the step that reported it):' : 'The last steps of the run:'}</p>
<p class="legend">${legend}</p>
<table class="timeline"><thead><tr><th>step</th>${cols}</tr></thead><tbody>
${rows}
</tbody></table>
<p>Replay it exactly:</p>
<pre>nestsim replay ${esc(s.token)}</pre>`;
}
