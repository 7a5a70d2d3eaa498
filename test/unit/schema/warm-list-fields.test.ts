import { execute } from '@graphql-tools/executor';
import { type GraphQLObjectType, type GraphQLResolveInfo, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { toSyncResponse } from '../../../src/matrix/sync.ts';
import { RoomView } from '../../../src/room/room-view.ts';
import { StateIndex } from '../../../src/room/state-index.ts';
import type { Context } from '../../../src/schema/builder.ts';
import { schema } from '../../../src/schema/index.ts';
import type { RoomShape } from '../../../src/schema/room.ts';
import { joined, member, message, stateEvent, syncResponse } from '../sync/scripted-transport.ts';

const ME = '@me:hs.test';
const ROOM = '!listed:hs.test';

/** A field's resolver, called as graphql would call it. */
function resolverOf(type: string, field: string) {
  const resolve = (schema.getType(type) as GraphQLObjectType).getFields()[field]?.resolve;
  if (resolve === undefined) {
    throw new Error(`${type}.${field} has no resolver`);
  }
  return (parent: unknown, args: Record<string, unknown> = {}) =>
    resolve(parent, args, {} as Context, {} as GraphQLResolveInfo);
}

/** A room of the list: its state and member counts come with it. */
const listed: RoomShape = {
  roomId: ROOM,
  listing: {
    roomId: ROOM,
    membership: 'join',
    state: StateIndex.fromEvents(
      toSyncResponse(
        syncResponse('s', {
          join: {
            [ROOM]: joined([], {
              state: [
                stateEvent('m.room.name', '', { name: 'Listed' }),
                stateEvent('m.room.topic', '', { topic: 'A topic' }),
              ],
            }),
          },
        }),
      ).join.get(ROOM)?.state ?? [],
    ),
    joinedMemberCount: 3,
    invitedMemberCount: 0,
    lastActivityTs: 0,
  },
};

describe('schema: fields of a listed room', () => {
  // A warm list's rooms resolve from memory: a promise per field (and per node ID) made graphql
  // await each room's fields apart, most of the CPU a warm 50-room list cost (issue 15).
  it('should resolve the summary fields and node IDs at once, with no promise', () => {
    expect(resolverOf('Room', 'id')(listed)).toBe(ROOM);
    expect(resolverOf('Room', 'name')(listed)).toBe('Listed');
    expect(resolverOf('Room', 'topic')(listed)).toBe('A topic');
    expect(resolverOf('Room', 'avatarUrl')(listed)).toBeNull();
    expect(resolverOf('Room', 'joinedMemberCount')(listed)).toBe(3);
    expect(resolverOf('Room', 'myMembership')(listed)).toBe('join');
    expect(resolverOf('Room', 'isEncrypted')(listed)).toBe(false);
    expect(resolverOf('User', 'id')({ userId: ME })).toBe(ME);
  });

  it('should answer a warm list with the latest messages as the view holds it', async () => {
    const view = new RoomView(ME);
    view.reset(
      toSyncResponse(
        syncResponse('s0', {
          join: {
            [ROOM]: {
              // Two: the view then knows older events exist, and answers `last: 1` itself.
              ...joined([message('first'), message('hello', { sender: ME, eventId: '$hello' })], {
                state: [stateEvent('m.room.name', '', { name: 'Warm' }), member(ME, 'join')],
                limited: true,
              }),
              summary: { 'm.joined_member_count': 1, 'm.invited_member_count': 0 },
              unread_notifications: { notification_count: 0, highlight_count: 0 },
              account_data: { events: [] },
            },
          },
        }),
      ),
    );
    const context = {
      session: { viewer: { accessToken: 'token' } },
      cursorKey: new Uint8Array(32),
      warmViews: { read: async () => view },
    } as unknown as Context;
    const result = await execute({
      schema,
      document: parse(
        '{ rooms(first: 5) { edges { node { id name joinedMemberCount messages(last: 1) { edges { node { id sender { id } ... on MessageEvent { body } } } } } } } }',
      ),
      contextValue: context,
    });
    expect(result).toEqual({
      data: {
        rooms: {
          edges: [
            {
              node: {
                id: ROOM,
                name: 'Warm',
                joinedMemberCount: 1,
                messages: {
                  edges: [{ node: { id: '$hello', sender: { id: ME }, body: 'hello' } }],
                },
              },
            },
          ],
        },
      },
    });
  });
});
