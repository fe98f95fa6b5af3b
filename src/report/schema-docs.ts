/**
 * The field reference of docs/results.md, made from the schema: one table per part of a
 * document (header, each body, the shared histogram and violation record), one row per field
 * with its type, unit and description.
 */
import { resultsSchema } from './schema.js';

type Schema = Record<string, unknown>;

const UNIT = / Unit: ([^.]+(?:\.[^ ]+)?)\.$/;

function typeOf(s: Schema): string {
  if (typeof s.$ref === 'string') return s.$ref.replace('#/$defs/', '');
  if (Array.isArray(s.oneOf)) return (s.oneOf as Schema[]).map((o) => (o.type === 'null' ? 'null' : typeOf(o))).join(' or ');
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const t = Array.isArray(s.type) ? (s.type as string[]).join(' or ') : String(s.type ?? 'any');
  if (t === 'array' && s.items !== undefined) {
    const items = s.items as Schema;
    return Array.isArray(items.prefixItems) ? 'array of [integer, integer]' : `array of ${typeOf(items)}`;
  }
  return t;
}

function row(path: string, s: Schema, required: boolean): string {
  const d = String(s.description ?? '');
  const unit = UNIT.exec(d)?.[1] ?? '';
  const text = d.replace(UNIT, '').replace(/\|/g, '\\|');
  return `| \`${path}\`${required ? '' : ' (optional)'} | ${typeOf(s)} | ${unit} | ${text} |`;
}

/** Rows for the properties of `s` under `prefix`, descending into objects, arrays and maps. */
function rows(s: Schema, prefix: string, out: string[]): void {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const required = new Set((s.required ?? []) as string[]);
  for (const [name, sub] of Object.entries(props)) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    out.push(row(path, sub, required.has(name)));
    descend(sub, path, out);
  }
  for (const part of (s.allOf ?? []) as Schema[]) if (typeof part.$ref === 'string') out.push(`| \`${prefix}.*\` | ${typeOf(part)} | | and every field of ${typeOf(part)} |`);
}

function descend(sub: Schema, path: string, out: string[]): void {
  const items = sub.items as Schema | undefined;
  const each = sub.additionalProperties as Schema | boolean | undefined;
  const alt = Array.isArray(sub.oneOf) ? (sub.oneOf as Schema[]).find((o) => o.type === 'object') : undefined;
  if (alt !== undefined) rows(alt, path, out);
  else if (sub.type === 'object' && sub.properties !== undefined) rows(sub, path, out);
  else if (sub.type === 'array' && items?.type === 'object') rows(items, `${path}[]`, out);
  else if (sub.type === 'object' && typeof each === 'object' && each.type === 'object') rows(each, `${path}.<name>`, out);
}

const HEAD = '| field | type | unit | description |\n|---|---|---|---|';

/** The markdown reference of every field of every document. */
export function fieldReference(): string {
  const s = resultsSchema();
  const defs = s.$defs as Record<string, Schema>;
  const section = (title: string, schema: Schema, prefix = ''): string => {
    const out: string[] = [];
    rows(schema, prefix, out);
    return `### ${title}\n\n${HEAD}\n${out.join('\n')}\n`;
  };
  const hist = ((defs.histogram.oneOf as Schema[])[1]) as Schema;
  return [
    section('Header (every document)', s),
    section('Body of a `run` document (and of each sweep point)', defs.runBody),
    section('Body of a `stress` document', defs.stressBody),
    section('Body of a `sweep` document', defs.sweepBody),
    section('`histogram` (each `latencyNs.<kind>`; null when nothing was timed)', hist),
    section('`violation` (each record of `violations`)', defs.violation),
  ].join('\n');
}

export const FIELDS_BEGIN = '<!-- field reference: made by `npm run schema`, do not edit by hand -->';
export const FIELDS_END = '<!-- end of field reference -->';

/** `markdown` with the text between the markers replaced by the current field reference. */
export function withFieldReference(markdown: string): string {
  const a = markdown.indexOf(FIELDS_BEGIN);
  const b = markdown.indexOf(FIELDS_END);
  if (a < 0 || b < a) return markdown;
  return `${markdown.slice(0, a + FIELDS_BEGIN.length)}\n\n${fieldReference()}\n${markdown.slice(b)}`;
}
