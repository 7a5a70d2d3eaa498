import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { printedSchema } from '../../../src/schema/printed-schema.ts';

describe('schema.graphql', () => {
  it('should match the schema built from the code (run `npm run schema:print` when it does not)', () => {
    const committed = readFileSync(resolve(import.meta.dirname, '../../../schema.graphql'), 'utf8');
    expect(printedSchema()).toBe(committed);
  });
});
