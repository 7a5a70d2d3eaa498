import { describe, expect, it } from 'vitest';
import { tokenKeys } from '../../../src/cluster/cluster-redis.ts';
import { tokenKey } from '../../../src/cluster/token-key.ts';
import {
  fromWire,
  parseClusterMessage,
  responseFromWire,
  responseToWire,
  toWire,
} from '../../../src/cluster/update-wire.ts';
import { MatrixApiError } from '../../../src/matrix/errors.ts';
import { type SyncResponse, toSyncResponse } from '../../../src/matrix/sync.ts';
import type { SyncUpdate } from '../../../src/sync/sync-events.ts';

const SECRET = 'a-cursor-secret-of-at-least-32-characters';

describe('update-wire', () => {
  it('should carry updates through JSON unchanged, and `ended` with its Matrix error', () => {
    const updates: SyncUpdate[] = [
      {
        kind: 'timeline',
        roomId: '!r:x',
        event: {
          eventId: '$e',
          type: 'm.room.message',
          sender: '@a:x',
          originServerTs: 1,
          content: { body: 'hi' },
        } as never,
      },
      { kind: 'gap', roomId: '!r:x' },
      {
        kind: 'ended',
        error: new MatrixApiError({
          status: 401,
          errcode: 'M_UNKNOWN_TOKEN',
          error: 'Invalid access token passed.',
          retryAfterMs: null,
          endpoint: { method: 'GET', path: '/_matrix/client/v3/sync' },
          body: {},
        }),
      },
    ];
    const received = JSON.parse(JSON.stringify(updates.map(toWire))).map(fromWire);
    expect(received.slice(0, 2)).toEqual(updates.slice(0, 2));
    const ended = received[2];
    expect(ended.kind).toBe('ended');
    expect(ended.error).toBeInstanceOf(MatrixApiError);
    expect(ended.error).toMatchObject({ status: 401, errcode: 'M_UNKNOWN_TOKEN' });
  });

  it('should take only well-formed messages from a channel', () => {
    const message = { kind: 'updates', from: 'a/1', epoch: 'e', seq: 3, updates: [] };
    expect(parseClusterMessage(message)).toEqual(message);
    expect(parseClusterMessage({ kind: 'released', from: 'a/1' })).toEqual({
      kind: 'released',
      from: 'a/1',
    });
    const asked = { kind: 'snapshot-request', from: 'b/2', id: 'q1', filter: { room: {} } };
    expect(parseClusterMessage(asked)).toEqual(asked);
    expect(parseClusterMessage({ kind: 'nudge', from: 'b/2', id: 'n1' })).toEqual({
      kind: 'nudge',
      from: 'b/2',
      id: 'n1',
    });
    for (const junk of [
      null,
      'text',
      42,
      { kind: 'updates', from: 'a', epoch: 'e', seq: '3' },
      { kind: 'nudge', from: 'b/2' },
      { kind: 'snapshot-request', from: 'b/2', id: 'q1', filter: 'all' },
      { kind: 'snapshot', from: 'a/1', id: 'q1', epoch: 'e', after: '3', response: {} },
    ]) {
      expect(parseClusterMessage(junk)).toBeNull();
    }
  });

  it('should carry a raw sync response through JSON unchanged, and refuse one of another shape', () => {
    const response: SyncResponse = toSyncResponse({
      next_batch: 's2',
      rooms: {
        join: {
          '!r:x': {
            timeline: {
              events: [
                {
                  event_id: '$m',
                  type: 'm.room.message',
                  sender: '@a:x',
                  origin_server_ts: 5,
                  content: { body: 'hi' },
                },
              ],
              limited: true,
              prev_batch: 'p1',
            },
            unread_notifications: { notification_count: 2, highlight_count: 1 },
            account_data: { events: [{ type: 'm.tag', content: { tags: { 'u.work': {} } } }] },
          },
        },
        invite: {
          '!i:x': {
            invite_state: {
              events: [{ type: 'm.room.name', state_key: '', sender: '@b:x', content: {} }],
            },
          },
        },
        leave: { '!l:x': { timeline: { events: [] } } },
      },
      account_data: { events: [{ type: 'm.direct', content: {} }] },
    } as never);
    const received = responseFromWire(JSON.parse(JSON.stringify(responseToWire(response))));
    expect(received).toEqual(response);
    expect(received?.join.get('!r:x')?.timeline.events[0]?.eventId).toBe('$m');
    expect(received?.invite.has('!i:x')).toBe(true);
    for (const junk of [null, {}, { nextBatch: 's', join: {}, invite: [], knock: [], leave: [] }]) {
      expect(responseFromWire(junk)).toBeNull();
    }
  });
});

describe('tokenKey', () => {
  it('should name a token alike on every instance with the same secret, and never show it', () => {
    const token = 'syt_secret_token_value';
    const name = tokenKey(SECRET)(token);
    expect(name).toMatch(/^[0-9a-f]{32}$/);
    expect(tokenKey(SECRET)(token)).toBe(name);
    expect(tokenKey(`${SECRET}!`)(token)).not.toBe(name);
    expect(tokenKey(SECRET)(`${token}x`)).not.toBe(name);
    const keys = Object.values(tokenKeys(name)).join(' ');
    expect(keys).not.toContain(token);
    // One hash slot in a Redis Cluster for all of a token's keys.
    expect(Object.values(tokenKeys(name)).every((key) => key.includes(`{${name}}`))).toBe(true);
  });
});
