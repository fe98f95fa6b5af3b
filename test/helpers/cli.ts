/**
 * The command tests run: the file package.json's `bin` names (the bundled command line that
 * `npx nestsim` and an installed `nestsim` start), so the tests exercise what users run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { nestsim: string } };
export const CLI = join(ROOT, pkg.bin.nestsim);
