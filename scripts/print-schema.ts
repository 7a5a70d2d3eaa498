/** Writes the schema built from the Pothos code to `schema.graphql` (committed; clients generate from it). */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { printedSchema } from '../src/schema/printed-schema.ts';

const target = resolve(import.meta.dirname, '..', 'schema.graphql');
writeFileSync(target, printedSchema());
process.stdout.write(`wrote ${target}\n`);
