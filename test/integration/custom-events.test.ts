import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getMessages } from '../../src/matrix/room-events.ts';
import { getStateEvent } from '../../src/matrix/room-state.ts';
import { createRoom, joinRoom } from '../../src/matrix/rooms.ts';
import {
  MAX_CONTENT_BYTES,
  MAX_EVENT_TYPE_BYTES,
  MAX_STATE_KEY_BYTES,
} from '../../src/schema/custom-events.ts';
import { graphql } from '../generated/gql.ts';
import type { SendEventInput, SetRoomStateInput } from '../generated/graphql.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

const SendEvent = graphql(`
  mutation SendEvent($input: SendEventInput!) {
    sendEvent(input: $input) {
      clientMutationId
      eventId
      room {
        id
      }
      event {
        __typename
        id
        type
        sender {
          id
        }
        content
      }
    }
  }
`);

const SendEventIdOnly = graphql(`
  mutation SendEventIdOnly($input: SendEventInput!) {
    sendEvent(input: $input) {
      eventId
    }
  }
`);

const SetRoomState = graphql(`
  mutation SetRoomState($input: SetRoomStateInput!) {
    setRoomState(input: $input) {
      clientMutationId
      eventId
      room {
        id
      }
    }
  }
`);

const StateEvent = graphql(`
  query CustomStateEvent($id: ID!, $type: String!, $stateKey: String) {
    room(id: $id) {
      stateEvent(type: $type, stateKey: $stateKey) {
        __typename
        id
        type
        stateKey
        content
      }
    }
  }
`);

/** The events of `type` in the room, newest first, straight from the homeserver. */
async function eventsOfType(
  client: Parameters<typeof getMessages>[0],
  roomId: string,
  type: string,
) {
  const page = await getMessages(client, roomId, {
    dir: 'b',
    limit: 100,
    filter: { types: [type] },
  });
  return page.chunk;
}

describe('sendEvent', () => {
  it('should send an event of any type and read it back', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'custom');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const content = { level: 3, tags: ['a', 'b'], nested: { ok: true, none: null } };

    const sent = await facade.graphql(SendEvent, {
      token: user.accessToken,
      variables: { input: { roomId, type: 'com.example.ping', content, clientMutationId: 'e1' } },
    });
    expect(sent.errors).toBeUndefined();
    const eventId = sent.data?.sendEvent?.eventId ?? '';
    expect(eventId).toMatch(/^\$/);
    expect(sent.data?.sendEvent).toEqual({
      clientMutationId: 'e1',
      eventId,
      room: { id: roomId },
      event: {
        __typename: 'OtherRoomEvent',
        id: eventId,
        type: 'com.example.ping',
        sender: { id: user.userId },
        content,
      },
    });
    expect(facade.upstream.requests).toEqual([
      expect.stringMatching(
        /^PUT \/_matrix\/client\/v3\/rooms\/.+\/send\/com\.example\.ping\/facade-/,
      ),
      expect.stringMatching(/^GET \/_matrix\/client\/v3\/rooms\/.+\/event\/.+$/),
    ]);
    const upstreamEvents = await eventsOfType(client, roomId, 'com.example.ping');
    expect(upstreamEvents).toHaveLength(1);
    expect(upstreamEvents[0]).toMatchObject({ eventId, content });
  });

  it('should send once for the same key and content (in any key order), again for other content', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'retry');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const send = (input: Omit<SendEventInput, 'roomId' | 'type'>) =>
      facade.graphql(SendEventIdOnly, {
        token: user.accessToken,
        variables: { input: { roomId, type: 'com.example.once', ...input } },
      });
    const idempotencyKey = `key-${randomUUID()}`;

    const first = await send({ content: { a: 1, b: { c: 2, d: 3 } }, idempotencyKey });
    const retry = await send({ content: { b: { d: 3, c: 2 }, a: 1 }, idempotencyKey });
    expect(first.errors).toBeUndefined();
    expect(retry.data?.sendEvent?.eventId).toBe(first.data?.sendEvent?.eventId);
    const other = await send({ content: { a: 2 }, idempotencyKey });
    expect(other.data?.sendEvent?.eventId).toMatch(/^\$/);
    expect(other.data?.sendEvent?.eventId).not.toBe(first.data?.sendEvent?.eventId);
    // Without a key, every call sends.
    const plain = [await send({ content: { a: 1 } }), await send({ content: { a: 1 } })];
    expect(plain[0]?.data?.sendEvent?.eventId).not.toBe(plain[1]?.data?.sendEvent?.eventId);

    expect(await eventsOfType(client, roomId, 'com.example.once')).toHaveLength(4);
    expect(facade.upstream.count(/^PUT .+\/send\//)).toBe(5);
  });
});

describe('setRoomState', () => {
  it('should set state under a user ID as state key (percent-encoded) and read it back', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'stater');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const content = { role: 'editor', since: 1 };

    const set = await facade.graphql(SetRoomState, {
      token: user.accessToken,
      variables: {
        input: {
          roomId,
          type: 'com.example.role',
          stateKey: user.userId,
          content,
          clientMutationId: 's',
        },
      },
    });
    expect(set.errors).toBeUndefined();
    const eventId = set.data?.setRoomState?.eventId ?? '';
    expect(set.data?.setRoomState).toEqual({
      clientMutationId: 's',
      eventId: expect.stringMatching(/^\$/),
      room: { id: roomId },
    });
    // The spec's example: `@alice:example.org` goes into the path as `%40alice%3Aexample.org`.
    const encodedKey = user.userId.replace('@', '%40').replace(':', '%3A');
    expect(facade.upstream.requests).toEqual([
      `PUT /_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/com.example.role/${encodedKey}`,
    ]);
    expect((await getStateEvent(client, roomId, 'com.example.role', user.userId))?.content).toEqual(
      content,
    );

    const read = await facade.graphql(StateEvent, {
      token: user.accessToken,
      variables: { id: roomId, type: 'com.example.role', stateKey: user.userId },
    });
    expect(read.errors).toBeUndefined();
    expect(read.data?.room?.stateEvent).toEqual({
      __typename: 'OtherStateEvent',
      id: eventId,
      type: 'com.example.role',
      stateKey: user.userId,
      content,
    });

    // The empty state key by default; `{}` empties the content.
    const emptyKey = await facade.graphql(SetRoomState, {
      token: user.accessToken,
      variables: { input: { roomId, type: 'com.example.settings', content: {} } },
    });
    expect(emptyKey.errors).toBeUndefined();
    const readEmpty = await facade.graphql(StateEvent, {
      token: user.accessToken,
      variables: { id: roomId, type: 'com.example.settings' },
    });
    expect(readEmpty.data?.room?.stateEvent).toMatchObject({ stateKey: '', content: {} });
  });

  it('should refuse a member without the power level with M_FORBIDDEN', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const owner = await newUserClient(upstream, 'owner');
    const member = await newUserClient(upstream, 'member');
    const { roomId } = await createRoom(owner.client, { preset: 'public_chat' });
    await joinRoom(member.client, roomId);

    const refused = await facade.graphql(SetRoomState, {
      token: member.user.accessToken,
      variables: { input: { roomId, type: 'com.example.settings', content: { x: 1 } } },
    });
    expect(refused.data?.setRoomState).toBeNull();
    expect(refused.errors?.[0]).toMatchObject({
      path: ['setRoomState'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
  });
});

describe('malformed custom events', () => {
  const roomId = '!room:example.org';
  const big = { text: 'x'.repeat(MAX_CONTENT_BYTES) };
  const sendCases: [string, SendEventInput, string][] = [
    ['an empty type', { roomId, type: '', content: {} }, 'type'],
    [
      'a type over 255 bytes',
      { roomId, type: `a.${'é'.repeat(MAX_EVENT_TYPE_BYTES / 2)}`, content: {} },
      'type',
    ],
    ['a type with whitespace', { roomId, type: 'com.example ping', content: {} }, 'type'],
    ['a redaction', { roomId, type: 'm.room.redaction', content: {} }, 'type'],
    ['oversized content', { roomId, type: 'com.example.big', content: big }, 'content'],
    [
      'an empty idempotencyKey',
      { roomId, type: 'com.example.x', content: {}, idempotencyKey: '' },
      'idempotencyKey',
    ],
    [
      'an alias for a room',
      { roomId: '#room:example.org', type: 'com.example.x', content: {} },
      'roomId',
    ],
  ];
  const stateCases: [string, SetRoomStateInput, string][] = [
    ['an empty type', { roomId, type: '', content: {} }, 'type'],
    [
      'a membership',
      { roomId, type: 'm.room.member', stateKey: '@a:example.org', content: {} },
      'type',
    ],
    ['a create event', { roomId, type: 'm.room.create', content: {} }, 'type'],
    [
      'a state key over 255 bytes',
      { roomId, type: 'com.example.x', stateKey: 'k'.repeat(MAX_STATE_KEY_BYTES + 1), content: {} },
      'stateKey',
    ],
    ['oversized content', { roomId, type: 'com.example.big', content: big }, 'content'],
  ];

  it.each(sendCases)(
    'sendEvent should refuse %s before any upstream call',
    async (_name, input, field) => {
      await using facade = startFacade();
      await using upstream = newUpstream();
      const { user } = await newUserClient(upstream, 'malformed');
      const refused = await facade.graphql(SendEventIdOnly, {
        token: user.accessToken,
        variables: { input },
      });
      expect(refused.data?.sendEvent).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(facade.upstream.requests).toEqual([]);
    },
  );

  it.each(stateCases)(
    'setRoomState should refuse %s before any upstream call',
    async (_name, input, field) => {
      await using facade = startFacade();
      await using upstream = newUpstream();
      const { user } = await newUserClient(upstream, 'malformed');
      const refused = await facade.graphql(SetRoomState, {
        token: user.accessToken,
        variables: { input },
      });
      expect(refused.data?.setRoomState).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(facade.upstream.requests).toEqual([]);
    },
  );
});
