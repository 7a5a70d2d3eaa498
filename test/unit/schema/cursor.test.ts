import { randomBytes } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  decodeTimelineCursor,
  encodeTimelineCursor,
  openCursor,
  sealCursor,
  sealedConnection,
  type TimelineScope,
} from '../../../src/schema/cursor.ts';

const key = randomBytes(32);
const scope: TimelineScope = { roomId: '!room:localhost', types: null };
const eventId = '$Abc-123_xyz/+=';

/** The error `decode` throws, or a failure when it throws none. */
function refusal(decode: () => unknown): GraphQLError {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    return error as GraphQLError;
  }
  throw new Error('the cursor was accepted');
}

describe('schema/cursor', () => {
  describe('sealCursor / openCursor', () => {
    it('should give back the payload for the same key and scope', () => {
      const cursor = sealCursor(key, ['list', 1], { n: 42, s: 'x' });
      expect(openCursor(key, ['list', 1], cursor)).toEqual({ n: 42, s: 'x' });
    });

    it('should produce URL-safe text that does not show the payload in the clear', () => {
      const cursor = sealCursor(key, 'scope', { e: eventId });
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
      expect(cursor).not.toContain(eventId);
    });

    it('should refuse a cursor sealed for another scope or with another key', () => {
      const cursor = sealCursor(key, ['list', 1], { n: 1 });
      expect(openCursor(key, ['list', 2], cursor)).toBeUndefined();
      expect(openCursor(randomBytes(32), ['list', 1], cursor)).toBeUndefined();
    });

    it('should refuse garbage, truncated and oversized input', () => {
      const cursor = sealCursor(key, 's', { n: 1 });
      for (const input of [
        '',
        '.',
        'abc',
        'not-a-cursor.at-all',
        cursor.slice(0, -1),
        `${cursor}A`,
        `.${cursor.split('.')[1]}`,
        `${cursor}.${cursor}`,
        `${'A'.repeat(2000)}.${cursor.split('.')[1]}`,
      ]) {
        expect(openCursor(key, 's', input), input).toBeUndefined();
      }
    });

    it('should refuse a cursor whose payload was changed, even with the old MAC', () => {
      const [, mac] = sealCursor(key, 's', { n: 1 }).split('.');
      const forged = `${Buffer.from(JSON.stringify({ n: 2 })).toString('base64url')}.${mac}`;
      expect(openCursor(key, 's', forged)).toBeUndefined();
    });
  });

  describe('encodeTimelineCursor / decodeTimelineCursor', () => {
    it('should round-trip the event ID for the same room and filter', () => {
      const withTypes = { roomId: scope.roomId, types: ['m.room.message', 'm.room.name'] };
      const cursor = encodeTimelineCursor(key, withTypes, eventId);
      expect(decodeTimelineCursor(key, withTypes, cursor, 'after')).toBe(eventId);
    });

    it('should treat the types filter as a set (order and repeats do not matter)', () => {
      const cursor = encodeTimelineCursor(
        key,
        { roomId: scope.roomId, types: ['b', 'a'] },
        eventId,
      );
      const same = { roomId: scope.roomId, types: ['a', 'b', 'a'] };
      expect(decodeTimelineCursor(key, same, cursor, 'before')).toBe(eventId);
    });

    it.each([
      ['another room', { roomId: '!other:localhost', types: null }],
      ['a types filter', { roomId: scope.roomId, types: ['m.room.message'] }],
      ['an empty types filter', { roomId: scope.roomId, types: [] }],
    ])('should refuse a cursor of the unfiltered list for %s with BAD_USER_INPUT', (_, other) => {
      const cursor = encodeTimelineCursor(key, scope, eventId);
      const error = refusal(() => decodeTimelineCursor(key, other, cursor, 'after'));
      expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    });

    it('should refuse a cursor issued with another key, naming the argument', () => {
      const cursor = encodeTimelineCursor(randomBytes(32), scope, eventId);
      const error = refusal(() => decodeTimelineCursor(key, scope, cursor, 'before'));
      expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'before' });
      expect(error.message).toMatch(/^before: not a cursor from this list/);
    });

    it('should refuse a validly signed payload that does not name an event', () => {
      const scopeKey = ['room-messages', scope.roomId, null];
      for (const payload of [{ e: 'not-an-event-id' }, { e: 7 }, { x: eventId }, null, 'text']) {
        const cursor = sealCursor(key, scopeKey, payload);
        const error = refusal(() => decodeTimelineCursor(key, scope, cursor, 'after'));
        expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      }
      // The same layout with a real event ID is accepted, so the refusals above are about the payload.
      const valid = sealCursor(key, scopeKey, { e: eventId });
      expect(decodeTimelineCursor(key, scope, valid, 'after')).toBe(eventId);
    });
  });

  describe('sealedConnection', () => {
    const items = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];

    it('should seal each cursor only when read, once, and make each node at once', () => {
      const sealed: string[] = [];
      const page = sealedConnection(
        items,
        {
          node: (item) => ({ name: item.id.toUpperCase() }),
          cursor: (item) => {
            sealed.push(item.id);
            return `cursor-${item.id}`;
          },
        },
        { hasNextPage: true, hasPreviousPage: false },
      );
      expect(page.edges.map((edge) => edge.node)).toEqual([
        { name: 'A' },
        { name: 'B' },
        { name: 'C' },
      ]);
      expect(sealed).toEqual([]);
      expect(page.edges[1]?.cursor).toBe('cursor-b');
      expect(page.edges[1]?.cursor).toBe('cursor-b');
      expect(sealed).toEqual(['b']);
      expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
      expect(page.pageInfo.startCursor).toBe('cursor-a');
      expect(page.pageInfo.endCursor).toBe('cursor-c');
      // The page's ends are its first and last edges' cursors, each sealed once for both.
      expect(page.edges[0]?.cursor).toBe('cursor-a');
      expect(sealed).toEqual(['b', 'a', 'c']);
    });

    it('should have no start or end cursor for an empty page', () => {
      const page = sealedConnection(
        [],
        { node: () => null, cursor: () => 'never' },
        { hasNextPage: false, hasPreviousPage: true },
      );
      expect(page.edges).toEqual([]);
      expect(page.pageInfo.startCursor).toBeNull();
      expect(page.pageInfo.endCursor).toBeNull();
      expect(page.pageInfo.hasPreviousPage).toBe(true);
    });
  });
});
