/**
 * Hostile and malformed HTTP requests, one row each: the status the facade answers, the
 * `extensions.code` of every error (or no body at all), and how many requests reached the
 * homeserver, which is 0 wherever a request is refused. docs/security.md explains each limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { startFacade } from '../support/facade.ts';
import { newUser, type RegisteredUser } from '../support/homeserver.ts';
import { idleConnections, rawHttp } from '../support/raw-http.ts';
import { startServer, type TestServer } from '../support/server.ts';

/** The servers the rows run against, each started once with its environment. */
const servers = {
  /** The defaults, outside production (introspection on), with one origin allowed by CORS. */
  open: { CORS_ORIGINS: 'https://app.example.org' },
  /** The defaults in production (which needs a fixed cursor secret): introspection and GraphiQL off. */
  production: { NODE_ENV: 'production', CURSOR_SECRET: 'x'.repeat(32) },
  /** A token limit too high to protect anything, to reach the limits behind it. */
  lenient: { MAX_TOKENS: '1000000' },
  /** Short HTTP timeouts. */
  slow: { HTTP_HEADERS_TIMEOUT_MS: '300', HTTP_REQUEST_TIMEOUT_MS: '600' },
  /** Two connections at most. */
  capped: { HTTP_MAX_CONNECTIONS: '2' },
} satisfies Record<string, Record<string, string>>;
type ServerName = keyof typeof servers;

interface Target {
  readonly server: TestServer;
  /** A registered user's access token: a refusal must not depend on being anonymous. */
  readonly token: string;
}

interface Answer {
  readonly status: number;
  header(name: string): string | null;
  readonly body: string;
}

interface Row {
  readonly name: string;
  /** @default 'open' */
  readonly on?: ServerName;
  readonly send: (target: Target) => Promise<Answer>;
  readonly status: number;
  /**
   * The `extensions.code` of every error; `null`: a GraphQL response without errors; `'none'`:
   * no body at all.
   */
  readonly code: string | null | 'none';
  /** Requests that reached the homeserver; `'some'` for the controls that run. @default 0 */
  readonly upstream?: number | 'some';
  readonly check?: (answer: Answer) => void;
}

/** The GraphQL-over-HTTP media type: refusals are 400 (with `application/json`, 200). */
const GRAPHQL_RESPONSE = 'application/graphql-response+json';
const json = { 'content-type': 'application/json', accept: GRAPHQL_RESPONSE };

async function request(target: Target, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${target.server.url}${path}`, init);
  return {
    status: response.status,
    header: (name) => response.headers.get(name),
    body: await response.text(),
  };
}

/** POSTs `body` to /graphql as JSON, with the row's token. */
const post =
  (body: string | (() => string), headers: Record<string, string> = {}) =>
  (target: Target) =>
    request(target, '/graphql', {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${target.token}`, ...headers },
      body: typeof body === 'string' ? body : body(),
    });

/** POSTs a GraphQL document (and variables) as JSON, with the row's token. */
const query = (document: string | (() => string), variables?: Record<string, unknown>) =>
  post(() =>
    JSON.stringify({ query: typeof document === 'string' ? document : document(), variables }),
  );

/** A GET of /graphql with `params` in the query string. */
const get =
  (params: Record<string, string>, headers: Record<string, string> = {}) =>
  (target: Target) =>
    request(target, `/graphql?${new URLSearchParams(params)}`, {
      headers: { accept: GRAPHQL_RESPONSE, authorization: `Bearer ${target.token}`, ...headers },
    });

const raw = (text: string) => async (target: Target) => {
  const answer = await rawHttp(target.server.url, text);
  return {
    status: answer.status,
    header: (name: string) => answer.headers[name] ?? null,
    body: answer.body,
  };
};

const createRoom = 'mutation { createRoom(input: { name: "forged" }) { room { id } } }';
/** `count` `room(id:)` fields, each aliased. */
const aliasedRooms = (count: number) =>
  `{ ${Array.from({ length: count }, (_, index) => `r${index}: room(id: "!r${index}:localhost") { id name }`).join(' ')} }`;
/**
 * Three aliases at each of three levels, through fragments: 9 aliases written, 39 counted, as
 * many fields as would run.
 */
const fragmentFanOut = [
  '{ ...Q }',
  'fragment Q on Query { a: rooms { edges { node { ...R } } } b: rooms { edges { node { ...R } } } c: rooms { edges { node { ...R } } } }',
  'fragment R on Room { a: members { edges { node { ...M } } } b: members { edges { node { ...M } } } c: members { edges { node { ...M } } } }',
  'fragment M on RoomMember { a: user { id } b: user { id } c: user { id } }',
].join('\n');
/** Fields nested `depth` deep: `viewer { user {`, then unknown fields. */
const nested = (depth: number) =>
  `{ viewer { user { ${'f { '.repeat(depth - 3)}id${' }'.repeat(depth - 1)} }`;
/** A chunked body (no Content-Length) of `bytes` bytes. */
const chunked = (bytes: number) => {
  const chunk = new TextEncoder().encode(' '.repeat(16_384));
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) {
        controller.close();
        return;
      }
      controller.enqueue(chunk);
      sent += chunk.length;
    },
  });
};

const foreignOrigin = 'https://evil.example';
const allowedOrigin = 'https://app.example.org';

const rows: Row[] = [
  // The body, before anything is parsed.
  {
    name: 'a 300 KB body (MAX_BODY_BYTES 256 KiB), Content-Length given',
    send: query('{ __typename }', { padding: 'x'.repeat(300_000) }),
    status: 413,
    code: 'REQUEST_ENTITY_TOO_LARGE',
  },
  {
    name: 'a 24 MB document of aliased room(id:) fields',
    send: query(() => aliasedRooms(600_000)),
    status: 413,
    code: 'REQUEST_ENTITY_TOO_LARGE',
  },
  {
    name: 'a chunked 300 KB body (no Content-Length)',
    send: (target) =>
      request(target, '/graphql', {
        method: 'POST',
        headers: json,
        body: chunked(300_000),
        duplex: 'half',
      } as RequestInit),
    status: 413,
    code: 'REQUEST_ENTITY_TOO_LARGE',
  },
  {
    name: 'a Content-Length that is not a number',
    send: raw(
      'POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1e3\r\nconnection: close\r\n\r\n{}',
    ),
    status: 400,
    code: 'none',
  },
  {
    name: 'Content-Length and Transfer-Encoding together (request smuggling)',
    send: raw(
      'POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n0\r\n\r\n',
    ),
    status: 400,
    code: 'none',
  },
  {
    name: 'a 32 KB query string (past Node’s 16 KiB of headers)',
    send: raw(
      `GET /graphql?query=${'x'.repeat(32_768)} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
    ),
    status: 431,
    code: 'none',
  },
  {
    name: 'a 20 KB cookie',
    send: raw(
      `GET /healthz HTTP/1.1\r\nhost: x\r\ncookie: a=${'x'.repeat(20_000)}\r\nconnection: close\r\n\r\n`,
    ),
    status: 431,
    code: 'none',
  },
  {
    name: 'not HTTP at all',
    send: raw('HELLO THERE\r\n\r\n'),
    status: 400,
    code: 'none',
  },

  // What a browser on another site could send without a preflight.
  {
    name: 'a form-encoded POST of a mutation (no CSRF header)',
    send: post(`query=${encodeURIComponent(createRoom)}`, {
      'content-type': 'application/x-www-form-urlencoded',
    }),
    status: 403,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a multipart POST (no CSRF header)',
    send: post('--b\r\ncontent-disposition: form-data; name="operations"\r\n\r\n{}\r\n--b--', {
      'content-type': 'multipart/form-data; boundary=b',
    }),
    status: 403,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a text/plain POST of a mutation (no CSRF header)',
    send: post(JSON.stringify({ query: createRoom }), { 'content-type': 'text/plain' }),
    status: 403,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a GET query (no CSRF header)',
    send: get({ query: '{ viewer { userId } }' }),
    status: 403,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a GET of a mutation (with the CSRF header)',
    send: get({ query: createRoom }, { 'x-graphql-csrf': '1' }),
    status: 405,
    code: 'BAD_REQUEST',
    check: (answer) => expect(answer.header('allow')).toBe('POST'),
  },
  {
    name: 'a CORS preflight from an origin not allowed',
    send: (target) =>
      request(target, '/graphql', {
        method: 'OPTIONS',
        headers: {
          origin: foreignOrigin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      }),
    status: 204,
    code: 'none',
    check: (answer) => expect(answer.header('access-control-allow-origin')).toBeNull(),
  },
  {
    name: 'a POST from an origin not allowed (the browser keeps the answer from the page)',
    send: post('{"query":"{ __typename }"}', { origin: foreignOrigin }),
    status: 200,
    code: null,
    check: (answer) => {
      expect(answer.header('access-control-allow-origin')).toBeNull();
      expect(answer.header('access-control-allow-credentials')).toBeNull();
    },
  },
  {
    name: 'a CORS preflight where no origin is allowed (the default)',
    on: 'production',
    send: (target) =>
      request(target, '/graphql', {
        method: 'OPTIONS',
        headers: { origin: allowedOrigin, 'access-control-request-method': 'POST' },
      }),
    status: 403,
    code: 'BAD_REQUEST',
    check: (answer) => expect(answer.header('access-control-allow-origin')).toBeNull(),
  },

  // Content types and methods nothing here serves.
  {
    name: 'a multipart POST with the CSRF header (uploads are off)',
    send: post('--b--', {
      'content-type': 'multipart/form-data; boundary=b',
      'x-graphql-csrf': '1',
    }),
    status: 415,
    code: 'none',
  },
  {
    name: 'a text/plain POST with the CSRF header',
    send: post('{ __typename }', { 'content-type': 'text/plain', 'x-graphql-csrf': '1' }),
    status: 415,
    code: 'none',
  },
  {
    name: 'an application/xml POST',
    send: post('<query/>', { 'content-type': 'application/xml' }),
    status: 415,
    code: 'none',
  },
  {
    name: 'a PUT',
    send: (target) =>
      request(target, '/graphql', {
        method: 'PUT',
        headers: json,
        body: '{"query":"{ __typename }"}',
      }),
    status: 405,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an unknown path',
    send: (target) => request(target, '/admin', { headers: json }),
    status: 404,
    code: 'none',
  },

  // The JSON body and its parameters.
  { name: 'invalid JSON', send: post('{"query": '), status: 400, code: 'BAD_REQUEST' },
  {
    name: 'a batch of two operations',
    send: post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }])),
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a JSON string as the body',
    send: post('"{ __typename }"'),
    status: 400,
    code: 'BAD_REQUEST',
  },
  { name: 'no query', send: post('{}'), status: 400, code: 'BAD_REQUEST' },
  {
    name: 'a query that is no string',
    send: post('{"query":42}'),
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'variables that are no object',
    send: post('{"query":"{ __typename }","variables":"x"}'),
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an unknown parameter',
    send: post('{"query":"{ __typename }","rootValue":{}}'),
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an operationName that names no operation',
    send: post('{"query":"query A { __typename }","operationName":"B"}'),
    status: 400,
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  {
    name: 'two operations and no operationName',
    send: post('{"query":"query A { __typename } query B { __typename }"}'),
    status: 400,
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  { name: 'an empty document', send: query(''), status: 400, code: 'GRAPHQL_PARSE_FAILED' },

  // The parser: refused at the first token past the limit.
  {
    name: '3,000 nested selection sets',
    send: query(`{ ${'viewer { '.repeat(3000)}${'}'.repeat(3001)}`),
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
  },
  {
    name: '3,000 unclosed list brackets',
    send: query(`{ room(id: ${'['.repeat(3000)}`),
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
  },
  {
    name: '3,000 unclosed list brackets past the token limit (the parser’s stack)',
    on: 'lenient',
    send: query(`{ room(id: ${'['.repeat(3000)}`),
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
    check: (answer) => expect(answer.body).toContain('nested too deeply'),
  },
  {
    name: '1,000 aliased room(id:) fields',
    send: query(aliasedRooms(1000)),
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
  },
  {
    name: '5,000 comments',
    send: query(`${'#\n'.repeat(5000)}{ __typename }`),
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
  },
  {
    name: 'a 200 KB field name (one token)',
    send: query(`{ ${'a'.repeat(200_000)} }`),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'the same refusal to an application/json client: 200, as GraphQL over HTTP says',
    send: post(JSON.stringify({ query: aliasedRooms(1000) }), { accept: 'application/json' }),
    status: 200,
    code: 'GRAPHQL_PARSE_FAILED',
  },

  // Validation limits (GraphQL Armor), before anything runs.
  {
    name: '16 aliased room(id:) fields (MAX_ALIASES 15)',
    send: query(aliasedRooms(16)),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    check: (answer) => expect(answer.body).toContain('Aliases limit of 15 exceeded, found 16.'),
  },
  {
    name: '1,000 aliased room(id:) fields behind a raised token limit',
    on: 'lenient',
    send: query(aliasedRooms(1000)),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'aliases multiplied through fragments (9 written, 39 counted)',
    send: query(fragmentFanOut),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    check: (answer) => expect(answer.body).toMatch(/Aliases limit of 15 exceeded/),
  },
  {
    name: 'a selection 13 levels deep (MAX_DEPTH 12)',
    send: query(nested(13)),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    check: (answer) => expect(answer.body).toContain('Query depth limit of 12 exceeded, found 13.'),
  },
  {
    name: 'depth hidden in nested fragments',
    send: query(
      `{ viewer { ...A } } fragment A on Viewer { user { ...B } } fragment B on User { f { f { f { f { f { f { f { f { f { f { f { id } } } } } } } } } } } }`,
    ),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    check: (answer) => expect(answer.body).toContain('Query depth limit of 12 exceeded'),
  },
  {
    name: '21 directives (MAX_DIRECTIVES 20)',
    send: query(`{ ${'__typename @include(if: true) '.repeat(21)}}`),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: '2,000 directives on one field behind a raised token limit',
    on: 'lenient',
    send: query(`{ __typename ${'@skip(if: false) '.repeat(2000)}}`),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'introspection (__schema) in production',
    on: 'production',
    send: query('{ __schema { types { name } } }'),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'introspection (__type) in production',
    on: 'production',
    send: query('{ __type(name: "Room") { fields { name } } }'),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  {
    name: 'a misspelt field in production: no "Did you mean" naming the schema',
    on: 'production',
    send: query('{ viewr { userId } }'),
    status: 400,
    code: 'GRAPHQL_VALIDATION_FAILED',
    check: (answer) => expect(answer.body).not.toContain('Did you mean'),
  },
  {
    name: 'GraphiQL in production',
    on: 'production',
    send: (target) => request(target, '/graphql', { headers: { accept: 'text/html' } }),
    status: 406,
    code: 'none',
  },

  // Variables: coerced before anything runs.
  {
    name: 'a variable nested 5,000 levels deep',
    send: post(
      `{"query":"mutation ($c: JSON) { createRoom(input: { creationContent: $c }) { room { id } } }","variables":{"c":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
    ),
    status: 400,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'a variable of the wrong type',
    send: query('query ($n: Int) { rooms(first: $n) { edges { cursor } } }', { n: 'many' }),
    status: 400,
    code: 'BAD_USER_INPUT',
  },

  // The HTTP server's own limits.
  {
    name: 'request headers that never end (HTTP_HEADERS_TIMEOUT_MS)',
    on: 'slow',
    send: raw('POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n'),
    status: 408,
    code: 'none',
  },
  {
    name: 'a body that never ends (HTTP_REQUEST_TIMEOUT_MS)',
    on: 'slow',
    send: raw(
      'POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query":',
    ),
    status: 408,
    code: 'none',
  },
  {
    name: 'a connection past HTTP_MAX_CONNECTIONS (dropped unanswered)',
    on: 'capped',
    send: async (target) => {
      await using _held = await idleConnections(target.server.url, 2);
      await expect.poll(() => connectionCount(target.server)).toBe(2);
      return raw('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')(target);
    },
    status: 0,
    code: 'none',
  },

  // Controls: what stays within the limits runs.
  {
    name: 'control: a query within every limit',
    send: query('{ viewer { userId } }'),
    status: 200,
    code: null,
    upstream: 'some',
  },
  {
    name: 'control: introspection outside production',
    send: query('{ __schema { queryType { name } } }'),
    status: 200,
    code: null,
  },
  {
    name: 'control: a GET query with the CSRF header',
    send: get({ query: '{ __typename }' }, { 'x-graphql-csrf': '1' }),
    status: 200,
    code: null,
  },
  {
    name: 'control: a POST from the allowed origin gets its CORS header, without credentials',
    send: post('{"query":"{ __typename }"}', { origin: allowedOrigin }),
    status: 200,
    code: null,
    check: (answer) => {
      expect(answer.header('access-control-allow-origin')).toBe(allowedOrigin);
      expect(answer.header('access-control-allow-credentials')).toBeNull();
    },
  },
];

function connectionCount(server: TestServer): Promise<number> {
  return new Promise((resolve, reject) =>
    server.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

describe('hostile requests', () => {
  const started = new Map<ServerName, TestServer>();
  let user: RegisteredUser;

  beforeAll(async () => {
    user = await newUser('hostile');
    for (const [name, environment] of Object.entries(servers)) {
      started.set(name as ServerName, await startServer({ environment }));
    }
  });

  afterAll(async () => {
    await Promise.all([...started.values()].map((server) => server[Symbol.asyncDispose]()));
  });

  it.each(rows)('$name', async (row) => {
    const server = started.get(row.on ?? 'open');
    if (!server) {
      throw new Error(`no server ${row.on}`);
    }
    server.upstream.reset();

    const answer = await row.send({ server, token: user.accessToken });

    expect(answer.status).toBe(row.status);
    if (row.code === 'none') {
      expect(answer.body).toBe('');
    } else {
      const result = JSON.parse(answer.body) as {
        errors?: { message: string; extensions?: { code?: string } }[];
      };
      const codes = (result.errors ?? []).map((error) => error.extensions?.code);
      if (row.code === null) {
        expect(result.errors).toBeUndefined();
      } else {
        expect(codes.length).toBeGreaterThan(0);
        expect(new Set(codes)).toEqual(new Set([row.code]));
      }
    }
    // Nothing of the server's insides in any answer, whatever went wrong: no stack trace, source
    // path, wrapped error or upstream address.
    expect(answer.body).not.toMatch(/"stack"|originalError|node_modules|\.ts:\d|127\.0\.0\.1/);
    const upstream = server.upstream.count();
    if (row.upstream === 'some') {
      expect(upstream).toBeGreaterThan(0);
    } else {
      expect(upstream, server.upstream.requests.join('\n')).toBe(row.upstream ?? 0);
    }
    row.check?.(answer);
  });
});

describe('what a request costs in the log', () => {
  /** A debug-level logger whose lines the test reads back. */
  function capturedLog() {
    const lines: {
      level: number;
      msg: string;
      err?: { stack?: string };
      error?: { name: string };
    }[] = [];
    const logger = createLogger('debug', {
      write: (line: string) => {
        lines.push(JSON.parse(line) as (typeof lines)[number]);
      },
    });
    return { logger, lines, errors: () => lines.filter((line) => line.level >= 50) };
  }

  it('should log the homeserver refusing 15 rooms at debug, without stacks', async () => {
    const log = capturedLog();
    await using facade = startFacade({}, { logger: log.logger });
    const user = await newUser('hostile');

    const result = await facade.graphql(aliasedRooms(15), { token: user.accessToken });

    expect(result.errors).toHaveLength(15);
    expect(facade.upstream.count()).toBeGreaterThan(0);
    expect(log.errors()).toEqual([]);
    const refusals = log.lines.filter(
      (line) => line.level === 20 && line.error?.name === 'MatrixApiError',
    );
    expect(refusals.length).toBeGreaterThanOrEqual(15);
    expect(refusals.every((line) => line.err === undefined)).toBe(true);
  });

  it('should log refused requests at debug only', async () => {
    const log = capturedLog();
    await using facade = startFacade({}, { logger: log.logger });

    await facade.graphql(aliasedRooms(1000));
    await facade.graphql(aliasedRooms(16));
    await facade.graphql('query ($n: Int) { rooms(first: $n) { edges { cursor } } }', {
      variables: { n: 'many' },
    });

    expect(log.errors()).toEqual([]);
  });

  it('should still log an unreachable homeserver at error, with its stack', async () => {
    const log = capturedLog();
    await using facade = startFacade(
      { MATRIX_HOMESERVER_URL: 'http://127.0.0.1:9', UPSTREAM_MAX_ATTEMPTS: '1' },
      { logger: log.logger },
    );

    const result = await facade.graphql('{ viewer { userId } }', { token: 'any' });

    expect(result.errors?.[0]?.extensions?.['code']).toBe('UPSTREAM_UNAVAILABLE');
    expect(log.errors()).toHaveLength(1);
    expect(log.errors()[0]?.err?.stack).toContain('ConnectionError');
  });
});
