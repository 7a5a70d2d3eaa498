import { describe, expect, it } from 'vitest';
import { arrayConnection, pageRequest } from '../../../src/schema/connection-args.ts';

const code = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as { extensions?: { code?: string; field?: string } }).extensions;
  }
  return undefined;
};

describe('pageRequest', () => {
  it('should default to 20 forward and read the direction from the arguments', () => {
    expect(pageRequest({})).toEqual({ size: 20, backward: false });
    expect(pageRequest({ first: 5, after: 'x' })).toEqual({ size: 5, backward: false });
    expect(pageRequest({ last: 7 })).toEqual({ size: 7, backward: true });
    expect(pageRequest({ before: 'x' })).toEqual({ size: 20, backward: true });
  });

  it('should refuse sizes outside 0–100 and mixed directions with BAD_USER_INPUT', () => {
    expect(code(() => pageRequest({ first: 101 }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
    expect(code(() => pageRequest({ last: -1 }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'last',
    });
    expect(code(() => pageRequest({ first: 1, last: 1 }))).toEqual({ code: 'BAD_USER_INPUT' });
    expect(code(() => pageRequest({ after: 'a', before: 'b' }))).toEqual({
      code: 'BAD_USER_INPUT',
    });
    expect(code(() => pageRequest({ first: 1, before: 'b' }))).toEqual({ code: 'BAD_USER_INPUT' });
    expect(pageRequest({ first: 100 }).size).toBe(100);
  });
});

describe('arrayConnection', () => {
  const items = Array.from({ length: 5 }, (_, index) => ({ index }));

  it('should page through a list with the cursors it gives', () => {
    const first = arrayConnection({ first: 2 }, items);
    expect(first.edges.map((edge) => edge?.node.index)).toEqual([0, 1]);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const rest = arrayConnection({ first: 10, after: first.pageInfo.endCursor }, items);
    expect(rest.edges.map((edge) => edge?.node.index)).toEqual([2, 3, 4]);
    expect(rest.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });

  it('should refuse a cursor it did not make with BAD_USER_INPUT', () => {
    for (const after of ['garbage', Buffer.from('arrayconnection:-3').toString('base64'), '']) {
      expect(code(() => arrayConnection({ first: 1, after }, items))).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'after',
      });
    }
  });
});
