/**
 * Runs one nestsim command (its arguments) in this process, then prints the process's peak
 * resident memory, worker threads included, as the last line: `peak-rss-kib N`. The bench's
 * memory rows (bench/commands.ts); Node gives no child's peak, so the command runs here.
 */
import { main } from '../src/cli.js';

const code = await main(process.argv.slice(2));
process.stdout.write(`\npeak-rss-kib ${process.resourceUsage().maxRSS}\n`);
process.exitCode = code;
