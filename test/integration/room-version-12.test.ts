/**
 * Room version 12's privileged creators (the `m.room.create` sender and `additional_creators`)
 * outrank every power level and are never listed in `m.room.power_levels`: read back from a real
 * v12 room through the facade.
 */
import { describe, expect, it } from 'vitest';
import { putStateEvent } from '../../src/matrix/room-state.ts';
import { createRoom, joinRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

const CreatorsQuery = graphql(`
  query CreatorsOfRoom($id: ID!) {
    room(id: $id) {
      version
      creator {
        id
      }
      members(first: 10) {
        edges {
          node {
            user {
              id
            }
            powerLevel
            isPrivilegedCreator
          }
        }
      }
      powerLevels {
        privilegedCreators {
          id
        }
        users {
          user {
            id
          }
          level
          isPrivilegedCreator
        }
        kick
      }
    }
  }
`);

const INT_MAX = 2_147_483_647;

describe('a room of version 12', () => {
  it('should put its creators above every level, in members and power levels alike', async () => {
    await using upstream = newUpstream();
    const [alice, bob, carol] = await Promise.all([
      newUserClient(upstream, 'v12-alice'),
      newUserClient(upstream, 'v12-bob'),
      newUserClient(upstream, 'v12-carol'),
    ]);
    const { roomId } = await createRoom(alice.client, {
      preset: 'public_chat',
      roomVersion: '12',
      creationContent: { additional_creators: [bob.user.userId] },
    });
    await Promise.all([joinRoom(bob.client, roomId), joinRoom(carol.client, roomId)]);
    // Carol gets the usual admin level; creators may not be listed (Synapse refuses it in v12).
    await putStateEvent(alice.client, roomId, 'm.room.power_levels', '', {
      users: { [carol.user.userId]: 100 },
    });
    await using facade = startFacade();

    const { data, errors } = await facade.graphql(CreatorsQuery, {
      token: carol.user.accessToken,
      variables: { id: roomId },
    });

    expect(errors).toBeUndefined();
    const room = data?.room;
    expect(room?.version).toBe('12');
    expect(room?.creator).toEqual({ id: alice.user.userId });
    const creators = [alice.user.userId, bob.user.userId].sort();
    expect(room?.powerLevels.privilegedCreators.map((user) => user.id)).toEqual(creators);
    expect(room?.powerLevels.users).toEqual([
      ...creators.map((id) => ({ user: { id }, level: INT_MAX, isPrivilegedCreator: true })),
      { user: { id: carol.user.userId }, level: 100, isPrivilegedCreator: false },
    ]);
    // Highest first: the two creators (by name), then carol at 100.
    expect(room?.members?.edges.map((edge) => edge.node)).toEqual([
      ...[alice, bob]
        .map(({ user }) => user.userId)
        .map((id) => ({ user: { id }, powerLevel: INT_MAX, isPrivilegedCreator: true })),
      { user: { id: carol.user.userId }, powerLevel: 100, isPrivilegedCreator: false },
    ]);
  });

  it('should give nobody unlimited power in an older room version', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'v11-alice');
    const { roomId } = await createRoom(alice.client, { roomVersion: '11' });
    await using facade = startFacade();

    const { data } = await facade.graphql(CreatorsQuery, {
      token: alice.user.accessToken,
      variables: { id: roomId },
    });

    expect(data?.room?.powerLevels.privilegedCreators).toEqual([]);
    expect(data?.room?.members?.edges.map((edge) => edge.node)).toEqual([
      { user: { id: alice.user.userId }, powerLevel: 100, isPrivilegedCreator: false },
    ]);
  });
});
