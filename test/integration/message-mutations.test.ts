import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { MatrixClient, Upstream } from '../../src/matrix/http.ts';
import { getEvent, getMessages } from '../../src/matrix/room-events.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import { MAX_BODY_BYTES, MAX_REASON_LENGTH } from '../../src/schema/mutation-support.ts';
import { graphql } from '../generated/gql.ts';
import type { MessageType, SendMessageInput } from '../generated/graphql.ts';
import { startFacade } from '../support/facade.ts';
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

  it('should send once when retried with the same clientMutationId', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'retry');
    const clientMutationId = `mutation-${randomUUID()}`;
    const send = () =>
      facade.graphql(SendMessageIdOnly, {
        token: user.accessToken,
        variables: { input: { roomId, body: 'only once', clientMutationId } },
      });

    const first = await send();
    const second = await send();
    expect(first.errors).toBeUndefined();
    expect(second.errors).toBeUndefined();
    expect(second.data?.sendMessage).toEqual(first.data?.sendMessage);
    expect(first.data?.sendMessage?.clientMutationId).toBe(clientMutationId);

    const events = await messagesInRoom(client, roomId);
    expect(events.map((event) => event.eventId)).toEqual([first.data?.sendMessage?.eventId]);
    // The homeserver shows the sender's own device the transaction ID it was sent with.
    expect(events[0]?.unsigned.transactionId).toBe(clientMutationId);
  });

  it('should send once when retried with the same txnId, whatever the clientMutationId', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'retry');
    const txnId = `txn-${randomUUID()}`;
    const send = (clientMutationId: string) =>
      facade.graphql(SendMessageIdOnly, {
        token: user.accessToken,
        variables: { input: { roomId, body: 'only once', txnId, clientMutationId } },
      });

    const [first, second] = [await send('first'), await send('second')];
    expect(first.data?.sendMessage?.eventId).toMatch(/^\$/);
    expect(second.data?.sendMessage).toEqual({
      clientMutationId: 'second',
      eventId: first.data?.sendMessage?.eventId,
    });

    const events = await messagesInRoom(client, roomId);
    expect(events.map((event) => event.eventId)).toEqual([first.data?.sendMessage?.eventId]);
    expect(events[0]?.unsigned.transactionId).toBe(txnId);
  });

  it('should send twice when no transaction ID is given', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'fresh');
    const send = () =>
      facade.graphql(SendMessageIdOnly, {
        token: user.accessToken,
        variables: { input: { roomId, body: 'twice' } },
      });
    const first = await send();
    const second = await send();
    expect(second.data?.sendMessage?.eventId).not.toBe(first.data?.sendMessage?.eventId);
    expect(await messagesInRoom(client, roomId)).toHaveLength(2);
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
      name: 'an empty txnId',
      field: 'txnId',
      input: { roomId: '!room:test', body: 'x', txnId: '' },
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

  it('should redact once when retried with the same txnId', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client, roomId } = await userWithRoom(upstream, 'redactor');
    const sent = await facade.graphql(SendMessageIdOnly, {
      token: user.accessToken,
      variables: { input: { roomId, body: 'to be redacted' } },
    });
    const eventId = sent.data?.sendMessage?.eventId ?? '';
    const txnId = `redact-${randomUUID()}`;
    const redact = () =>
      facade.graphql(RedactEvent, {
        token: user.accessToken,
        variables: { input: { roomId, eventId, txnId } },
      });

    const first = await redact();
    const second = await redact();
    expect(first.data?.redactEvent?.eventId).toMatch(/^\$/);
    expect(second.data?.redactEvent?.eventId).toBe(first.data?.redactEvent?.eventId);
    const redactions = await getMessages(client, roomId, {
      dir: 'b',
      limit: 100,
      filter: { types: ['m.room.redaction'] },
    });
    expect(redactions.chunk.map((event) => event.eventId)).toEqual([
      first.data?.redactEvent?.eventId,
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
