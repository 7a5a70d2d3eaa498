import { describe, expect, it } from 'vitest';
import { createRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

const WHOAMI = 'GET /_matrix/client/v3/account/whoami';
const enc = encodeURIComponent;

const RoomTags = graphql(`
  query RoomTags($id: ID!) {
    room(id: $id) {
      id
      tags {
        name
        order
      }
    }
  }
`);

const SetRoomTag = graphql(`
  mutation SetRoomTag($input: SetRoomTagInput!) {
    setRoomTag(input: $input) {
      clientMutationId
      room {
        id
        tags {
          name
          order
        }
      }
    }
  }
`);

const RemoveRoomTag = graphql(`
  mutation RemoveRoomTag($input: RemoveRoomTagInput!) {
    removeRoomTag(input: $input) {
      room {
        tags {
          name
        }
      }
    }
  }
`);

describe('room tags', () => {
  it('should set, list and remove the viewer’s tags', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'tags-alice');
    const { roomId } = await createRoom(alice.client, { name: 'Tagged' });
    await using facade = startFacade();
    const token = alice.user.accessToken;
    const tagsPath = `/_matrix/client/v3/user/${enc(alice.user.userId)}/rooms/${enc(roomId)}/tags`;

    const none = await facade.graphql(RoomTags, { token, variables: { id: roomId } });
    expect(none.data?.room).toEqual({ id: roomId, tags: [] });

    facade.upstream.reset();
    const favourite = await facade.graphql(SetRoomTag, {
      token,
      variables: { input: { roomId, tag: 'm.favourite', order: 0.25, clientMutationId: 'f' } },
    });
    expect(favourite.errors).toBeUndefined();
    expect(favourite.data?.setRoomTag).toEqual({
      clientMutationId: 'f',
      room: { id: roomId, tags: [{ name: 'm.favourite', order: 0.25 }] },
    });
    // whoami (once per request), the tag, then the payload's tags.
    expect(facade.upstream.requests).toEqual([
      WHOAMI,
      `PUT ${tagsPath}/m.favourite`,
      `GET ${tagsPath}`,
    ]);

    await facade.graphql(SetRoomTag, {
      token,
      variables: { input: { roomId, tag: 'u.work' } },
    });
    const both = await facade.graphql(RoomTags, { token, variables: { id: roomId } });
    expect(both.data?.room?.tags).toEqual([
      { name: 'm.favourite', order: 0.25 },
      { name: 'u.work', order: null },
    ]);

    const removed = await facade.graphql(RemoveRoomTag, {
      token,
      variables: { input: { roomId, tag: 'm.favourite' } },
    });
    expect(removed.data?.removeRoomTag?.room.tags).toEqual([{ name: 'u.work' }]);
  });

  it('should refuse names and orders the spec does not allow before any call', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'tags-refuse');
    const { roomId } = await createRoom(alice.client, {});
    await using facade = startFacade();
    for (const [tag, order, field] of [
      ['m.server_notice', null, 'tag'],
      ['work', null, 'tag'],
      ['u.', null, 'tag'],
      ['m.favourite', 1.5, 'order'],
    ] as const) {
      const refused = await facade.graphql(SetRoomTag, {
        token: alice.user.accessToken,
        variables: { input: { roomId, tag, order } },
      });
      expect(refused.data?.setRoomTag ?? null).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const removal = await facade.graphql(RemoveRoomTag, {
      token: alice.user.accessToken,
      variables: { input: { roomId, tag: 'm.lowpriority.x' } },
    });
    expect(removal.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tag' });
    expect(facade.upstream.requests).toEqual([]);
  });

  it('should pass on the homeserver’s refusal with its errcode', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'tags-token');
    const { roomId } = await createRoom(alice.client, {});
    await using facade = startFacade();
    const refused = await facade.graphql(SetRoomTag, {
      token: 'not-a-token',
      variables: { input: { roomId, tag: 'm.favourite' } },
    });
    expect(refused.errors?.[0]).toMatchObject({
      extensions: { code: 'UNAUTHENTICATED', matrix: { errcode: 'M_UNKNOWN_TOKEN', status: 401 } },
    });
  });
});
