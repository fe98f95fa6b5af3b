/** nestsim's name and version, as the results documents and `nestsim --version` give them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/paths.js';

export const TOOL_NAME = 'nestsim';

let cachedVersion: string | undefined;

/** The version in nestsim's package.json, or '0.0.0' when it cannot be read. */
export function toolVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = '0.0.0';
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    if (pkg.name === TOOL_NAME && typeof pkg.version === 'string') cachedVersion = pkg.version;
  } catch {
    // not readable: the placeholder stands
  }
  return cachedVersion;
}
