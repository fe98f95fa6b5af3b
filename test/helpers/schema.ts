/** The shipped results schema, compiled once with ajv (draft 2020-12, strict). */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';

const SCHEMA_FILE = new URL('../../schema/results.schema.json', import.meta.url);

let check: ((doc: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string; params: unknown }> | null } | undefined;

/** Every way `doc` breaks the shipped schema, as `path message` lines; empty when it conforms. */
export function schemaProblems(doc: unknown): string[] {
  check ??= new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
  if (check(doc)) return [];
  return (check.errors ?? []).map((e) => `${e.instancePath || '(document)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
