import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { FacadeMetrics } from '../../../src/server/metrics.ts';
import { Operations, requestIdFrom } from '../../../src/server/operations.ts';

describe('requestIdFrom', () => {
  it('should keep a sane incoming ID and replace anything else', () => {
    expect(requestIdFrom('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    expect(requestIdFrom('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBe(
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    );
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    for (const insane of [
      null,
      undefined,
      '',
      'a b',
      'x'.repeat(129),
      'line\nbreak',
      'é',
      '{"a":1}',
    ]) {
      expect(requestIdFrom(insane)).toMatch(uuid);
    }
    expect(requestIdFrom(null)).not.toBe(requestIdFrom(null));
  });
});

describe('Operations', () => {
  const refusals = async (errors: GraphQLError[]) => {
    const metrics = new FacadeMetrics();
    const operations = new Operations(createLogger('silent'), metrics);
    const record = operations.start('http', null);
    operations.errors(record, errors);
    operations.finish(record);
    const text = await metrics.render();
    return {
      codes: record.codes,
      refused: text.split('\n').filter((line) => line.startsWith('matrix_facade_refused_total{')),
    };
  };
  // Typed loosely: the codes include one no error of the facade's carries.
  const coded = (message: string, code: string) =>
    new GraphQLError(message, { extensions: { code } as Record<string, unknown> });

  it('should count a refusal by the limit that gave it, once per operation', async () => {
    expect(
      await refusals([
        coded('Aliases limit of 15 exceeded, found 16.', 'GRAPHQL_VALIDATION_FAILED'),
        coded('Query depth limit of 12 exceeded, found 13.', 'GRAPHQL_VALIDATION_FAILED'),
      ]),
    ).toEqual({
      codes: ['GRAPHQL_VALIDATION_FAILED'],
      refused: [
        'matrix_facade_refused_total{reason="GRAPHQL_VALIDATION_FAILED",limit="MAX_ALIASES"} 1',
      ],
    });
    expect(
      (
        await refusals([
          coded(
            'Syntax Error: Document contains more than 2000 tokens. Parsing aborted.',
            'GRAPHQL_PARSE_FAILED',
          ),
        ])
      ).refused,
    ).toEqual(['matrix_facade_refused_total{reason="GRAPHQL_PARSE_FAILED",limit="MAX_TOKENS"} 1']);
    expect(
      (
        await refusals([
          coded('a', 'UPSTREAM_BUDGET_EXCEEDED'),
          coded('b', 'UPSTREAM_BUDGET_EXCEEDED'),
        ])
      ).refused,
    ).toEqual([
      'matrix_facade_refused_total{reason="UPSTREAM_BUDGET_EXCEEDED",limit="MAX_UPSTREAM_CALLS_PER_REQUEST"} 1',
    ]);
  });

  it('should not count ordinary mistakes as refusals, and bound the codes', async () => {
    expect(
      await refusals([
        coded('Syntax Error: Expected Name, found <EOF>.', 'GRAPHQL_PARSE_FAILED'),
        coded('Cannot query field "nope" on type "Query".', 'GRAPHQL_VALIDATION_FAILED'),
        coded('whatever', 'SOME_PLUGIN_CODE'),
        new GraphQLError('no code at all'),
      ]),
    ).toEqual({
      codes: ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'OTHER'],
      refused: [],
    });
  });
});
