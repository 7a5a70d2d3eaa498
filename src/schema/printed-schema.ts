/** The schema in SDL, exactly as committed in `schema.graphql`. */
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './index.ts';

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
