/**
 * /metrics, /healthz and /readyz on a real port, after a scripted session against the real
 * homeserver: the counters move exactly as the session implies, and no label carries an ID or a
 * token.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { endpointTemplate } from '../../src/matrix/endpoint-template.ts';
import { type App, buildApp } from '../../src/server/app.ts';
import { homeserver, newUser } from '../support/homeserver.ts';

/** Every upstream request the app sent: method, path (no query) and its X-Request-Id. */
interface SeenRequest {
  method: string;
  path: string;
  requestId: string | undefined;
}

/** An undici dispatcher that records each request it sends, with its X-Request-Id header. */
function recordingDispatcher(): { dispatcher: Dispatcher; seen: SeenRequest[]; agent: Agent } {
  const seen: SeenRequest[] = [];
  const agent = new Agent();
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    const headers = options.headers as Record<string, string> | undefined;
    seen.push({
      method: options.method,
      path: options.path.split('?')[0] ?? '',
      requestId: headers?.['x-request-id'],
    });
    return dispatch(options, handler);
  });
  return { dispatcher, seen, agent };
}

interface Running extends AsyncDisposable {
  app: App;
  url: string;
  seen: SeenRequest[];
  post(
    query: string,
    options?: { token?: string; variables?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
}

async function run(environment: Record<string, string> = {}): Promise<Running> {
  const config = loadConfig({
    MATRIX_HOMESERVER_URL: homeserver().url,
    // Exact counts of the session's own requests: no warm view's sync loop going on beside them.
    WARM_VIEW_IDLE_MS: '0',
    PORT: '0',
    ...environment,
  });
  const { dispatcher, seen, agent } = recordingDispatcher();
  const app = buildApp({ config, logger: createLogger('silent'), dispatcher });
  const url = await app.start();
  return {
    app,
    url,
    seen,
    async post(query, options = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...options.headers,
        },
        body: JSON.stringify({ query, variables: options.variables }),
      });
      return {
        status: response.status,
        headers: response.headers,
        body: (await response.json()) as Record<string, unknown>,
      };
    },
    async [Symbol.asyncDispose]() {
      await app.stop();
      await agent.close();
    },
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus's text format, as far as these metrics use it. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) {
      throw new Error(`not a sample: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] ?? ''] = (pair[2] ?? '').replaceAll('\\"', '"').replaceAll('\\\\', '\\');
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return parseMetrics(await response.text());
}

/** The sum of the samples of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    )
    .reduce((sum, sample) => sum + sample.value, 0);
}

const Me = 'query Me { viewer { userId } }';
const MakeRoom =
  'mutation MakeRoom($input: CreateRoomInput!) { createRoom(input: $input) { room { id } } }';
const Missing = 'query Missing($id: ID!) { room(id: $id) { id name } }';
const aliases = Array.from({ length: 16 }, (_, index) => `a${index}: viewer { userId }`);
const TooManyAliases = `query TooManyAliases { ${aliases.join(' ')} }`;
const TooExpensive =
  'query TooExpensive { rooms(first: 100) { edges { node { members(first: 100) { edges { node { user { displayName } } } } } } } }';

describe('/metrics', () => {
  it('should count the operations, refusals and upstream requests of a session exactly', async () => {
    await using facade = await run();
    const alice = await newUser('metrics');
    const token = alice.accessToken;

    const me = await facade.post(Me, { token });
    expect(me.body['data']).toEqual({ viewer: { userId: alice.userId } });
    const made = await facade.post(MakeRoom, { token, variables: { input: { name: 'Counted' } } });
    const roomId = (made.body['data'] as { createRoom: { room: { id: string } } }).createRoom.room
      .id;
    expect(roomId).toMatch(/^!/);
    const missing = await facade.post(Missing, {
      token,
      variables: { id: `!nowhere:${homeserver().serverName}` },
    });
    const missingCode = (missing.body['errors'] as { extensions: { code: string } }[])[0]
      ?.extensions.code;
    expect(missingCode).toMatch(/^(FORBIDDEN|NOT_FOUND)$/);
    const unauthenticated = await facade.post(Me);
    expect(unauthenticated.body['errors']).toMatchObject([
      { extensions: { code: 'UNAUTHENTICATED' } },
    ]);
    const refusedAliases = await facade.post(TooManyAliases, { token });
    expect(refusedAliases.body['errors']).toMatchObject([
      { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } },
    ]);
    const refusedCost = await facade.post(TooExpensive, { token });
    expect(refusedCost.body['errors']).toMatchObject([
      { extensions: { code: 'QUERY_TOO_EXPENSIVE' } },
    ]);

    const metricsUrl = facade.app.metricsUrl ?? '';
    expect(metricsUrl).toBe(`${facade.url}/metrics`);
    const samples = await scrape(metricsUrl);

    // Upstream requests: per endpoint template and method, exactly the requests that went out.
    const expected = new Map<string, number>();
    for (const { method, path } of facade.seen) {
      const key = `${method} ${endpointTemplate(path)}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(expected.get('GET /_matrix/client/v3/account/whoami')).toBeGreaterThanOrEqual(1);
    expect(expected.get('POST /_matrix/client/v3/createRoom')).toBe(1);
    const counted = new Map<string, number>();
    for (const sample of samples.filter(
      (s) => s.name === 'matrix_facade_upstream_requests_total',
    )) {
      const key = `${sample.labels['method']} ${sample.labels['endpoint']}`;
      counted.set(key, (counted.get(key) ?? 0) + sample.value);
    }
    expect(counted).toEqual(expected);
    expect(total(samples, 'matrix_facade_upstream_request_duration_seconds_count')).toBe(
      facade.seen.length,
    );
    expect(
      total(samples, 'matrix_facade_upstream_requests_total', {
        endpoint: '/_matrix/client/v3/createRoom',
        status: '200',
      }),
    ).toBe(1);

    // Operations by name, kind and outcome.
    const operations = 'matrix_facade_operations_total';
    expect(total(samples, operations, { operation: 'Me', kind: 'query', outcome: 'ok' })).toBe(1);
    expect(
      total(samples, operations, {
        operation: 'Me',
        kind: 'query',
        outcome: 'error',
        code: 'UNAUTHENTICATED',
      }),
    ).toBe(1);
    expect(
      total(samples, operations, { operation: 'MakeRoom', kind: 'mutation', outcome: 'ok' }),
    ).toBe(1);
    expect(
      total(samples, operations, {
        operation: 'Missing',
        outcome: 'error',
        code: missingCode ?? '',
      }),
    ).toBe(1);
    expect(
      total(samples, operations, {
        operation: 'TooManyAliases',
        code: 'GRAPHQL_VALIDATION_FAILED',
      }),
    ).toBe(1);
    expect(
      total(samples, operations, { operation: 'TooExpensive', code: 'QUERY_TOO_EXPENSIVE' }),
    ).toBe(1);
    expect(total(samples, operations)).toBe(6);
    expect(total(samples, 'matrix_facade_operation_duration_seconds_count')).toBe(6);

    // Refused by the limits, by reason.
    const refused = samples.filter((s) => s.name === 'matrix_facade_refused_total');
    expect(refused.map(({ labels, value }) => ({ ...labels, value }))).toEqual(
      expect.arrayContaining([
        { reason: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_ALIASES', value: 1 },
        { reason: 'QUERY_TOO_EXPENSIVE', limit: 'MAX_COST', value: 1 },
      ]),
    );
    expect(refused.reduce((sum, s) => sum + s.value, 0)).toBe(2);

    // Gauges, and Node's own metrics.
    expect(total(samples, 'matrix_facade_sync_loops')).toBe(0);
    expect(total(samples, 'matrix_facade_websockets')).toBe(0);
    expect(samples.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);

    // No label value carries a token, a room, user or event ID, or an alias.
    for (const { name, labels } of samples) {
      for (const value of Object.values(labels)) {
        expect(value, `${name} ${JSON.stringify(labels)}`).not.toContain(token);
        expect(value, `${name} ${JSON.stringify(labels)}`).not.toMatch(/[!@$#][^{}]*:/);
        expect(value).not.toContain(roomId);
        expect(value).not.toContain(alice.userId);
      }
    }
  });

  it('should return a sane X-Request-Id and send it upstream with every call of its operation', async () => {
    await using facade = await run();
    const bob = await newUser('request-id');
    const given = 'trace-4bf92f3577b34da6a3ce929d0e0e4736';
    const answered = await facade.post(Me, {
      token: bob.accessToken,
      headers: { 'x-request-id': given },
    });
    expect(answered.headers.get('x-request-id')).toBe(given);
    const calls = facade.seen.filter((request) => request.requestId === given);
    expect(calls.map((call) => `${call.method} ${call.path}`)).toEqual([
      'GET /_matrix/client/v3/account/whoami',
    ]);

    // Not a sane token: replaced by one of the facade's own, which goes upstream instead.
    const before = facade.seen.length;
    const replaced = await facade.post(Me, {
      token: bob.accessToken,
      headers: { 'x-request-id': `bad id ${'x'.repeat(200)}` },
    });
    const own = replaced.headers.get('x-request-id') ?? '';
    expect(own).toMatch(/^[0-9a-f-]{36}$/);
    expect(facade.seen.slice(before).map((call) => call.requestId)).toEqual([own]);
    // Every request gets one, unasked.
    const unasked = await facade.post(Me, { token: bob.accessToken });
    expect(unasked.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('should count the websockets a limit closed: message size and message rate', async () => {
    await using facade = await run({ MAX_BODY_BYTES: '1024', WS_MAX_MESSAGES_PER_SECOND: '2' });
    const wsUrl = `${facade.url.replace(/^http/, 'ws')}/graphql`;
    const closedWith = (send: (socket: WebSocket) => void) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
        socket.on('open', () => send(socket));
        socket.on('close', (code) => resolve(code));
        socket.on('error', reject);
      });
    expect(await closedWith((socket) => socket.send('x'.repeat(2048)))).toBe(1009);
    expect(
      await closedWith((socket) => {
        for (let index = 0; index < 4; index++) {
          socket.send(JSON.stringify({ type: 'ping' }));
        }
      }),
    ).toBe(1008);
    const samples = await scrape(facade.app.metricsUrl ?? '');
    expect(
      total(samples, 'matrix_facade_refused_total', {
        reason: 'MESSAGE_TOO_BIG',
        limit: 'MAX_BODY_BYTES',
      }),
    ).toBe(1);
    expect(
      total(samples, 'matrix_facade_refused_total', {
        reason: 'MESSAGE_RATE_EXCEEDED',
        limit: 'WS_MAX_MESSAGES_PER_SECOND',
      }),
    ).toBe(1);
  });

  it('should serve /metrics on a listener of its own with METRICS_PORT, and not on the main one', async () => {
    await using facade = await run({ METRICS_PORT: '0' });
    const metricsUrl = facade.app.metricsUrl ?? '';
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(metricsUrl).port).not.toBe(new URL(facade.url).port);
    const samples = await scrape(metricsUrl);
    expect(samples.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);
    expect((await fetch(`${facade.url}/metrics`)).status).toBe(404);
    expect((await fetch(new URL('/other', metricsUrl))).status).toBe(404);
  });

  it('should serve no metrics with METRICS=false', async () => {
    await using facade = await run({ METRICS: 'false' });
    expect(facade.app.metrics).toBeNull();
    expect(facade.app.metricsUrl).toBeNull();
    expect((await fetch(`${facade.url}/metrics`)).status).toBe(404);
  });
});

describe('/healthz and /readyz', () => {
  it('should be alive, and ready while the homeserver answers', async () => {
    await using facade = await run();
    const live = await fetch(`${facade.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'alive', checks: { process: 'ok' } });
    const ready = await fetch(`${facade.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { shutdown: 'no', homeserver: 'ok' },
    });
    // Asked once, then reused for a second: a burst of probes costs one upstream call.
    await Promise.all(Array.from({ length: 5 }, () => fetch(`${facade.url}/readyz`)));
    expect(facade.seen.filter((r) => r.path === '/_matrix/client/versions').length).toBe(1);
    // No operation, no log line or operation metric for a probe.
    const samples = await scrape(facade.app.metricsUrl ?? '');
    expect(total(samples, 'matrix_facade_operations_total')).toBe(0);
  });

  it('should not be ready when the homeserver does not answer', async () => {
    // A port nothing listens on any more.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    await using facade = await run({ MATRIX_HOMESERVER_URL: `http://127.0.0.1:${port}` });
    const live = await fetch(`${facade.url}/healthz`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${facade.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'not ready',
      checks: { shutdown: 'no', homeserver: 'unreachable' },
    });
  });
});
