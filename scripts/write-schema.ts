/**
 * `npm run schema`: write schema/results.schema.json and the field reference of
 * docs/results.md (between its markers) from src/report/schema.ts, and the cost table of
 * docs/cost-model.md from src/cost/model.ts. A test fails when either
 * file differs from what this writes, so run it after changing a document's fields.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/util/paths.js';
import { resultsSchemaText } from '../src/report/schema.js';
import { FIELDS_BEGIN, FIELDS_END, withFieldReference } from '../src/report/schema-docs.js';
import { withCostTable } from '../src/cost/model.js';

const root = packageRoot();
writeFileSync(join(root, 'schema', 'results.schema.json'), resultsSchemaText());
const docs = join(root, 'docs', 'results.md');
const text = readFileSync(docs, 'utf8');
if (!text.includes(FIELDS_BEGIN) || !text.includes(FIELDS_END)) throw new Error(`${docs}: expected the markers ${FIELDS_BEGIN} and ${FIELDS_END}`);
writeFileSync(docs, withFieldReference(text));
const costDoc = join(root, 'docs', 'cost-model.md');
writeFileSync(costDoc, withCostTable(readFileSync(costDoc, 'utf8')));
process.stdout.write('wrote schema/results.schema.json, the field reference of docs/results.md and the cost table of docs/cost-model.md\n');
