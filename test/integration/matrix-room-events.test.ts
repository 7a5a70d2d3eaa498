import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MatrixApiError } from '../../src/matrix/errors.ts';
import type { ClientEvent } from '../../src/matrix/events.ts';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';
import {
  getEvent,
  getEventContext,
  getMessages,
  type MessagesOptions,
  redactEvent,
  sendMessageEvent,
} from '../../src/matrix/room-events.ts';
import { createRoom } from '../../src/matrix/rooms.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

/** Sends `m.room.message` text events one after another, so their order is the order given. */
async function sendTexts(
  client: MatrixClient,
  roomId: string,
  bodies: string[],
): Promise<string[]> {
  const eventIds: string[] = [];
  for (const body of bodies) {
    const sent = await sendMessageEvent(client, roomId, 'm.room.message', randomUUID(), {
      msgtype: 'm.text',
      body,
    });
    eventIds.push(sent.eventId);
  }
  return eventIds;
}

function bodies(events: readonly ClientEvent[]): unknown[] {
  return events.map((event) => event.content['body']);
}

/** Follows `end` from page to page until the homeserver says there is no more; the chunk of each. */
async function readAllPages(
  client: MatrixClient,
  roomId: string,
  options: MessagesOptions,
): Promise<ClientEvent[][]> {
  const pages: ClientEvent[][] = [];
  let from = options.from;
  for (let page = 0; page < 20; page++) {
    const result = await getMessages(client, roomId, { ...options, ...(from ? { from } : {}) });
    pages.push(result.chunk);
    if (result.end === null) {
      return pages;
    }
    from = result.end;
  }
  throw new Error('paging did not end within 20 pages');
}

const messagesOnly = { types: ['m.room.message'] };

describe('matrix/room-events', () => {
  describe('sendMessageEvent', () => {
    it('should send once per transaction ID, answering a repeat with the same event', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'send-twice');
      const { roomId } = await createRoom(client, {});
      const txnId = randomUUID();
      const content = { msgtype: 'm.text', body: 'only once' };

      const first = await sendMessageEvent(client, roomId, 'm.room.message', txnId, content);
      const second = await sendMessageEvent(client, roomId, 'm.room.message', txnId, content);

      expect(second.eventId).toBe(first.eventId);
      const page = await getMessages(client, roomId, { dir: 'b', filter: messagesOnly });
      expect(page.chunk).toHaveLength(1);
      expect(page.chunk[0]).toMatchObject({
        eventId: first.eventId,
        roomId,
        sender: user.userId,
        type: 'm.room.message',
        content,
        stateKey: null,
        // The sender's own device sees its transaction ID.
        unsigned: { transactionId: txnId },
      });
    });
  });

  describe('getMessages', () => {
    it('should page backwards and forwards with a limit until end is null', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'paging');
      const { roomId } = await createRoom(client, {});
      await sendTexts(client, roomId, ['m1', 'm2', 'm3', 'm4', 'm5']);

      const backwards = await readAllPages(client, roomId, {
        dir: 'b',
        limit: 2,
        filter: messagesOnly,
      });
      // Synapse sends the last events with an `end` still, then an empty page without one.
      expect(backwards.map(bodies)).toEqual([['m5', 'm4'], ['m3', 'm2'], ['m1'], []]);

      const forwards = await readAllPages(client, roomId, {
        dir: 'f',
        limit: 2,
        filter: messagesOnly,
      });
      expect(forwards.map(bodies)).toEqual([['m1', 'm2'], ['m3', 'm4'], ['m5'], []]);
    });

    it('should return every event type without a filter and only the wanted types with one', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'filter');
      const { roomId } = await createRoom(client, { name: 'Filtered' });
      await sendTexts(client, roomId, ['hello']);
      await sendMessageEvent(client, roomId, 'org.example.ping', randomUUID(), { n: 1 });

      const unfiltered = await getMessages(client, roomId, { dir: 'f', limit: 50 });
      expect(unfiltered.chunk[0]?.type).toBe('m.room.create');
      expect(unfiltered.chunk.map((event) => event.type)).toEqual(
        expect.arrayContaining(['m.room.name', 'm.room.message', 'org.example.ping']),
      );

      const filtered = await getMessages(client, roomId, {
        dir: 'f',
        limit: 50,
        filter: { types: ['org.example.ping', 'm.room.name'] },
      });
      expect(filtered.chunk.map((event) => event.type)).toEqual([
        'm.room.name',
        'org.example.ping',
      ]);

      const notTypes = await getMessages(client, roomId, {
        dir: 'b',
        limit: 1,
        filter: { notTypes: ['org.example.ping'] },
      });
      expect(bodies(notTypes.chunk)).toEqual(['hello']);
    });

    it('should stop at the `to` token', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'paging-to');
      const { roomId } = await createRoom(client, {});
      await sendTexts(client, roomId, ['a1', 'a2']);
      const middle = await getMessages(client, roomId, { dir: 'b', limit: 1 });
      await sendTexts(client, roomId, ['b1', 'b2']);

      const page = await getMessages(client, roomId, {
        dir: 'b',
        to: middle.start,
        limit: 50,
        filter: messagesOnly,
      });

      expect(bodies(page.chunk)).toEqual(['b2', 'b1']);
    });

    it('should reject a garbage `from` token with 400 M_UNKNOWN', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'garbage-from');
      const { roomId } = await createRoom(client, {});

      const call = getMessages(client, roomId, { dir: 'b', from: 'garbage' });

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 400, errcode: 'M_UNKNOWN' });
    });

    it('should refuse the history of a room the caller never joined with 403 M_FORBIDDEN', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'history-alice'),
        newUserClient(upstream, 'history-bob'),
      ]);
      const { roomId } = await createRoom(alice.client, { preset: 'public_chat' });

      const call = getMessages(bob.client, roomId, { dir: 'b' });

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
    });
  });

  describe('getEventContext', () => {
    it('should return the event with its neighbours and tokens to page on from', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'context');
      const { roomId } = await createRoom(client, {});
      const ids = await sendTexts(client, roomId, ['c1', 'c2', 'c3', 'c4', 'c5']);
      const middle = ids[2] ?? '';

      const context = await getEventContext(client, roomId, middle, {
        limit: 4,
        filter: messagesOnly,
      });

      expect(context.event).toMatchObject({ eventId: middle, roomId, content: { body: 'c3' } });
      expect(bodies(context.eventsBefore)).toEqual(['c2', 'c1']);
      expect(bodies(context.eventsAfter)).toEqual(['c4', 'c5']);
      expect(context.start).not.toBeNull();
      expect(context.end).not.toBeNull();
      const older = await getMessages(client, roomId, {
        dir: 'b',
        from: context.start ?? '',
        filter: messagesOnly,
      });
      expect(older.chunk).toEqual([]);
    });
  });

  describe('getEvent', () => {
    it('should fetch one event by ID', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'get-event');
      const { roomId } = await createRoom(client, {});
      const [eventId = ''] = await sendTexts(client, roomId, ['fetch me']);

      expect(await getEvent(client, roomId, eventId)).toMatchObject({
        eventId,
        roomId,
        sender: user.userId,
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: 'fetch me' },
      });
    });

    it('should report an unknown event with 404 M_NOT_FOUND', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'no-event');
      const { roomId } = await createRoom(client, {});

      const call = getEvent(client, roomId, '$no-such-event');

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 404, errcode: 'M_NOT_FOUND' });
    });
  });

  describe('redactEvent', () => {
    it('should strip the content of the redacted event and say what redacted it', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'redact');
      const { roomId } = await createRoom(client, {});
      const [eventId = ''] = await sendTexts(client, roomId, ['regrettable']);

      const redaction = await redactEvent(client, roomId, eventId, randomUUID(), {
        reason: 'oops',
      });

      expect(redaction.eventId).not.toBe(eventId);
      const redacted = await getEvent(client, roomId, eventId);
      expect(redacted.content).toEqual({});
      expect(redacted.unsigned.redactedBecause).toMatchObject({
        eventId: redaction.eventId,
        type: 'm.room.redaction',
        sender: user.userId,
        // Room version 11 moved the target into the content.
        content: { redacts: eventId, reason: 'oops' },
      });
    });
  });
});
