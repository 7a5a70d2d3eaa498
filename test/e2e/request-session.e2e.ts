/**
 * Each request's session: its upstream calls end with the request (client gone, deadline passed),
 * and a websocket's `connection_init` check identifies the viewer for its subscriptions.
 */
import { request as httpRequest } from 'node:http';
import { print } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { createRoom } from '../../src/matrix/rooms.ts';
import { graphql } from '../generated/gql.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';
import { startServer, subscribe } from '../support/server.ts';

const RoomAndMessages = graphql(`
  query RoomAndLatestMessages($id: ID!) {
    room(id: $id) {
      name
      messages(last: 5) {
        edges {
          node {
            id
          }
        }
      }
    }
  }
`);

const RoomTimelineFeed = graphql(`
  subscription RoomTimelineFeed($roomId: ID!) {
    roomEvents(roomId: $roomId) {
      event {
        id
      }
    }
  }
`);

const statePath = /\/rooms\/[^/]+\/state(\?|$)/;
const messagesPath = /\/rooms\/[^/]+\/messages/;

/** A user with a room, a fault proxy before the homeserver and the facade behind it. */
async function setUp(environment: Record<string, string> = {}) {
  const upstream = newUpstream();
  const { user, client } = await newUserClient(upstream, 'session');
  const { roomId } = await createRoom(client, { name: 'Lobby' });
  const proxy = await startFaultProxy(homeserver().url);
  const server = await startServer({
    environment: { MATRIX_HOMESERVER_URL: proxy.url, ...environment },
  });
  return {
    user,
    roomId,
    proxy,
    server,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await proxy.close();
      await upstream.close();
    },
  };
}

describe('a request session', () => {
  it('should start no upstream call once the client has gone away', async () => {
    await using t = await setUp();
    // The room's state (the first of the query's two calls) is held at the proxy.
    t.proxy.inject({ kind: 'hold' }, { path: statePath });
    const body = JSON.stringify({ query: print(RoomAndMessages), variables: { id: t.roomId } });
    const request = httpRequest(`${t.server.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${t.user.accessToken}`,
      },
    });
    request.on('error', () => {});
    request.end(body);
    await vi.waitFor(() => expect(t.proxy.held).toBe(1), 5000);

    request.destroy();
    // The facade drops the held call itself; anything it had not yet abandoned is answered now.
    await vi.waitFor(
      () => expect(t.proxy.log.find((entry) => statePath.test(entry.url))?.closed).not.toBeNull(),
      5000,
    );
    t.proxy.release();
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect(t.proxy.log.filter((entry) => messagesPath.test(entry.url))).toEqual([]);
    // The held call never reached the homeserver: it was aborted at the proxy.
    expect(t.proxy.requests).toBe(0);
  });

  it('should answer DEADLINE_EXCEEDED and abort the upstream call when the deadline passes', async () => {
    await using t = await setUp({ OPERATION_DEADLINE_MS: '400' });
    t.proxy.inject({ kind: 'hold' }, { path: statePath });

    const response = await fetch(`${t.server.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${t.user.accessToken}`,
      },
      body: JSON.stringify({ query: print(RoomAndMessages), variables: { id: t.roomId } }),
    });
    const result = (await response.json()) as {
      data: unknown;
      errors?: { extensions?: { code?: string } }[];
    };

    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['DEADLINE_EXCEEDED']);
    expect(result.data).toEqual({ room: null });
    await vi.waitFor(() => expect(t.proxy.held).toBe(0), 5000);
    expect(t.proxy.requests).toBe(0);
  });

  it('should identify the viewer of a first subscription with one whoami in all', async () => {
    await using t = await setUp();
    await using client = t.server.client(t.user.accessToken);

    const feed = subscribe(client, RoomTimelineFeed, { roomId: t.roomId });
    // Running: the loop has made its initial sync and long-polls.
    await vi.waitFor(() => expect(t.server.upstream.count(/\/sync$/)).toBe(2), 10_000);

    expect(t.server.upstream.count(/\/account\/whoami$/)).toBe(1);
    expect(feed.errors).toEqual([]);
    feed.unsubscribe();
  });

  it("should fetch a room page's state and timeline side by side once the token is known good", async () => {
    await using t = await setUp();
    const page = () =>
      fetch(`${t.server.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${t.user.accessToken}`,
        },
        body: JSON.stringify({ query: print(RoomAndMessages), variables: { id: t.roomId } }),
      }).then((response) => response.json());
    /** The proxy's record of the last request of each kind. */
    const last = (path: RegExp) => t.proxy.log.filter((entry) => path.test(entry.url)).at(-1);
    // The state answers 300 ms late, so that a timeline sent alongside arrives before it ends.
    t.proxy.inject({ kind: 'delay', ms: 300 }, { path: statePath, times: 2 });

    // A token the facade has not seen: the state call goes out alone, the timeline after it.
    expect(await page()).toEqual({
      data: { room: { name: 'Lobby', messages: { edges: expect.any(Array) } } },
    });
    const [firstState, firstMessages] = [last(statePath), last(messagesPath)];
    expect(firstMessages?.opened).toBeGreaterThan(firstState?.closed ?? Number.POSITIVE_INFINITY);

    // Accepted a moment ago: both at once, the timeline arriving while the state is still held.
    expect(await page()).toEqual({
      data: { room: { name: 'Lobby', messages: { edges: expect.any(Array) } } },
    });
    const [state, messages] = [last(statePath), last(messagesPath)];
    expect(messages?.opened).toBeLessThan(state?.closed ?? Number.NEGATIVE_INFINITY);
    expect(t.proxy.log.filter((entry) => messagesPath.test(entry.url))).toHaveLength(2);
  });

  it('should check a logged-out token again before fetching side by side', async () => {
    await using t = await setUp();
    const post = (query: string, variables: Record<string, unknown> = {}) =>
      fetch(`${t.server.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${t.user.accessToken}`,
        },
        body: JSON.stringify({ query, variables }),
      }).then((response) => response.json() as Promise<{ errors?: unknown[] }>);
    await post('{ viewer { userId } }');
    await post('mutation { deleteSession(input: {}) { clientMutationId } }');
    const before = t.proxy.log.length;

    const answer = await post(print(RoomAndMessages), { id: t.roomId });

    expect(answer.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }),
    ]);
    // One call found the token refused; the timeline never went out.
    expect(t.proxy.log.slice(before).map((entry) => entry.url)).toEqual([
      expect.stringMatching(statePath),
    ]);
  });
});
