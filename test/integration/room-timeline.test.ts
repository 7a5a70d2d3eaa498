import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import { getMessages, redactEvent, sendMessageEvent } from '../../src/matrix/room-events.ts';
import { putStateEvent } from '../../src/matrix/room-state.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import type { RoomMessagesQuery, RoomMessagesQueryVariables } from '../generated/graphql.ts';
import { startFacade, type TestFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

const RoomMessages = graphql(`
  query RoomMessages(
    $id: ID!
    $first: Int
    $after: String
    $last: Int
    $before: String
    $types: [String!]
  ) {
    room(id: $id) {
      messages(first: $first, after: $after, last: $last, before: $before, types: $types) {
        edges {
          cursor
          node {
            id
            type
            ... on MessageEvent {
              body
            }
          }
        }
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
      }
    }
  }
`);

const TypedEvents = graphql(`
  query TypedEvents($id: ID!) {
    room(id: $id) {
      messages(last: 100) {
        edges {
          node {
            __typename
            id
            roomId
            type
            sender {
              id
            }
            originServerTs
            content
            redacted
            ... on StateEvent {
              stateKey
            }
            ... on MessageEvent {
              msgtype
              body
              format
              formattedBody
            }
            ... on MemberEvent {
              membership
              target {
                id
              }
              displayName
              reason
              isDirect
            }
            ... on RoomNameEvent {
              name
            }
            ... on RoomTopicEvent {
              topic
            }
            ... on RoomCreateEvent {
              roomVersion
              creator {
                id
              }
              federate
              predecessor {
                roomId
              }
            }
            ... on PowerLevelsEvent {
              ban
              kick
              invite
              redact
              eventsDefault
              stateDefault
              usersDefault
              users
            }
            ... on JoinRulesEvent {
              joinRule
            }
            ... on HistoryVisibilityEvent {
              historyVisibility
            }
            ... on RedactionEvent {
              redacts
              reason
            }
          }
        }
      }
    }
  }
`);

const RoomState = graphql(`
  query RoomState($id: ID!, $types: [String!], $type: String!, $stateKey: String) {
    room(id: $id) {
      state(types: $types) {
        __typename
        type
        stateKey
      }
      stateEvent(type: $type, stateKey: $stateKey) {
        __typename
        id
        stateKey
        ... on MemberEvent {
          membership
          target {
            id
          }
        }
        ... on RoomTopicEvent {
          topic
        }
        ... on OtherStateEvent {
          content
        }
      }
    }
  }
`);

const RoomEventById = graphql(`
  query RoomEventById($id: ID!, $eventId: ID!) {
    room(id: $id) {
      event(id: $eventId) {
        __typename
        id
        type
        ... on MessageEvent {
          body
        }
        ... on StateEvent {
          stateKey
        }
      }
    }
  }
`);

type Page = NonNullable<NonNullable<RoomMessagesQuery['room']>['messages']>;

/**
 * Sends `count` text messages `<prefix>-<batch>-<index>` in batches of `batchSize` sent in
 * parallel, one batch after the other: events of an earlier batch always come first.
 */
async function sendBatches(
  client: MatrixClient,
  roomId: string,
  prefix: string,
  count: number,
  batchSize: number,
): Promise<void> {
  for (let start = 0; start < count; start += batchSize) {
    const batch = Math.floor(start / batchSize);
    await Promise.all(
      Array.from({ length: Math.min(batchSize, count - start) }, (_, index) =>
        sendMessageEvent(client, roomId, 'm.room.message', randomUUID(), {
          msgtype: 'm.text',
          body: `${prefix}-${batch}-${start + index}`,
        }),
      ),
    );
  }
}

async function sendText(client: MatrixClient, roomId: string, body: string): Promise<string> {
  const sent = await sendMessageEvent(client, roomId, 'm.room.message', randomUUID(), {
    msgtype: 'm.text',
    body,
  });
  return sent.eventId;
}

/** The whole timeline in the homeserver's own order, read with its own tokens (the reference). */
async function upstreamTimeline(
  client: MatrixClient,
  roomId: string,
  types?: string[],
): Promise<string[]> {
  const eventIds: string[] = [];
  let from: string | undefined;
  for (;;) {
    const page = await getMessages(client, roomId, {
      dir: 'f',
      limit: 1000,
      ...(from ? { from } : {}),
      ...(types ? { filter: { types } } : {}),
    });
    eventIds.push(...page.chunk.map((event) => event.eventId));
    if (page.end === null) {
      return eventIds;
    }
    from = page.end;
  }
}

async function messagesPage(
  facade: TestFacade,
  token: string,
  variables: RoomMessagesQueryVariables,
): Promise<Page> {
  const result = await facade.graphql(RoomMessages, { token, variables });
  expect(result.errors).toBeUndefined();
  const messages = result.data?.room?.messages;
  if (!messages) {
    throw new Error('no messages in the answer');
  }
  // The cursors of pageInfo are those of the first and last edges.
  expect(messages.pageInfo.startCursor).toBe(messages.edges[0]?.cursor ?? null);
  expect(messages.pageInfo.endCursor).toBe(messages.edges.at(-1)?.cursor ?? null);
  return messages;
}

/** Walks `first`/`after` from the start of the history to the live end; every page, in order. */
async function walkForward(
  facade: TestFacade,
  token: string,
  variables: { id: string; first: number; types?: string[] },
): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Page = await messagesPage(facade, token, { ...variables, after });
    pages.push(page);
    if (!page.pageInfo.hasNextPage) {
      return pages;
    }
    after = page.pageInfo.endCursor;
    expect(after).not.toBeNull();
  }
}

/** Walks `last`/`before` from the live end back to the start; every page, newest page first. */
async function walkBackward(
  facade: TestFacade,
  token: string,
  variables: { id: string; last: number; types?: string[] },
): Promise<Page[]> {
  const pages: Page[] = [];
  let before: string | null = null;
  for (;;) {
    const page: Page = await messagesPage(facade, token, { ...variables, before });
    pages.push(page);
    if (!page.pageInfo.hasPreviousPage) {
      return pages;
    }
    before = page.pageInfo.startCursor;
    expect(before).not.toBeNull();
  }
}

const idsOf = (page: Page) => page.edges.map((edge) => edge.node.id);

/** Checks the pages of a complete walk in either direction: full pages, exact pageInfo. */
function expectCompleteWalk(pages: Page[], size: number, direction: 'forward' | 'backward') {
  const last = pages.length - 1;
  pages.forEach((page, index) => {
    // Every page but the one at the far end is full.
    if (index < last) {
      expect(page.edges).toHaveLength(size);
    } else {
      expect(page.edges.length).toBeGreaterThan(0);
      expect(page.edges.length).toBeLessThanOrEqual(size);
    }
    const { hasNextPage, hasPreviousPage } = page.pageInfo;
    if (direction === 'forward') {
      expect({ hasPreviousPage, hasNextPage }).toEqual({
        hasPreviousPage: index > 0,
        hasNextPage: index < last,
      });
    } else {
      expect({ hasPreviousPage, hasNextPage }).toEqual({
        hasPreviousPage: index < last,
        hasNextPage: index > 0,
      });
    }
  });
}

/** `[batch, index]` of a body written by `sendBatches`. */
function batchOf(body: string | null | undefined): number {
  return Number(body?.split('-')[1]);
}

describe('Room.messages', () => {
  it('should page 250+ messages both ways with every page size, each event once and in order', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'walk');
    const { roomId } = await createRoom(alice.client, { name: 'Walks' });
    await sendBatches(alice.client, roomId, 'm', 260, 26);
    const reference = await upstreamTimeline(alice.client, roomId);
    // The room's creation events, then the messages.
    expect(reference.length).toBeGreaterThan(260);
    const token = alice.user.accessToken;

    for (const size of [40, 7, 100]) {
      const backward = await walkBackward(facade, token, { id: roomId, last: size });
      expectCompleteWalk(backward, size, 'backward');
      expect(backward.toReversed().flatMap(idsOf), `last: ${size}`).toEqual(reference);

      const forward = await walkForward(facade, token, { id: roomId, first: size });
      expectCompleteWalk(forward, size, 'forward');
      expect(forward.flatMap(idsOf), `first: ${size}`).toEqual(reference);

      // The order is the order of sending: no message of a later batch before an earlier one.
      const batches = forward
        .flatMap((page) => page.edges)
        .filter((edge) => edge.node.type === 'm.room.message')
        .map((edge) => ('body' in edge.node ? batchOf(edge.node.body) : Number.NaN));
      expect(batches).toHaveLength(260);
      expect(batches).toEqual(batches.toSorted((a, b) => a - b));
    }
  });

  it('should walk forward to the live end while another user sends, missing and repeating nothing', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'live-alice'),
      newUserClient(upstream, 'live-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });
    await joinRoom(bob.client, roomId);
    await sendBatches(alice.client, roomId, 'before', 250, 25);
    const beforeWalk = await upstreamTimeline(alice.client, roomId);

    // Bob starts sending once the walk has its first page, one message after the other.
    let firstPageSeen = () => {};
    const walkStarted = new Promise<void>((resolve) => {
      firstPageSeen = resolve;
    });
    const sentDuringWalk: string[] = [];
    const sender = (async () => {
      await walkStarted;
      for (let index = 0; index < 30; index++) {
        sentDuringWalk.push(await sendText(bob.client, roomId, `during-${index}`));
      }
    })();

    const seen: string[] = [];
    let after: string | null = null;
    let senderDone = false;
    let finalPage: Page | undefined;
    for (let pages = 0; pages < 200; pages++) {
      const page: Page = await messagesPage(facade, alice.user.accessToken, {
        id: roomId,
        first: 10,
        after,
      });
      firstPageSeen();
      seen.push(...idsOf(page));
      after = page.pageInfo.endCursor ?? after;
      if (!page.pageInfo.hasNextPage) {
        if (senderDone) {
          finalPage = page;
          break;
        }
        // At the live end before Bob is done: wait for him, then go on from the end cursor.
        await sender;
        senderDone = true;
      }
    }

    expect(finalPage?.pageInfo.hasNextPage).toBe(false);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.slice(0, beforeWalk.length)).toEqual(beforeWalk);
    expect(seen.slice(beforeWalk.length)).toEqual(sentDuringWalk);
    expect(sentDuringWalk).toHaveLength(30);
  });

  it('should filter by types on the homeserver and keep pages full over mixed event types', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'types');
    const { roomId } = await createRoom(alice.client, {});
    for (let round = 0; round < 6; round++) {
      await Promise.all([
        sendBatches(alice.client, roomId, `text${round}`, 8, 8),
        ...Array.from({ length: 8 }, (_, n) =>
          sendMessageEvent(alice.client, roomId, 'org.example.ping', randomUUID(), { n }),
        ),
      ]);
      await putStateEvent(alice.client, roomId, 'm.room.topic', '', { topic: `topic ${round}` });
    }
    const texts = await upstreamTimeline(alice.client, roomId, ['m.room.message']);
    const textsAndTopics = await upstreamTimeline(alice.client, roomId, [
      'm.room.message',
      'm.room.topic',
    ]);
    expect(texts).toHaveLength(48);
    expect(textsAndTopics).toHaveLength(54);
    const token = alice.user.accessToken;

    const forward = await walkForward(facade, token, {
      id: roomId,
      first: 7,
      types: ['m.room.message'],
    });
    expectCompleteWalk(forward, 7, 'forward');
    expect(forward.flatMap(idsOf)).toEqual(texts);
    expect(forward.flatMap((page) => page.edges.map((edge) => edge.node.type))).toEqual(
      texts.map(() => 'm.room.message'),
    );

    const backward = await walkBackward(facade, token, {
      id: roomId,
      last: 10,
      types: ['m.room.topic', 'm.room.message'],
    });
    expectCompleteWalk(backward, 10, 'backward');
    expect(backward.toReversed().flatMap(idsOf)).toEqual(textsAndTopics);

    // An empty list wants no type at all: an empty page, without asking the homeserver.
    facade.upstream.reset();
    const none = await messagesPage(facade, token, { id: roomId, first: 5, types: [] });
    expect(none).toEqual({
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
    expect(facade.upstream.count(/\/messages$/)).toBe(0);
  });

  describe('arguments', () => {
    /** The one upstream call `room(id:)` itself makes, and nothing for `messages`. */
    const roomLookupOnly = (roomId: string) => [
      `GET /_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`,
    ];

    it('should refuse malformed, tampered, cross-room and cross-filter cursors before any upstream paging', async () => {
      await using facade = startFacade();
      await using upstream = newUpstream();
      const alice = await newUserClient(upstream, 'cursors');
      const [{ roomId }, other] = await Promise.all([
        createRoom(alice.client, {}),
        createRoom(alice.client, {}),
      ]);
      await sendBatches(alice.client, roomId, 'c', 5, 5);
      const token = alice.user.accessToken;
      const page = await messagesPage(facade, token, { id: roomId, last: 3 });
      const cursor = page.pageInfo.startCursor ?? '';
      // The cursor works where it belongs.
      const next = await messagesPage(facade, token, { id: roomId, last: 3, before: cursor });
      expect(next.edges).toHaveLength(3);

      // One character of the payload changed, the signature kept.
      const tampered = `${cursor.slice(0, 4)}${cursor[4] === 'A' ? 'B' : 'A'}${cursor.slice(5)}`;
      const cases: [string, RoomMessagesQueryVariables, 'after' | 'before'][] = [
        ['garbage', { id: roomId, first: 3, after: 'garbage' }, 'after'],
        ['empty', { id: roomId, last: 3, before: '' }, 'before'],
        ['tampered', { id: roomId, last: 3, before: tampered }, 'before'],
        ['another room', { id: other.roomId, last: 3, before: cursor }, 'before'],
        [
          'another filter',
          { id: roomId, first: 3, after: cursor, types: ['m.room.message'] },
          'after',
        ],
      ];
      for (const [name, variables, field] of cases) {
        facade.upstream.reset();
        const result = await facade.graphql(RoomMessages, { token, variables });
        expect(result.errors, name).toHaveLength(1);
        expect(result.errors?.[0]?.extensions, name).toEqual({ code: 'BAD_USER_INPUT', field });
        // The room is there; its timeline page is refused.
        expect(result.data?.room, name).toEqual({ messages: null });
        expect(facade.upstream.requests, name).toEqual(roomLookupOnly(String(variables.id)));
      }
    });

    it('should refuse a page size above 100 with BAD_USER_INPUT before any upstream paging', async () => {
      await using facade = startFacade();
      await using upstream = newUpstream();
      const alice = await newUserClient(upstream, 'cap');
      const { roomId } = await createRoom(alice.client, {});
      const token = alice.user.accessToken;

      for (const variables of [
        { id: roomId, first: 101 },
        { id: roomId, last: 101 },
      ]) {
        facade.upstream.reset();
        const result = await facade.graphql(RoomMessages, { token, variables });
        expect(result.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
        expect(result.errors?.[0]?.message).toMatch(/between 0 and 100/);
        expect(facade.upstream.requests).toEqual(roomLookupOnly(roomId));
      }
      const max = await messagesPage(facade, token, { id: roomId, first: 100 });
      expect(max.pageInfo.hasNextPage).toBe(false);
    });

    it('should default to pages of 20 and cost one /messages call (plus /context from a cursor)', async () => {
      await using facade = startFacade();
      await using upstream = newUpstream();
      const alice = await newUserClient(upstream, 'cost');
      const { roomId } = await createRoom(alice.client, {});
      await sendBatches(alice.client, roomId, 'k', 70, 35);
      const token = alice.user.accessToken;
      const messages = /\/messages$/;
      const context = /\/context\//;

      facade.upstream.reset();
      // Without arguments: the first 20 events of the room.
      const oldest = await messagesPage(facade, token, { id: roomId });
      expect(oldest.edges).toHaveLength(20);
      expect(oldest.edges[0]?.node.type).toBe('m.room.create');
      expect(oldest.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
      expect(facade.upstream.count(messages)).toBe(1);
      expect(facade.upstream.count(context)).toBe(0);

      facade.upstream.reset();
      const latest = await messagesPage(facade, token, { id: roomId, last: 20 });
      expect(facade.upstream.count(messages)).toBe(1);
      expect(facade.upstream.count(context)).toBe(0);

      facade.upstream.reset();
      await messagesPage(facade, token, {
        id: roomId,
        last: 20,
        before: latest.pageInfo.startCursor,
      });
      expect(facade.upstream.count(messages)).toBe(1);
      expect(facade.upstream.count(context)).toBe(1);

      facade.upstream.reset();
      await messagesPage(facade, token, {
        id: roomId,
        first: 20,
        after: oldest.pageInfo.endCursor,
      });
      expect(facade.upstream.count(messages)).toBe(1);
      expect(facade.upstream.count(context)).toBe(1);
      // The room lookup, the /context and the /messages: three calls for a page in the middle.
      expect(facade.upstream.count()).toBe(3);
    });
  });
});

describe('Room events', () => {
  it('should resolve typed events with their fields', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'typed-alice'),
      newUserClient(upstream, 'typed-bob'),
    ]);
    const { roomId } = await createRoom(alice.client, { name: 'Typed', topic: 'Things' });
    await inviteUser(alice.client, roomId, bob.user.userId, { reason: 'come along' });
    await joinRoom(bob.client, roomId);
    const formatted = await sendMessageEvent(alice.client, roomId, 'm.room.message', randomUUID(), {
      msgtype: 'm.text',
      body: 'hello *world*',
      format: 'org.matrix.custom.html',
      formatted_body: 'hello <em>world</em>',
    });
    const doomed = await sendText(bob.client, roomId, 'regrettable');
    const redaction = await redactEvent(bob.client, roomId, doomed, randomUUID(), {
      reason: 'oops',
    });
    const custom = await sendMessageEvent(
      alice.client,
      roomId,
      'org.example.custom',
      randomUUID(),
      {
        answer: 42,
      },
    );

    const result = await facade.graphql(TypedEvents, {
      token: alice.user.accessToken,
      variables: { id: roomId },
    });
    expect(result.errors).toBeUndefined();
    const events = (result.data?.room?.messages?.edges ?? []).map((edge) => edge.node);
    const byType = (type: string) => events.filter((event) => event.type === type);

    expect(byType('m.room.create')).toEqual([
      expect.objectContaining({
        __typename: 'RoomCreateEvent',
        roomId,
        stateKey: '',
        roomVersion: '11',
        creator: { id: alice.user.userId },
        sender: { id: alice.user.userId },
        federate: true,
        predecessor: null,
        redacted: false,
      }),
    ]);
    expect(byType('m.room.name')).toEqual([
      expect.objectContaining({ __typename: 'RoomNameEvent', name: 'Typed', stateKey: '' }),
    ]);
    const [topic] = byType('m.room.topic');
    expect(topic).toMatchObject({ __typename: 'RoomTopicEvent', topic: 'Things', stateKey: '' });
    // Synapse adds the extensible form to the content.
    expect(topic?.content).toMatchObject({ 'm.topic': { 'm.text': [{ body: 'Things' }] } });
    const [powerLevels] = byType('m.room.power_levels');
    expect(powerLevels).toMatchObject({
      __typename: 'PowerLevelsEvent',
      ban: 50,
      kick: 50,
      invite: 0,
      redact: 50,
      eventsDefault: 0,
      stateDefault: 50,
      usersDefault: 0,
      users: { [alice.user.userId]: 100 },
    });
    expect(byType('m.room.join_rules')[0]).toMatchObject({
      __typename: 'JoinRulesEvent',
      joinRule: 'INVITE',
    });
    expect(byType('m.room.history_visibility')[0]).toMatchObject({
      __typename: 'HistoryVisibilityEvent',
      historyVisibility: 'SHARED',
    });
    expect(byType('m.room.member')).toEqual([
      expect.objectContaining({
        __typename: 'MemberEvent',
        membership: 'JOIN',
        target: { id: alice.user.userId },
        stateKey: alice.user.userId,
      }),
      expect.objectContaining({
        membership: 'INVITE',
        sender: { id: alice.user.userId },
        target: { id: bob.user.userId },
        reason: 'come along',
        isDirect: false,
      }),
      expect.objectContaining({ membership: 'JOIN', target: { id: bob.user.userId } }),
    ]);

    const messages = byType('m.room.message');
    expect(messages).toEqual([
      expect.objectContaining({
        __typename: 'MessageEvent',
        id: formatted.eventId,
        msgtype: 'm.text',
        body: 'hello *world*',
        format: 'org.matrix.custom.html',
        formattedBody: 'hello <em>world</em>',
        redacted: false,
      }),
      // Redaction strips the content: the typed fields turn null.
      expect.objectContaining({
        id: doomed,
        redacted: true,
        content: {},
        msgtype: null,
        body: null,
        format: null,
        formattedBody: null,
        sender: { id: bob.user.userId },
      }),
    ]);
    expect(messages[0]?.originServerTs).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(byType('m.room.redaction')).toEqual([
      expect.objectContaining({
        __typename: 'RedactionEvent',
        id: redaction.eventId,
        redacts: doomed,
        reason: 'oops',
      }),
    ]);
    expect(byType('org.example.custom')).toEqual([
      expect.objectContaining({
        __typename: 'OtherRoomEvent',
        id: custom.eventId,
        content: { answer: 42 },
      }),
    ]);
    expect(events.every((event) => event.roomId === roomId)).toBe(true);
  });

  it('should read the creator and the redacted event ID the way room versions before 11 hold them', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'v10');
    const { roomId } = await createRoom(alice.client, { roomVersion: '10' });
    const doomed = await sendText(alice.client, roomId, 'gone soon');
    const redaction = await redactEvent(alice.client, roomId, doomed, randomUUID());

    const result = await facade.graphql(TypedEvents, {
      token: alice.user.accessToken,
      variables: { id: roomId },
    });
    const events = (result.data?.room?.messages?.edges ?? []).map((edge) => edge.node);
    const create = events.find((event) => event.type === 'm.room.create');
    expect(create?.content).toMatchObject({ creator: alice.user.userId, room_version: '10' });
    expect(create).toMatchObject({ roomVersion: '10', creator: { id: alice.user.userId } });
    expect(events.find((event) => event.id === redaction.eventId)).toMatchObject({
      __typename: 'RedactionEvent',
      redacts: doomed,
      reason: null,
    });
    expect(events.find((event) => event.id === doomed)).toMatchObject({
      redacted: true,
      body: null,
    });
  });

  it('should give the current state, one state event, and events by ID', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'state');
    const { roomId } = await createRoom(alice.client, { topic: 'first topic' });
    await putStateEvent(alice.client, roomId, 'm.room.topic', '', { topic: 'second topic' });
    await putStateEvent(alice.client, roomId, 'org.example.state', 'k', { v: 1 });
    const message = await sendText(alice.client, roomId, 'find me');
    // A message type with a state key is state, but no message: the fallback type.
    const messageAsState = await putStateEvent(alice.client, roomId, 'm.room.message', 'odd', {
      msgtype: 'm.text',
      body: 'as state',
    });
    const token = alice.user.accessToken;

    const state = await facade.graphql(RoomState, {
      token,
      variables: { id: roomId, type: 'm.room.topic' },
    });
    expect(state.errors).toBeUndefined();
    expect(state.data?.room?.stateEvent).toMatchObject({
      __typename: 'RoomTopicEvent',
      topic: 'second topic',
      stateKey: '',
    });
    const all = state.data?.room?.state ?? [];
    expect(all.map((event) => `${event.type}|${event.stateKey}`)).toEqual([
      'm.room.create|',
      'm.room.guest_access|',
      'm.room.history_visibility|',
      'm.room.join_rules|',
      `m.room.member|${alice.user.userId}`,
      'm.room.message|odd',
      'm.room.power_levels|',
      'm.room.topic|',
      'org.example.state|k',
    ]);
    expect(all.find((event) => event.type === 'org.example.state')?.__typename).toBe(
      'OtherStateEvent',
    );
    expect(all.find((event) => event.type === 'm.room.message')?.__typename).toBe(
      'OtherStateEvent',
    );

    const members = await facade.graphql(RoomState, {
      token,
      variables: {
        id: roomId,
        types: ['m.room.member', 'org.example.state'],
        type: 'm.room.member',
        stateKey: alice.user.userId,
      },
    });
    expect(members.data?.room?.state?.map((event) => event.__typename)).toEqual([
      'MemberEvent',
      'OtherStateEvent',
    ]);
    expect(members.data?.room?.stateEvent).toMatchObject({
      __typename: 'MemberEvent',
      membership: 'JOIN',
      target: { id: alice.user.userId },
    });

    const custom = await facade.graphql(RoomState, {
      token,
      variables: { id: roomId, type: 'org.example.state', stateKey: 'k' },
    });
    expect(custom.data?.room?.stateEvent).toMatchObject({ stateKey: 'k', content: { v: 1 } });
    const absent = await facade.graphql(RoomState, {
      token,
      variables: { id: roomId, type: 'org.example.state', stateKey: 'missing' },
    });
    expect(absent.errors).toBeUndefined();
    expect(absent.data?.room?.stateEvent).toBeNull();

    const found = await facade.graphql(RoomEventById, {
      token,
      variables: { id: roomId, eventId: message },
    });
    expect(found.data?.room?.event).toEqual({
      __typename: 'MessageEvent',
      id: message,
      type: 'm.room.message',
      body: 'find me',
    });
    const odd = await facade.graphql(RoomEventById, {
      token,
      variables: { id: roomId, eventId: messageAsState.eventId },
    });
    expect(odd.data?.room?.event).toEqual({
      __typename: 'OtherStateEvent',
      id: messageAsState.eventId,
      type: 'm.room.message',
      stateKey: 'odd',
    });
    const unknown = await facade.graphql(RoomEventById, {
      token,
      variables: { id: roomId, eventId: '$doesNotExist' },
    });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data?.room?.event).toBeNull();

    facade.upstream.reset();
    const malformed = await facade.graphql(RoomEventById, {
      token,
      variables: { id: roomId, eventId: 'no-sigil' },
    });
    expect(malformed.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(facade.upstream.count(/\/event\//)).toBe(0);
  });
});
