/**
 * What a websocket client cannot break: a bad operation is that operation's error, and a
 * malformed token is refused before anything reaches the homeserver.
 */
import { describe, expect, it, vi } from 'vitest';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer, subscribe } from '../support/server.ts';

const TimelineIds = graphql(`
  subscription TimelineIds($roomId: ID!) {
    roomEvents(roomId: $roomId) {
      event {
        id
      }
    }
  }
`);

describe('websocket refusals', () => {
  it('should answer a document that does not parse with an error, and keep the socket and its other subscriptions', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'ws-syntax');
    const { roomId } = await createRoom(alice.client, { name: 'Syntax' });
    await using server = await startServer();
    await using client = server.client(alice.user.accessToken);
    let closedWith: number | null = null;
    client.on('closed', (event) => {
      closedWith = (event as { code: number }).code;
    });

    const healthy = subscribe(client, TimelineIds, { roomId });
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1));
    const broken = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: 'subscription { roomEvents(roomId: "!x:hs") { event { id } ' },
        { next: () => {}, error: resolve, complete: () => resolve('completed') },
      );
    });

    expect(broken).toEqual([expect.objectContaining({ message: expect.stringMatching(/Syntax/) })]);
    const { eventId } = await sendMessageEvent(alice.client, roomId, 'm.room.message', 'still', {
      msgtype: 'm.text',
      body: 'still here',
    });
    const [value] = await healthy.next(1);
    expect(value?.data?.roomEvents.event?.id).toBe(eventId);
    expect(closedWith).toBeNull();
  });

  it('should refuse a token with a control character at connection_init, with no upstream call', async () => {
    await using server = await startServer();
    await using client = server.client('syt_bad\u0001token');
    const code = await new Promise<number>((resolve) =>
      client.on('closed', (event) => resolve((event as { code: number }).code)),
    );
    expect(code).toBe(4401);
    expect(server.upstream.count()).toBe(0);
  });
});

describe('websocket limits', () => {
  it('should refuse one operation more than a socket may run, and keep the others', async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'ws-cap');
    const { roomId } = await createRoom(alice.client, { name: 'Capped' });
    await using server = await startServer({
      environment: { WS_MAX_OPERATIONS_PER_SOCKET: '3' },
    });
    await using client = server.client(alice.user.accessToken);
    const feeds = Array.from({ length: 3 }, () => subscribe(client, TimelineIds, { roomId }));
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(3));
    // The running loop's long-polls come and go meanwhile: count every other call.
    const notSync = /^(?!GET \/_matrix\/client\/v3\/sync$)/;
    const upstreamBefore = server.upstream.count(notSync);

    const refused = subscribe(client, TimelineIds, { roomId });
    await refused.done;

    expect(refused.errors).toEqual([
      [expect.objectContaining({ extensions: { code: 'TOO_MANY_OPERATIONS', limit: 3 } })],
    ]);
    expect(server.upstream.count(notSync)).toBe(upstreamBefore);
    const { eventId } = await sendMessageEvent(alice.client, roomId, 'm.room.message', 'on', {
      msgtype: 'm.text',
      body: 'still three',
    });
    const firsts = await Promise.all(feeds.map((feed) => feed.next(1)));
    expect(firsts.map((values) => values[0]?.data?.roomEvents.event?.id)).toEqual([
      eventId,
      eventId,
      eventId,
    ]);
  });
});
