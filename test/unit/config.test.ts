import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigWarning, loadConfig } from '../../src/config.ts';

/** A cursor secret long enough for production. */
const SECRET = 'x'.repeat(32);

describe('loadConfig', () => {
  it('should fill in defaults around the one required variable', () => {
    const config = loadConfig({ MATRIX_HOMESERVER_URL: 'https://matrix.example.org/' });
    expect(config).toEqual({
      homeserverUrl: 'https://matrix.example.org',
      host: '127.0.0.1',
      port: 4000,
      logLevel: 'info',
      introspection: true,
      graphiql: true,
      corsOrigins: [],
      cluster: null,
      warmViews: {
        idleMs: 60_000,
        maxBytes: 256 * 1024 * 1024,
        maxBytesPerUser: 8 * 1024 * 1024,
        maxViews: 500,
        readYourWritesMs: 1000,
      },
      metrics: { enabled: true, port: null },
      limits: {
        maxBodyBytes: 262_144,
        maxTokens: 2000,
        maxDepth: 12,
        maxAliases: 15,
        maxDirectives: 20,
        documentCacheTokens: 50_000,
        maxCost: 2500,
        maxUpstreamCallsPerRequest: 200,
      },
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1024 },
      cursorSecret: null,
      operationDeadlineMs: 60_000,
      deleteRoomAdminPurge: false,
      wsMaxOperationsPerSocket: 100,
      wsKeepAliveMs: 12_000,
      wsMaxMessagesPerSecond: 200,
      trustedDocuments: null,
      sync: {
        pollTimeoutMs: 30_000,
        gracePeriodMs: 5000,
        maxBackfillEvents: 500,
        connections: 1024,
        streamQueueLimit: 256,
        maxSubscriptionsPerToken: 200,
        roomListPlan: 'auto',
      },
      upstream: {
        connectTimeoutMs: 5000,
        headersTimeoutMs: 20_000,
        bodyTimeoutMs: 20_000,
        maxAttempts: 4,
        connections: 32,
        totalTimeoutMs: 30_000,
        maxResponseBytes: 67_108_864,
        perTokenConcurrency: 6,
      },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.corsOrigins)).toBe(true);
  });

  it('should turn cluster mode on with REDIS_URL, which requires a cursor secret', () => {
    const base = { MATRIX_HOMESERVER_URL: 'https://matrix.example.org' };
    expect(loadConfig(base).cluster).toBeNull();
    expect(() => loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      /CURSOR_SECRET: is required with REDIS_URL/,
    );
    expect(() =>
      loadConfig({ ...base, REDIS_URL: 'http://127.0.0.1:6379', CURSOR_SECRET: SECRET }),
    ).toThrow(/REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(() =>
      loadConfig({
        ...base,
        REDIS_URL: 'redis://127.0.0.1:6379',
        CURSOR_SECRET: SECRET,
        INSTANCE_ID: 'has space',
      }),
    ).toThrow(/INSTANCE_ID/);
    const cluster = loadConfig({
      ...base,
      REDIS_URL: 'rediss://:pw@redis.internal:6380/1',
      CURSOR_SECRET: SECRET,
      INSTANCE_ID: 'facade-a',
    }).cluster;
    expect(cluster).toEqual({
      redisUrl: 'rediss://:pw@redis.internal:6380/1',
      instanceId: 'facade-a',
      leaseMs: 3000,
    });
    const named = loadConfig({ ...base, REDIS_URL: 'redis://r:6379', CURSOR_SECRET: SECRET });
    expect(named.cluster?.instanceId).toMatch(new RegExp(`-${process.pid}$`));
  });

  it('should turn introspection and GraphiQL off by default in production', () => {
    const production = {
      MATRIX_HOMESERVER_URL: 'http://hs',
      NODE_ENV: 'production',
      CURSOR_SECRET: SECRET,
    };
    expect(loadConfig(production)).toMatchObject({ introspection: false, graphiql: false });
    // GraphiQL follows introspection unless set itself.
    expect(loadConfig({ ...production, INTROSPECTION: 'true' })).toMatchObject({
      introspection: true,
      graphiql: true,
    });
    expect(
      loadConfig({ MATRIX_HOMESERVER_URL: 'http://hs', INTROSPECTION: 'false' }),
    ).toMatchObject({ introspection: false, graphiql: false });
    expect(loadConfig({ ...production, INTROSPECTION: 'true', GRAPHIQL: 'false' })).toMatchObject({
      introspection: true,
      graphiql: false,
    });
  });

  it('should refuse production without a cursor secret, along with the other problems', () => {
    const load = () => loadConfig({ NODE_ENV: 'production', PORT: 'x' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      new ConfigError(
        [
          'invalid configuration:',
          '  - MATRIX_HOMESERVER_URL: is required: the homeserver to front, e.g. https://matrix.example.org',
          '  - PORT: must be an integer from 0 to 65535',
          '  - CURSOR_SECRET: is required when NODE_ENV=production: 32 or more random characters, the same on every instance, so that cursors survive restarts and load balancing (e.g. `openssl rand -base64 48`)',
        ].join('\n'),
      ),
    );
    // A secret too short is reported once, for its length.
    expect(() =>
      loadConfig({
        MATRIX_HOMESERVER_URL: 'http://hs',
        NODE_ENV: 'production',
        CURSOR_SECRET: 'x',
      }),
    ).toThrow(/^invalid configuration:\n {2}- CURSOR_SECRET: must be at least 32 characters$/);
    // Outside production a random key per process is still the default.
    expect(
      loadConfig({ MATRIX_HOMESERVER_URL: 'http://hs', NODE_ENV: 'development' }),
    ).toMatchObject({ cursorSecret: null });
    expect(
      loadConfig({
        MATRIX_HOMESERVER_URL: 'http://hs',
        NODE_ENV: 'production',
        CURSOR_SECRET: SECRET,
      }).cursorSecret,
    ).toBe(SECRET);
  });

  it('should refuse GraphiQL in production unless introspection is opted into too', () => {
    // GraphiQL needs introspection, which production turns off by default.
    expect(() =>
      loadConfig({
        MATRIX_HOMESERVER_URL: 'http://hs',
        NODE_ENV: 'production',
        CURSOR_SECRET: SECRET,
        GRAPHIQL: 'true',
      }),
    ).toThrow(
      /^invalid configuration:\n {2}- GRAPHIQL: cannot be true in production without INTROSPECTION=true: GraphiQL needs introspection, which NODE_ENV=production turns off$/,
    );
  });

  it('should warn about development settings in production, and only there', () => {
    const warningsOf = (environment: Record<string, string>) => {
      const warnings: ConfigWarning[] = [];
      loadConfig({ MATRIX_HOMESERVER_URL: 'http://hs', ...environment }, (warning) =>
        warnings.push(warning),
      );
      return warnings.map((warning) => warning.variable);
    };
    const production = { NODE_ENV: 'production', CURSOR_SECRET: SECRET };
    const development = {
      INTROSPECTION: 'true',
      GRAPHIQL: 'true',
      CORS_ORIGINS: 'https://app.example.org,*',
      LOG_LEVEL: 'trace',
    };
    expect(warningsOf(production)).toEqual([]);
    expect(warningsOf({ ...production, ...development })).toEqual([
      'INTROSPECTION',
      'GRAPHIQL',
      'CORS_ORIGINS',
      'LOG_LEVEL',
    ]);
    // GraphiQL follows introspection: both are on, and both are named.
    expect(warningsOf({ ...production, INTROSPECTION: 'true' })).toEqual([
      'INTROSPECTION',
      'GRAPHIQL',
    ]);
    expect(warningsOf({ ...production, INTROSPECTION: 'true', GRAPHIQL: 'false' })).toEqual([
      'INTROSPECTION',
    ]);
    expect(warningsOf({ ...production, LOG_LEVEL: 'debug' })).toEqual(['LOG_LEVEL']);
    expect(warningsOf({ ...production, LOG_LEVEL: 'warn', CORS_ORIGINS: 'https://a.org' })).toEqual(
      [],
    );
    expect(warningsOf(development)).toEqual([]);
  });

  it('should read CORS origins, `*` included', () => {
    const load = (CORS_ORIGINS: string) =>
      loadConfig({ MATRIX_HOMESERVER_URL: 'http://hs', CORS_ORIGINS }).corsOrigins;
    expect(load('https://app.example.org, http://localhost:3000,')).toEqual([
      'https://app.example.org',
      'http://localhost:3000',
    ]);
    expect(load('*')).toEqual(['*']);
  });

  it('should read every variable', () => {
    const config = loadConfig({
      MATRIX_HOMESERVER_URL: 'http://127.0.0.1:8008',
      HOST: '0.0.0.0',
      PORT: '0',
      LOG_LEVEL: 'debug',
      GRAPHIQL: 'false',
      INTROSPECTION: 'false',
      CORS_ORIGINS: 'https://app.example.org',
      MAX_BODY_BYTES: '65536',
      MAX_TOKENS: '500',
      MAX_DEPTH: '8',
      MAX_ALIASES: '0',
      MAX_DIRECTIVES: '5',
      DOCUMENT_CACHE_TOKENS: '0',
      MAX_COST: '50',
      MAX_UPSTREAM_CALLS_PER_REQUEST: '7',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '2000',
      HTTP_MAX_CONNECTIONS: '10',
      UPSTREAM_CONNECT_TIMEOUT_MS: '100',
      UPSTREAM_HEADERS_TIMEOUT_MS: '200',
      UPSTREAM_BODY_TIMEOUT_MS: '300',
      UPSTREAM_MAX_ATTEMPTS: '1',
      UPSTREAM_CONNECTIONS: '4',
      WS_MAX_MESSAGES_PER_SECOND: '20',
      TRUSTED_DOCUMENTS: 'manifest.json',
      TRUSTED_DOCUMENTS_ONLY: 'true',
    });
    expect(config).toMatchObject({
      wsMaxMessagesPerSecond: 20,
      trustedDocuments: { path: 'manifest.json', only: true },
      host: '0.0.0.0',
      port: 0,
      logLevel: 'debug',
      graphiql: false,
      introspection: false,
      corsOrigins: ['https://app.example.org'],
      limits: {
        maxBodyBytes: 65_536,
        maxTokens: 500,
        maxDepth: 8,
        maxAliases: 0,
        maxDirectives: 5,
        documentCacheTokens: 0,
        maxCost: 50,
        maxUpstreamCallsPerRequest: 7,
      },
      http: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnections: 10 },
      upstream: {
        connectTimeoutMs: 100,
        headersTimeoutMs: 200,
        bodyTimeoutMs: 300,
        maxAttempts: 1,
        connections: 4,
      },
    });
  });

  it('should refuse a cost limit or an upstream budget of zero', () => {
    expect(() =>
      loadConfig({
        MATRIX_HOMESERVER_URL: 'http://hs',
        MAX_COST: '0',
        MAX_UPSTREAM_CALLS_PER_REQUEST: '0',
      }),
    ).toThrow(
      new ConfigError(
        [
          'invalid configuration:',
          '  - MAX_COST: must be an integer from 1 to 100000000',
          '  - MAX_UPSTREAM_CALLS_PER_REQUEST: must be an integer from 1 to 1000000',
        ].join('\n'),
      ),
    );
  });

  it('should treat an empty variable as unset', () => {
    expect(loadConfig({ MATRIX_HOMESERVER_URL: 'http://hs', PORT: '' }).port).toBe(4000);
  });

  it('should list every problem in one error', () => {
    const load = () =>
      loadConfig({
        PORT: '70000',
        LOG_LEVEL: 'loud',
        GRAPHIQL: 'yes',
        CORS_ORIGINS: 'https://app.example.org, app.example.org, https://x.org/path',
        MAX_TOKENS: '10',
        UPSTREAM_MAX_ATTEMPTS: '0',
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      [
        'invalid configuration:',
        '  - MATRIX_HOMESERVER_URL: is required: the homeserver to front, e.g. https://matrix.example.org',
        '  - PORT: must be an integer from 0 to 65535',
        '  - LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
        '  - GRAPHIQL: must be true or false',
        '  - CORS_ORIGINS: must be `*` or comma-separated origins such as https://app.example.org; not an origin: app.example.org, https://x.org/path',
        '  - MAX_TOKENS: must be an integer from 100 to 1000000',
        '  - UPSTREAM_MAX_ATTEMPTS: must be an integer from 1 to 10',
      ].join('\n'),
    );
  });

  it('should list problems between variables along with the others', () => {
    const load = () =>
      loadConfig({
        PORT: 'x',
        GRAPHIQL: 'true',
        INTROSPECTION: 'false',
        HTTP_HEADERS_TIMEOUT_MS: '20000',
        HTTP_REQUEST_TIMEOUT_MS: '10000',
      });
    expect(load).toThrow(
      [
        'invalid configuration:',
        '  - MATRIX_HOMESERVER_URL: is required: the homeserver to front, e.g. https://matrix.example.org',
        '  - PORT: must be an integer from 0 to 65535',
        '  - GRAPHIQL: cannot be true with INTROSPECTION=false: GraphiQL needs introspection',
        '  - HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
      ].join('\n'),
    );
    // A check between two variables is left out while one of them is itself invalid.
    expect(() =>
      loadConfig({ MATRIX_HOMESERVER_URL: 'http://hs', HTTP_HEADERS_TIMEOUT_MS: '0' }),
    ).toThrow(
      /^invalid configuration:\n {2}- HTTP_HEADERS_TIMEOUT_MS: must be an integer from 1 to 3600000$/,
    );
  });

  it('should refuse a homeserver URL that is not http(s)', () => {
    expect(() => loadConfig({ MATRIX_HOMESERVER_URL: 'ftp://matrix.example.org' })).toThrow(
      'MATRIX_HOMESERVER_URL: must be an http(s) URL',
    );
  });
});
