/**
 * Runs one nestsim command (its arguments) in this process, then prints the process's peak
 * resident memory, worker threads included, as the last line: `peak-rss-kib N`. The bench's
 * memory rows (bench/commands.ts); Node gives no child's peak, so the command runs here.
 *
 * On Linux the figure is VmHWM from /proc/self/status, the high-water mark of this process's own
 * memory: `process.resourceUsage().maxRSS` keeps the parent's peak across fork and exec (the bench
 * itself, about 200 MB, showed as every command's floor). Elsewhere it is maxRSS.
 */
import { readFileSync } from 'node:fs';
import { main } from '../src/cli.js';

function peakKib(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m !== null) return Number(m[1]);
  } catch {
    // not Linux: below
  }
  return process.resourceUsage().maxRSS;
}

const code = await main(process.argv.slice(2));
process.stdout.write(`\npeak-rss-kib ${peakKib()}\n`);
process.exitCode = code;
