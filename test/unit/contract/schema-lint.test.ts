import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

describe('schema.graphql', () => {
  it('should pass graphql-eslint (schema-recommended and schema-relay, see eslint.config.js)', async () => {
    const eslint = new ESLint({ cwd: root });
    const results = await eslint.lintFiles(['schema.graphql']);
    const messages = results.flatMap((result) => result.messages);
    const perRule = new Map<string, number>();
    for (const message of messages) {
      const rule = message.ruleId ?? 'parse error';
      perRule.set(rule, (perRule.get(rule) ?? 0) + 1);
    }
    const summary = [...perRule].map(([rule, count]) => `${rule} ×${count}`).join(', ');
    expect(
      messages.map(
        (message) =>
          `schema.graphql:${message.line}:${message.column} ${message.ruleId ?? 'parse error'}: ${message.message.replaceAll('\n', ' ')}`,
      ),
      `graphql-eslint found ${messages.length} problems in schema.graphql (${summary}); ` +
        '`npm run schema:lint` lists them too',
    ).toEqual([]);
  }, 30_000);
});
