/**
 * Clients that cannot keep up: a websocket that stops reading while hundreds of events arrive
 * meets an explicit gap, then the newest events, never silently fewer; one token's live
 * subscriptions are capped across its connections.
 */
import { describe, expect, it, vi } from 'vitest';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom, joinRoom } from '../../src/matrix/rooms.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';
import { openAuthenticatedSocket } from '../support/raw-websocket.ts';
import { newestEventIds, type RoomEventsMessage } from '../support/room-events-feed.ts';
import { startServer } from '../support/server.ts';

/** With each message's body: the large bodies make up what the socket has to carry. */
const ROOM_EVENTS = `subscription ($roomId: ID!) {
  roomEvents(roomId: $roomId) { event { id ... on MessageEvent { body } } gap { room { id } } }
}`;
const MY_MEMBERSHIP = 'subscription { myMembership { membership } }';

/** A raw graphql-transport-ws client authenticated with `token`, its messages read as above. */
const rawClient = (url: string, token: string) =>
  openAuthenticatedSocket<RoomEventsMessage>(url, token);

const text = (body: string) => ({ msgtype: 'm.text', body });

describe('slow consumers', () => {
  it('should give a websocket that stopped reading a gap, then the newest events in order, each once', async () => {
    await using upstream = newUpstream();
    const [alice, bob] = await Promise.all([
      newUserClient(upstream, 'slow-alice'),
      newUserClient(upstream, 'slow-bob'),
    ]);
    const { roomId } = await createRoom(bob.client, { name: 'Flood', preset: 'public_chat' });
    await joinRoom(alice.client, roomId);
    await using server = await startServer();
    await using stalled = await rawClient(server.wsUrl, alice.user.accessToken);
    // Reads all along: it tells when the facade has handed everything out.
    await using reader = await rawClient(server.wsUrl, alice.user.accessToken);
    stalled.subscribe('events', ROOM_EVENTS, { roomId });
    reader.subscribe('events', ROOM_EVENTS, { roomId });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(2));

    // The server pings every 12 s and drops a socket that has not answered 12 s later; a paused
    // socket answers nothing. Right after a ping the pause may last about 20 s.
    await stalled.nextPing();
    stalled.pause();
    // Large events, so that what the kernel buffers for the stalled socket (a few MB) is a small
    // part of them and the rest has to wait in the facade: 500 of 40 kB are 20 MB. The homeserver
    // takes about 50 a second in one room, whatever their size.
    const padding = 'x'.repeat(40_000);
    const count = 500;
    // Twenty at a time; the homeserver's timeline says in which order they landed.
    await Promise.all(
      Array.from({ length: 20 }, async (_, lane) => {
        for (let index = lane; index < count; index += 20) {
          await sendMessageEvent(
            bob.client,
            roomId,
            'm.room.message',
            `flood-${index}`,
            text(padding),
          );
        }
      }),
    );
    const marker = await sendMessageEvent(bob.client, roomId, 'm.room.message', 'end', text('end'));
    const hasMarker = (messages: RoomEventsMessage[]) =>
      messages.some((message) => message.payload?.data?.roomEvents?.event?.id === marker.eventId);
    await vi.waitFor(() => expect(hasMarker(reader.of('events'))).toBe(true), {
      timeout: 30_000,
      interval: 50,
    });
    stalled.resume();
    await vi.waitFor(() => expect(hasMarker(stalled.of('events'))).toBe(true), {
      timeout: 30_000,
      interval: 50,
    });

    const sent = await newestEventIds(bob.client, roomId, count + 1);
    expect(sent.at(-1)).toBe(marker.eventId);
    const items = stalled.of('events').map((message) => {
      expect(message).toMatchObject({ type: 'next', payload: { data: expect.anything() } });
      const item = message.payload?.data?.roomEvents;
      return item?.gap ? 'gap' : (item?.event?.id ?? 'neither');
    });
    expect(items).toContain('gap');
    // Every event at most once, in order, and every run of missing events behind a gap.
    let next = 0;
    let gapSince = false;
    for (const item of items) {
      if (item === 'gap') {
        gapSince = true;
        continue;
      }
      const at = sent.indexOf(item);
      expect(
        at,
        `${item} is not one of the events sent, or came twice or late`,
      ).toBeGreaterThanOrEqual(next);
      if (at > next) {
        expect(gapSince, `events ${next} to ${at - 1} are missing without a gap`).toBe(true);
      }
      next = at + 1;
      gapSince = false;
    }
    // It ends with the newest events, up to the marker.
    expect(items.at(-1)).toBe(marker.eventId);
    expect(items.length).toBeLessThan(count);
  });

  it('should refuse one subscription more than a token may have, whichever connection asks, and keep the socket', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'cap-alice');
    const { roomId } = await createRoom(alice.client, { name: 'Capped' });
    await using server = await startServer();
    // 200 subscriptions in all, on two connections (100 each, the per-connection cap).
    await using first = await rawClient(server.wsUrl, alice.user.accessToken);
    await using second = await rawClient(server.wsUrl, alice.user.accessToken);
    for (let index = 0; index < 100; index++) {
      first.subscribe(`m${index}`, MY_MEMBERSHIP);
      second.subscribe(`m${index}`, MY_MEMBERSHIP);
    }
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(200), { timeout: 20_000 });

    await using third = await rawClient(server.wsUrl, alice.user.accessToken);
    server.upstream.reset();
    third.subscribe('refused', ROOM_EVENTS, { roomId });
    await vi.waitFor(() =>
      expect(third.of('refused').map((message) => message.type)).toContain('complete'),
    );

    expect(third.of('refused')[0]?.payload?.errors).toEqual([
      expect.objectContaining({ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 200 } }),
    ]);
    // Refused before asking the homeserver anything (no `/state` of the room).
    expect(server.upstream.requests.filter((request) => request.includes('/state'))).toEqual([]);
    // The socket goes on: once one subscription ends, another is accepted.
    first.send({ id: 'm0', type: 'complete' });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(199));
    third.subscribe('accepted', ROOM_EVENTS, { roomId });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(200));
    expect(third.of('accepted')).toEqual([]);
    expect(third.isOpen()).toBe(true);
  });
});
