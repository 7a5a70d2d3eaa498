/**
 * A whole session at the most verbose log level, every line captured: no token, password or
 * message body in any of them; one line per operation with its request ID; the delivery of a
 * subscription item measured (graphql-ws and SSE).
 */
import { Writable } from 'node:stream';
import { createClient } from 'graphql-ws';
import { Agent, type Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { buildApp } from '../../src/server/app.ts';
import { homeserver, newUser } from '../support/homeserver.ts';

/** Records the X-Request-Id of every upstream request, by path. */
function headerRecorder(): { dispatcher: Dispatcher; seen: [string, string | undefined][] } {
  const seen: [string, string | undefined][] = [];
  const dispatcher = new Agent().compose((dispatch) => (options, handler) => {
    const headers = options.headers as Record<string, string> | undefined;
    seen.push([options.path.split('?')[0] ?? '', headers?.['x-request-id']]);
    return dispatch(options, handler);
  });
  return { dispatcher, seen };
}

describe('logs', () => {
  it('should carry no token, password or message body, and one line per operation', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const config = loadConfig({
      MATRIX_HOMESERVER_URL: homeserver().url,
      PORT: '0',
      SYNC_POLL_TIMEOUT_MS: '2000',
      SYNC_GRACE_PERIOD_MS: '100',
    });
    const { dispatcher, seen } = headerRecorder();
    const app = buildApp({ config, logger: createLogger('trace', stream), dispatcher });
    const url = await app.start();
    const alice = await newUser('logs');
    const body = `a distinctive body ${crypto.randomUUID()}`;
    const secrets = [alice.password, body];
    const post = async (
      query: string,
      variables: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return {
        requestId: response.headers.get('x-request-id'),
        result: (await response.json()) as {
          data?: Record<string, never>;
          errors?: { extensions?: { code?: string } }[];
        },
      };
    };
    try {
      // A login with the password, and a wrong one.
      const wrong = await post(
        'mutation Login($input: CreateSessionInput!) { createSession(input: $input) { accessToken } }',
        { input: { user: alice.userId, password: `${alice.password}-wrong` } },
      );
      expect(wrong.result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      secrets.push(`${alice.password}-wrong`);
      const login = await post(
        'mutation Login($input: CreateSessionInput!) { createSession(input: $input) { accessToken } }',
        { input: { user: alice.userId, password: alice.password } },
      );
      const token = (login.result.data as { createSession: { accessToken: string } } | undefined)
        ?.createSession.accessToken;
      expect(token).toBeTruthy();
      secrets.push(token ?? '', alice.accessToken);
      const auth = { authorization: `Bearer ${token}` };

      const made = await post(
        'mutation MakeRoom { createRoom(input: { name: "Logged" }) { room { id } } }',
        {},
        auth,
      );
      const roomId = (made.result.data as { createRoom: { room: { id: string } } } | undefined)
        ?.createRoom.room.id;
      expect(roomId).toMatch(/^!/);

      // A subscription over graphql-ws receives the message.
      const client = createClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${token}` },
      });
      const received = new Promise<unknown>((resolve, reject) => {
        const stop = client.subscribe(
          {
            query:
              'subscription Feed($roomId: ID!) { roomEvents(roomId: $roomId) { event { id ... on MessageEvent { body } } } }',
            variables: { roomId },
          },
          {
            next: (value) => {
              resolve(value);
              stop();
            },
            error: reject,
            complete: () => {},
          },
        );
      });
      await expect.poll(() => app.syncStats.listeners, { timeout: 10_000 }).toBe(1);
      const given = 'client-chosen-id-42';
      const sent = await post(
        'mutation Say($roomId: ID!, $body: String!) { sendMessage(input: { roomId: $roomId, body: $body }) { eventId } }',
        { roomId, body },
        { ...auth, 'x-request-id': given },
      );
      expect(sent.requestId).toBe(given);
      expect(sent.result.errors).toBeUndefined();
      expect(JSON.stringify(await received)).toContain(body);
      await client.dispose();

      // An error of the homeserver's, and a refused token.
      const missing = await post(
        'query Missing { room(id: "!nowhere:localhost") { name } }',
        {},
        auth,
      );
      expect(missing.result.errors).toBeDefined();
      await post('query Me { viewer { userId } }', {}, { authorization: 'Bearer not-a-token' });

      // The send's request ID reached the homeserver with its calls, and only with them.
      const tagged = seen.filter(([, requestId]) => requestId === given).map(([path]) => path);
      expect(tagged.length).toBeGreaterThanOrEqual(1);
      expect(tagged.every((path) => path.includes('/send/m.room.message/'))).toBe(true);

      await expect
        .poll(() => lines.some((line) => line.includes('"operation":"Feed"')), {
          timeout: 5000,
        })
        .toBe(true);
      const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      // The most verbose level really was on: upstream calls logged one by one.
      expect(entries.some((entry) => entry['msg'] === 'upstream request')).toBe(true);
      const operationLines = entries.filter((entry) => entry['msg'] === 'operation');
      expect(operationLines.map((entry) => entry['operation'])).toEqual(
        expect.arrayContaining(['Login', 'MakeRoom', 'Say', 'Feed', 'Missing', 'Me']),
      );
      for (const entry of operationLines) {
        expect(entry['requestId']).toEqual(expect.any(String));
        expect(entry['durationMs']).toEqual(expect.any(Number));
        expect(entry['upstreamCalls']).toEqual(expect.any(Number));
      }
      const say = operationLines.find((entry) => entry['operation'] === 'Say');
      expect(say).toMatchObject({
        requestId: given,
        kind: 'mutation',
        transport: 'http',
        status: 200,
        outcome: 'ok',
      });
      expect(say?.['upstreamCalls']).toBe(tagged.length);
      expect(operationLines.find((entry) => entry['operation'] === 'Feed')).toMatchObject({
        kind: 'subscription',
        transport: 'ws',
        outcome: 'ok',
      });
      expect(operationLines.find((entry) => entry['operation'] === 'Me')).toMatchObject({
        outcome: 'error',
        errors: ['UNAUTHENTICATED'],
      });

      // The delivery of the item was measured.
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/matrix_facade_event_delivery_seconds_count\{kind="timeline"\} 1\n/);
      expect(metrics).toMatch(/matrix_facade_events_delivered_total\{kind="timeline"\} 1\n/);
    } finally {
      await app.stop();
    }
    expect(lines.length).toBeGreaterThan(20);
    for (const secret of secrets) {
      for (const line of lines) {
        expect(line).not.toContain(secret);
      }
    }
  });

  it('should measure the delivery of a subscription item over SSE', async () => {
    const config = loadConfig({
      MATRIX_HOMESERVER_URL: homeserver().url,
      PORT: '0',
      SYNC_POLL_TIMEOUT_MS: '2000',
      SYNC_GRACE_PERIOD_MS: '100',
    });
    const app = buildApp({ config, logger: createLogger('silent') });
    try {
      const url = await app.start();
      const bob = await newUser('sse');
      const auth = {
        authorization: `Bearer ${bob.accessToken}`,
        'content-type': 'application/json',
      };
      const made = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ query: 'mutation { createRoom(input: {}) { room { id } } }' }),
      });
      const roomId = ((await made.json()) as { data: { createRoom: { room: { id: string } } } })
        .data.createRoom.room.id;
      const abort = new AbortController();
      const stream = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { ...auth, accept: 'text/event-stream' },
        body: JSON.stringify({
          query: 'subscription Feed($roomId: ID!) { roomEvents(roomId: $roomId) { event { id } } }',
          variables: { roomId },
        }),
        signal: abort.signal,
      });
      expect(stream.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const reader = stream.body?.getReader();
      await expect.poll(() => app.syncStats.listeners, { timeout: 10_000 }).toBe(1);
      await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          query: `mutation { sendMessage(input: { roomId: "${roomId}", body: "over SSE" }) { eventId } }`,
        }),
      });
      let text = '';
      while (!text.includes('"roomEvents"')) {
        const chunk = await reader?.read();
        if (chunk === undefined || chunk.done) {
          break;
        }
        text += new TextDecoder().decode(chunk.value);
      }
      expect(text).toContain('"roomEvents"');
      abort.abort();
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/matrix_facade_event_delivery_seconds_count\{kind="timeline"\} 1\n/);
    } finally {
      await app.stop();
    }
  });
});
