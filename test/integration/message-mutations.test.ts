import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Upstream } from '../../src/matrix/http.ts';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import { getEvent, getMessages } from '../../src/matrix/room-events.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import {
  MAX_BODY_BYTES,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_REASON_LENGTH,
} from '../../src/schema/mutation-support.ts';
import { graphql } from '../generated/gql.ts';
import type { MessageType, SendMessageInput } from '../generated/graphql.ts';
import { startFacade, type TestFacade } from '../support/facade.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

const SendMessage = graphql(`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      clientMutationId
      eventId
      room {
        id
      }
      event {
        __typename
        id
        roomId
        type
        sender {
          id
        }
        content
        ... on MessageEvent {
          msgtype
          body
          format
          formattedBody
        }
      }
    }
  }
`);

const SendMessageIdOnly = graphql(`
  mutation SendMessageIdOnly($input: SendMessageInput!) {
    sendMessage(input: $input) {
      clientMutationId
      eventId
    }
  }
`);

const RedactEvent = graphql(`
  mutation RedactEvent($input: RedactEventInput!) {
    redactEvent(input: $input) {
      clientMutationId
      eventId
      room {
        id
      }
    }
  }
`);

const LatestMessages = graphql(`
  query LatestMessages($id: ID!, $last: Int!) {
    room(id: $id) {
      messages(last: $last, types: ["m.room.message"]) {
        edges {
          node {
            id
            type
            sender {
              id
            }
            content
            redacted
            ... on MessageEvent {
              msgtype
              body
              format
              formattedBody
            }
          }
        }
      }
    }
  }
`);

const EventById = graphql(`
  query MessageEventById($id: ID!, $eventId: ID!) {
    room(id: $id) {
      event(id: $eventId) {
        id
        content
        redacted
        ... on MessageEvent {
          body
        }
      }
    }
  }
`);

/** The `m.room.message` events of a room, newest first, straight from the homeserver. */
async function messagesInRoom(client: MatrixClient, roomId: string) {
  const page = await getMessages(client, roomId, {
    dir: 'b',
    limit: 100,
    filter: { types: ['m.room.message'] },
  });
  return page.chunk;
}

/** A new user and a private room of theirs. */
async function userWithRoom(upstream: Upstream, prefix: string) {
  const { user, client } = await newUserClient(upstream, prefix);
  const { roomId } = await createRoom(client, { preset: 'private_chat' });
  return { user, client, roomId };
}

describe('sendMessage', () => {
  const cases: {
    msgtype: MessageType | undefined;
    wire: string;
    formattedBody?: string;
  }[] = [
    { msgtype: undefined, wire: 'm.text' },
    { msgtype: 'TEXT', wire: 'm.text', formattedBody: '<b>bold</b> text' },
    { msgtype: 'NOTICE', wire: 'm.notice' },
    { msgtype: 'NOTICE', wire: 'm.notice', formattedBody: '<i>automated</i>' },
    { msgtype: 'EMOTE', wire: 'm.emote' },
    { msgtype: 'EMOTE', wire: 'm.emote', formattedBody: 'waves <em>hello</em>' },
  ];

  for (const { msgtype, wire, formattedBody } of cases) {
    it(`should send ${wire} ${formattedBody ? 'with' : 'without'} HTML and read it back`, async () => {
      await using facade = startFacade();
      await using upstream = newUpstream();
      const { user, client, roomId } = await userWithRoom(upstream, 'sender');
      // Leading and trailing spaces are the user's: the body is sent exactly as written.
      const body = `  ${wire} message ${randomUUID()} `;

      const sent = await facade.graphql(SendMessage, {
        token: user.accessToken,
        variables: {
          input: {
            roomId,
            body,
            ...(msgtype ? { msgtype } : {}),
            ...(formattedBody ? { formattedBody } : {}),
          },
        },
      });
      expect(sent.errors).toBeUndefined();
      const payload = sent.data?.sendMessage;
      const eventId = payload?.eventId ?? '';
      expect(eventId).toMatch(/^\$/);
      const expectedContent = {
        msgtype: wire,
        body,
        ...(formattedBody
          ? { format: 'org.matrix.custom.html', formatted_body: formattedBody }
          : {}),
      };
      expect(payload).toEqual({
        clientMutationId: null,
        eventId,
        room: { id: roomId },
        event: {
          __typename: 'MessageEvent',
          id: eventId,
          roomId,
          type: 'm.room.message',
          sender: { id: user.userId },
          content: expectedContent,
          msgtype: wire,
          body,
          format: formattedBody ? 'org.matrix.custom.html' : null,
          formattedBody: formattedBody ?? null,
        },
      });

      // Through the query API…
      const read = await facade.graphql(LatestMessages, {
        token: user.accessToken,
        variables: { id: roomId, last: 1 },
      });
      expect(read.errors).toBeUndefined();
      expect(read.data?.room?.messages?.edges.map((edge) => edge.node)).toEqual([
        {
          id: eventId,
          type: 'm.room.message',
          sender: { id: user.userId },
          content: expectedContent,
          redacted: false,
          msgtype: wire,
          body,
          format: formattedBody ? 'org.matrix.custom.html' : null,
          formattedBody: formattedBody ?? null,
        },
      ]);

      // …and straight from the homeserver.
      const upstreamEvents = await messagesInRoom(client, roomId);
      expect(upstreamEvents).toHaveLength(1);
      expect(upstreamEvents[0]).toMatchObject({
        eventId,
        sender: user.userId,
        type: 'm.room.message',
        content: expectedContent,
      });
    });
  }

  it('should send the message first, then read the event for the payload', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, roomId } = await userWithRoom(upstream, 'sender');
    const sent = await facade.graphql(SendMessage, {
      token: user.accessToken,
      variables: { input: { roomId, body: 'hello' } },
    });
    expect(sent.errors).toBeUndefined();
    expect(facade.upstream.requests).toEqual([
      expect.stringMatching(/^PUT \/_matrix\/client\/v3\/rooms\/.+\/send\/m\.room\.message\/.+$/),
      expect.stringMatching(/^GET \/_matrix\/client\/v3\/rooms\/.+\/event\/.+$/),
    ]);
  });

  /** Sends `input` to `roomId` as `token`, returning the payload (or the errors). */
  const sender =
    (facade: TestFacade, token: string, roomId: string) =>
    (input: Omit<SendMessageInput, 'roomId'>) =>
      facade.graphql(SendMessageIdOnly, { token, variables: { input: { roomId, ...input } } });

  it('should send once when retried with the same idempotencyKey and the same message', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'retry');
    const send = sender(facade, user.accessToken, roomId);
    const idempotencyKey = `key-${randomUUID()}`;

    // A retry may differ in clientMutationId (an echo only) and in how it spells the defaults.
    const first = await send({ body: 'only once', idempotencyKey, clientMutationId: 'first' });
    const second = await send({
      body: 'only once',
      msgtype: 'TEXT',
      idempotencyKey,
      clientMutationId: 'second',
    });
    expect(first.errors).toBeUndefined();
    expect(first.data?.sendMessage?.eventId).toMatch(/^\$/);
    expect(second.data?.sendMessage).toEqual({
      clientMutationId: 'second',
      eventId: first.data?.sendMessage?.eventId,
    });

    const events = await messagesInRoom(client, roomId);
    expect(events.map((event) => event.eventId)).toEqual([first.data?.sendMessage?.eventId]);
    // The transaction ID is derived from the key, never the key itself.
    expect(events[0]?.unsigned.transactionId).toMatch(/^facade-key-[A-Za-z0-9_-]{43}$/);
    expect(facade.upstream.count(/\/send\//)).toBe(2);
  });

  it('should send a different message under a reused idempotencyKey', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'reused');
    const send = sender(facade, user.accessToken, roomId);
    // A client whose counter restarted after a reload gives the same key to new messages.
    const idempotencyKey = 'message-1';

    const outcomes = [
      await send({ body: 'before the reload', idempotencyKey }),
      await send({ body: 'after the reload', idempotencyKey }),
      await send({ body: 'after the reload', idempotencyKey, msgtype: 'NOTICE' }),
      await send({ body: 'after the reload', idempotencyKey, formattedBody: '<b>after</b>' }),
    ];
    const eventIds = outcomes.map((outcome) => outcome.data?.sendMessage?.eventId);
    expect(new Set(eventIds).size).toBe(4);
    const events = await messagesInRoom(client, roomId);
    expect(events.map((event) => event.eventId).reverse()).toEqual(eventIds);
    expect(events.map((event) => event.content['body']).reverse()).toEqual([
      'before the reload',
      'after the reload',
      'after the reload',
      'after the reload',
    ]);
  });

  it('should not let the same idempotencyKey meet across rooms', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'rooms');
    const { roomId: otherRoomId } = await createRoom(client, { preset: 'private_chat' });
    const idempotencyKey = `key-${randomUUID()}`;

    const here = await sender(facade, user.accessToken, roomId)({ body: 'hi', idempotencyKey });
    const there = await sender(
      facade,
      user.accessToken,
      otherRoomId,
    )({ body: 'hi', idempotencyKey });
    expect(there.data?.sendMessage?.eventId).not.toBe(here.data?.sendMessage?.eventId);
    expect(await messagesInRoom(client, roomId)).toHaveLength(1);
    expect(await messagesInRoom(client, otherRoomId)).toHaveLength(1);
  });

  it('should send twice when no idempotencyKey is given, whatever the clientMutationId', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'fresh');
    const send = sender(facade, user.accessToken, roomId);
    const clientMutationId = `mutation-${randomUUID()}`;

    const first = await send({ body: 'twice', clientMutationId });
    const second = await send({ body: 'twice', clientMutationId });
    // clientMutationId is echoed, as Relay means it, and nothing more.
    expect(first.data?.sendMessage?.clientMutationId).toBe(clientMutationId);
    expect(second.data?.sendMessage?.clientMutationId).toBe(clientMutationId);
    expect(second.data?.sendMessage?.eventId).not.toBe(first.data?.sendMessage?.eventId);

    const events = await messagesInRoom(client, roomId);
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(event.unsigned.transactionId).not.toBe(clientMutationId);
    }
  });

  const invalidInputs: { name: string; field: string; input: SendMessageInput }[] = [
    { name: 'a malformed room ID', field: 'roomId', input: { roomId: 'not-a-room', body: 'x' } },
    { name: 'an empty body', field: 'body', input: { roomId: '!room:test', body: '' } },
    { name: 'a blank body', field: 'body', input: { roomId: '!room:test', body: ' \n\t ' } },
    {
      name: 'a body over MAX_BODY_BYTES',
      field: 'body',
      // Two bytes per character in UTF-8: fewer characters than bytes allowed, too many bytes.
      input: { roomId: '!room:test', body: 'é'.repeat(MAX_BODY_BYTES / 2 + 1) },
    },
    {
      name: 'an HTML body over MAX_BODY_BYTES',
      field: 'formattedBody',
      input: { roomId: '!room:test', body: 'x', formattedBody: 'x'.repeat(MAX_BODY_BYTES + 1) },
    },
    {
      name: 'an empty idempotencyKey',
      field: 'idempotencyKey',
      input: { roomId: '!room:test', body: 'x', idempotencyKey: '' },
    },
    {
      name: 'an idempotencyKey over MAX_IDEMPOTENCY_KEY_LENGTH',
      field: 'idempotencyKey',
      input: {
        roomId: '!room:test',
        body: 'x',
        idempotencyKey: 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1),
      },
    },
  ];

  for (const { name, field, input } of invalidInputs) {
    it(`should refuse ${name} with BAD_USER_INPUT and no upstream call`, async () => {
      await using facade = startFacade();
      const result = await facade.graphql(SendMessage, {
        token: 'syt_never_used',
        variables: { input },
      });
      expect(result.data).toEqual({ sendMessage: null });
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]).toMatchObject({
        path: ['sendMessage'],
        extensions: { code: 'BAD_USER_INPUT', field },
      });
      expect(facade.upstream.count()).toBe(0);
    });
  }

  it('should accept a body of exactly MAX_BODY_BYTES', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'long');
    const body = 'é'.repeat(MAX_BODY_BYTES / 2);
    const sent = await facade.graphql(SendMessageIdOnly, {
      token: user.accessToken,
      variables: { input: { roomId, body } },
    });
    expect(sent.errors).toBeUndefined();
    const event = await getEvent(client, roomId, sent.data?.sendMessage?.eventId ?? '');
    expect(event.content['body']).toBe(body);
  });

  it('should answer UNAUTHENTICATED without a token, before any upstream call', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(SendMessage, {
      variables: { input: { roomId: '!room:test', body: 'hello' } },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(facade.upstream.count()).toBe(0);
  });

  it('should answer FORBIDDEN with the Matrix errcode for a room the viewer is not in', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { roomId } = await userWithRoom(upstream, 'owner');
    const { user: outsider } = await newUserClient(upstream, 'outsider');

    const result = await facade.graphql(SendMessage, {
      token: outsider.accessToken,
      variables: { input: { roomId, body: 'let me in' } },
    });
    expect(result.data).toEqual({ sendMessage: null });
    expect(result.errors?.[0]).toMatchObject({
      path: ['sendMessage'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
    expect(facade.upstream.count(/\/send\//)).toBe(1);
  });
});

describe('redactEvent', () => {
  it('should redact a message: redacted, with empty content, through GraphQL and upstream', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'redactor');
    const sent = await facade.graphql(SendMessageIdOnly, {
      token: user.accessToken,
      variables: { input: { roomId, body: 'regrettable', formattedBody: '<b>regrettable</b>' } },
    });
    const eventId = sent.data?.sendMessage?.eventId ?? '';

    const redacted = await facade.graphql(RedactEvent, {
      token: user.accessToken,
      variables: { input: { roomId, eventId, reason: 'typo', clientMutationId: 'r1' } },
    });
    expect(redacted.errors).toBeUndefined();
    const redactionId = redacted.data?.redactEvent?.eventId ?? '';
    expect(redactionId).toMatch(/^\$/);
    expect(redactionId).not.toBe(eventId);
    expect(redacted.data?.redactEvent).toEqual({
      clientMutationId: 'r1',
      eventId: redactionId,
      room: { id: roomId },
    });

    const byId = await facade.graphql(EventById, {
      token: user.accessToken,
      variables: { id: roomId, eventId },
    });
    expect(byId.errors).toBeUndefined();
    expect(byId.data?.room?.event).toEqual({
      id: eventId,
      content: {},
      redacted: true,
      body: null,
    });

    const latest = await facade.graphql(LatestMessages, {
      token: user.accessToken,
      variables: { id: roomId, last: 5 },
    });
    expect(latest.data?.room?.messages?.edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({ id: eventId, content: {}, redacted: true, body: null }),
    ]);

    const upstreamEvent = await getEvent(client, roomId, eventId);
    expect(upstreamEvent.content).toEqual({});
    expect(upstreamEvent.unsigned.redactedBecause).toMatchObject({
      eventId: redactionId,
      type: 'm.room.redaction',
      content: { redacts: eventId, reason: 'typo' },
    });
  });

  it('should redact once per idempotencyKey and redaction, and again without a key', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'redactor');
    const sent = await facade.graphql(SendMessageIdOnly, {
      token: user.accessToken,
      variables: { input: { roomId, body: 'to be redacted' } },
    });
    const eventId = sent.data?.sendMessage?.eventId ?? '';
    const idempotencyKey = `redact-${randomUUID()}`;
    const redact = (input: { idempotencyKey?: string; reason?: string }) =>
      facade.graphql(RedactEvent, {
        token: user.accessToken,
        variables: { input: { roomId, eventId, ...input } },
      });

    const first = await redact({ idempotencyKey, reason: 'typo' });
    const retry = await redact({ idempotencyKey, reason: 'typo' });
    const otherReason = await redact({ idempotencyKey, reason: 'spam' });
    const keyless = await redact({});
    const redactionIds = [first, retry, otherReason, keyless].map(
      (outcome) => outcome.data?.redactEvent?.eventId,
    );
    expect(redactionIds[0]).toMatch(/^\$/);
    expect(redactionIds[1]).toBe(redactionIds[0]);
    expect(new Set(redactionIds).size).toBe(3);
    const redactions = await getMessages(client, roomId, {
      dir: 'b',
      limit: 100,
      filter: { types: ['m.room.redaction'] },
    });
    expect(redactions.chunk.map((event) => event.eventId).reverse()).toEqual([
      redactionIds[0],
      redactionIds[2],
      redactionIds[3],
    ]);
  });

  it('should refuse a reason over MAX_REASON_LENGTH with BAD_USER_INPUT and no upstream call', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(RedactEvent, {
      token: 'syt_never_used',
      variables: {
        input: {
          roomId: '!room:test',
          eventId: '$event',
          reason: 'x'.repeat(MAX_REASON_LENGTH + 1),
        },
      },
    });
    expect(result.errors?.[0]).toMatchObject({
      path: ['redactEvent'],
      extensions: { code: 'BAD_USER_INPUT', field: 'reason' },
    });
    expect(facade.upstream.count()).toBe(0);
  });

  it('should refuse a malformed event ID with BAD_USER_INPUT and no upstream call', async () => {
    await using facade = startFacade();
    const result = await facade.graphql(RedactEvent, {
      token: 'syt_never_used',
      variables: { input: { roomId: '!room:test', eventId: 'no-sigil' } },
    });
    expect(result.errors?.[0]).toMatchObject({
      path: ['redactEvent'],
      extensions: { code: 'BAD_USER_INPUT', field: 'eventId' },
    });
    expect(facade.upstream.count()).toBe(0);
  });

  it("should answer FORBIDDEN when a member without power redacts another's message", async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user: owner, roomId } = await userWithRoom(upstream, 'owner');
    const { user: member, client: memberClient } = await newUserClient(upstream, 'member');
    await inviteUser(upstream.client(owner.accessToken), roomId, member.userId);
    await joinRoom(memberClient, roomId);
    const sent = await facade.graphql(SendMessageIdOnly, {
      token: owner.accessToken,
      variables: { input: { roomId, body: "owner's words" } },
    });

    const result = await facade.graphql(RedactEvent, {
      token: member.accessToken,
      variables: { input: { roomId, eventId: sent.data?.sendMessage?.eventId ?? '' } },
    });
    expect(result.errors?.[0]).toMatchObject({
      path: ['redactEvent'],
      extensions: { code: 'FORBIDDEN', matrix: { errcode: 'M_FORBIDDEN', status: 403 } },
    });
  });
});
