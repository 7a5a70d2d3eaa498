/**
 * Hostile graphql-transport-ws clients, one row each, over a raw socket: what the server closes
 * the socket with (or the error it answers), and how many requests reached the homeserver, which
 * is 0 wherever something is refused. websocket-refusals.e2e.ts covers the same ground with the
 * graphql-ws client.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRoom } from '../../src/matrix/rooms.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';
import { openRawSocket, type RawSocket } from '../support/raw-websocket.ts';
import { startServer, type TestServer } from '../support/server.ts';

/** Upstream requests other than the sync loop's long-polls, which go on while subscribed. */
const notSync = /^(?!\S+ \/_matrix\/client\/v3\/sync$)/;

interface Target {
  readonly server: TestServer;
  readonly token: string;
  readonly roomId: string;
}

interface Row {
  readonly name: string;
  /** @default 'open' */
  readonly on?: 'open' | 'capped';
  /**
   * Runs the row on a fresh socket and returns the upstream calls it expects from the moment the
   * socket opened (the sync loop's left out).
   */
  readonly run: (socket: RawSocket, target: Target) => Promise<number>;
}

const subscribeTimeline = (id: string, roomId: string) => ({
  id,
  type: 'subscribe',
  payload: {
    query: 'subscription ($roomId: ID!) { roomEvents(roomId: $roomId) { event { id } } }',
    variables: { roomId },
  },
});

/** Errors the server answered for operation `id`. */
async function errorsOf(socket: RawSocket, id: string) {
  const message = await socket.next((m) => m.id === id && m.type === 'error');
  return message.payload as { message: string; extensions?: Record<string, unknown> }[];
}

/** The socket still runs operations: `{ viewer { userId } }` comes back. */
async function expectAlive(socket: RawSocket, id = 'alive') {
  socket.send({ id, type: 'subscribe', payload: { query: '{ viewer { userId } }' } });
  const next = await socket.next((m) => m.id === id && m.type === 'next');
  expect(next.payload).toEqual({ data: { viewer: { userId: expect.stringMatching(/^@/) } } });
}

const rows: Row[] = [
  {
    name: 'a subscribe before connection_init: 4401',
    run: async (socket, { roomId }) => {
      socket.send(subscribeTimeline('1', roomId));
      expect((await socket.closed).code).toBe(4401);
      return 0;
    },
  },
  {
    name: 'a second connection_init after the ack: 4429',
    run: async (socket, { token }) => {
      await socket.init(token);
      socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
      expect((await socket.closed).code).toBe(4429);
      return 1; // the first init's whoami
    },
  },
  {
    name: 'two connection_inits at once: 4429, one whoami at most',
    run: async (socket, { token }) => {
      const init = { type: 'connection_init', payload: { authorization: `Bearer ${token}` } };
      socket.send(init);
      socket.send(init);
      expect((await socket.closed).code).toBe(4429);
      // The first init's whoami may or may not have been sent before the socket closed.
      return -1;
    },
  },
  {
    name: 'malformed JSON: 4400',
    run: async (socket) => {
      socket.send('{"type": "connection_init", ');
      expect((await socket.closed).code).toBe(4400);
      return 0;
    },
  },
  {
    name: 'malformed JSON after the ack: 4400',
    run: async (socket, { token }) => {
      await socket.init(token);
      socket.send('\u0000not json');
      expect((await socket.closed).code).toBe(4400);
      return 1;
    },
  },
  {
    name: 'an unknown message type: 4400',
    run: async (socket, { token }) => {
      await socket.init(token);
      socket.send({ type: 'gimme', id: '1', payload: {} });
      expect((await socket.closed).code).toBe(4400);
      return 1;
    },
  },
  {
    name: 'a subscribe without a query: 4400',
    run: async (socket, { token }) => {
      await socket.init(token);
      socket.send({ id: '1', type: 'subscribe', payload: { variables: {} } });
      expect((await socket.closed).code).toBe(4400);
      return 1;
    },
  },
  {
    name: 'a 1 MB subscribe message: closed with 1009 before parsing, no upstream call',
    run: async (socket, { token }) => {
      await socket.init(token);
      const aliases = Array.from({ length: 40_000 }, (_, i) => `a${i}: viewer { userId }`);
      socket.send({ id: 'big', type: 'subscribe', payload: { query: `{ ${aliases.join(' ')} }` } });
      // The socket's payload limit (MAX_BODY_BYTES): 1009, message too big.
      expect((await socket.closed).code).toBe(1009);
      return 1; // the init's whoami
    },
  },
  {
    name: 'a document over the token limit: GRAPHQL_PARSE_FAILED as over HTTP, the socket goes on',
    run: async (socket, { token }) => {
      await socket.init(token);
      const aliases = Array.from({ length: 700 }, (_, i) => `a${i}: viewer { userId }`);
      socket.send({
        id: 'long',
        type: 'subscribe',
        payload: { query: `{ ${aliases.join(' ')} }` },
      });
      expect(await errorsOf(socket, 'long')).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/more than 2000 tokens/),
          extensions: { code: 'GRAPHQL_PARSE_FAILED' },
        }),
      ]);
      await expectAlive(socket);
      return 1; // the init's whoami (the check reuses the socket's viewer)
    },
  },
  {
    name: 'a subscription that does not parse: its error, and the socket goes on',
    run: async (socket, { token, roomId }) => {
      await socket.init(token);
      socket.send({
        id: 'bad',
        type: 'subscribe',
        payload: { query: `subscription { roomEvents(roomId: "${roomId}") { event { id } ` },
      });
      const errors = await errorsOf(socket, 'bad');
      expect(errors).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/Syntax/),
          extensions: { code: 'GRAPHQL_PARSE_FAILED' },
        }),
      ]);
      await expectAlive(socket);
      return 1;
    },
  },
  {
    name: 'a subscription that does not validate: its error, and the socket goes on',
    run: async (socket, { token }) => {
      await socket.init(token);
      socket.send({ id: 'bad', type: 'subscribe', payload: { query: 'subscription { nope }' } });
      const errors = await errorsOf(socket, 'bad');
      expect(errors.length).toBeGreaterThan(0);
      await expectAlive(socket);
      return 1;
    },
  },
  {
    name: 'a token with a control character: 4401 before any upstream call',
    run: async (socket) => {
      socket.send({ type: 'connection_init', payload: { authorization: 'Bearer syt_a\u0001b' } });
      expect((await socket.closed).code).toBe(4401);
      return 0;
    },
  },
  {
    name: 'no authorization at all: 4401',
    run: async (socket) => {
      socket.send({ type: 'connection_init', payload: { authorization: 42 } });
      expect((await socket.closed).code).toBe(4401);
      return 0;
    },
  },
  {
    name: 'a token the homeserver does not know: 4403, after one whoami',
    run: async (socket) => {
      socket.send({ type: 'connection_init', payload: { authorization: 'Bearer syt_unknown' } });
      expect((await socket.closed).code).toBe(4403);
      return 1;
    },
  },
  {
    name: 'a subscribe with an ID still in use: 4409',
    run: async (socket, { token, roomId, server }) => {
      await socket.init(token);
      socket.send(subscribeTimeline('same', roomId));
      await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1));
      const before = server.upstream.count(notSync);
      socket.send(subscribeTimeline('same', roomId));
      expect((await socket.closed).code).toBe(4409);
      expect(server.upstream.count(notSync)).toBe(before);
      return -1;
    },
  },
  {
    name: 'a complete for an operation that does not exist: ignored',
    run: async (socket, { token }) => {
      await socket.init(token);
      socket.send({ id: 'ghost', type: 'complete' });
      await expectAlive(socket);
      return 1;
    },
  },
  {
    name: 'a burst within WS_MAX_MESSAGES_PER_SECOND (150 pings): 150 pongs, the socket goes on',
    run: async (socket, { token }) => {
      await socket.init(token);
      for (let i = 0; i < 150; i++) {
        socket.send({ type: 'ping' });
      }
      await vi.waitFor(() =>
        expect(socket.messages.filter((m) => m.type === 'pong')).toHaveLength(150),
      );
      await expectAlive(socket);
      return 1;
    },
  },
  {
    name: 'a flood of 1,000 pings past WS_MAX_MESSAGES_PER_SECOND (200): 1008, no call',
    run: async (socket, { token }) => {
      await socket.init(token);
      for (let i = 0; i < 1000; i++) {
        socket.send({ type: 'ping' });
      }
      expect(await socket.closed).toEqual({
        code: 1008,
        reason: 'Too many messages: at most 200 per second',
      });
      // Fewer pongs than pings: the server stopped answering at the limit.
      expect(socket.messages.filter((m) => m.type === 'pong').length).toBeLessThan(1000);
      return 1; // connection_init's whoami
    },
  },
  {
    name: 'a flood of 1,000 subscribes that do not parse: 1008, no call',
    run: async (socket, { token }) => {
      await socket.init(token);
      for (let i = 0; i < 1000; i++) {
        socket.send({ id: String(i), type: 'subscribe', payload: { query: '{' } });
      }
      expect((await socket.closed).code).toBe(1008);
      // The answers to those within the burst may not go out: the socket closes meanwhile.
      expect(socket.messages.filter((m) => m.type === 'error').length).toBeLessThanOrEqual(200);
      return 1;
    },
  },
  {
    name: 'one subscription past WS_MAX_OPERATIONS_PER_SOCKET (2): TOO_MANY_OPERATIONS, no call',
    on: 'capped',
    run: async (socket, { token, roomId, server }) => {
      await socket.init(token);
      socket.send(subscribeTimeline('1', roomId));
      socket.send(subscribeTimeline('2', roomId));
      await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(2));
      const before = server.upstream.count(notSync);
      socket.send(subscribeTimeline('3', roomId));
      const errors = await errorsOf(socket, '3');
      expect(errors).toEqual([
        expect.objectContaining({ extensions: { code: 'TOO_MANY_OPERATIONS', limit: 2 } }),
      ]);
      expect(server.upstream.count(notSync)).toBe(before);
      // The socket goes on: completing one makes room for another.
      socket.send({ id: '1', type: 'complete' });
      await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(1));
      await expectAlive(socket);
      return -1;
    },
  },
];

describe('hostile websocket clients', () => {
  const servers = new Map<'open' | 'capped', TestServer>();
  let token: string;
  let roomId: string;

  beforeAll(async () => {
    await using upstream = newUpstream();
    const alice = await newUserClient(upstream, 'ws-hostile');
    token = alice.user.accessToken;
    ({ roomId } = await createRoom(alice.client, { name: 'Hostile sockets' }));
    servers.set('open', await startServer());
    servers.set(
      'capped',
      await startServer({ environment: { WS_MAX_OPERATIONS_PER_SOCKET: '2' } }),
    );
  });

  afterAll(async () => {
    await Promise.all([...servers.values()].map((server) => server[Symbol.asyncDispose]()));
  });

  it.each(rows)('$name', async (row) => {
    const server = servers.get(row.on ?? 'open');
    if (!server) {
      throw new Error(`no server ${row.on}`);
    }
    // Let the sync loops of earlier rows wind down, so their calls are not counted here.
    await vi.waitFor(() => expect(server.app.syncStats.listeners).toBe(0));
    server.upstream.reset();
    await using socket = await openRawSocket(server.wsUrl);

    const expected = await row.run(socket, { server, token, roomId });

    const calls = server.upstream.count(notSync);
    if (expected === -1) {
      // Counted inside the row.
      expect(calls).toBeLessThanOrEqual(5);
    } else {
      expect(calls, server.upstream.requests.join('\n')).toBe(expected);
    }
    // Whatever the socket did, the server still answers over HTTP.
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('should close a socket that offers no subprotocol: 4406', async () => {
    const server = servers.get('open');
    if (!server) {
      throw new Error('no server');
    }
    server.upstream.reset();
    await using socket = await openRawSocket(server.wsUrl, null);
    expect((await socket.closed).code).toBe(4406);
    expect(server.upstream.count()).toBe(0);
  });
});
