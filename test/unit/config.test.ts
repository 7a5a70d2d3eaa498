import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('should fill in defaults around the one required variable', () => {
    const config = loadConfig({ MATRIX_HOMESERVER_URL: 'https://matrix.example.org/' });
    expect(config).toEqual({
      homeserverUrl: 'https://matrix.example.org',
      host: '127.0.0.1',
      port: 4000,
      logLevel: 'info',
      graphiql: true,
      cursorSecret: null,
      operationDeadlineMs: 60_000,
      sync: { pollTimeoutMs: 30_000, gracePeriodMs: 5000, maxBackfillEvents: 500 },
      upstream: {
        connectTimeoutMs: 5000,
        headersTimeoutMs: 30_000,
        bodyTimeoutMs: 30_000,
        maxAttempts: 4,
        connections: 32,
      },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('should read every variable', () => {
    const config = loadConfig({
      MATRIX_HOMESERVER_URL: 'http://127.0.0.1:8008',
      HOST: '0.0.0.0',
      PORT: '0',
      LOG_LEVEL: 'debug',
      GRAPHIQL: 'false',
      UPSTREAM_CONNECT_TIMEOUT_MS: '100',
      UPSTREAM_HEADERS_TIMEOUT_MS: '200',
      UPSTREAM_BODY_TIMEOUT_MS: '300',
      UPSTREAM_MAX_ATTEMPTS: '1',
      UPSTREAM_CONNECTIONS: '4',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 0,
      logLevel: 'debug',
      graphiql: false,
      upstream: {
        connectTimeoutMs: 100,
        headersTimeoutMs: 200,
        bodyTimeoutMs: 300,
        maxAttempts: 1,
        connections: 4,
      },
    });
  });

  it('should treat an empty variable as unset', () => {
    expect(loadConfig({ MATRIX_HOMESERVER_URL: 'http://hs', PORT: '' }).port).toBe(4000);
  });

  it('should list every problem in one error', () => {
    const load = () =>
      loadConfig({ PORT: '70000', LOG_LEVEL: 'loud', GRAPHIQL: 'yes', UPSTREAM_MAX_ATTEMPTS: '0' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      [
        'invalid configuration:',
        '  - MATRIX_HOMESERVER_URL: is required: the homeserver to front, e.g. https://matrix.example.org',
        '  - PORT: must be an integer from 0 to 65535',
        '  - LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
        '  - GRAPHIQL: must be true or false',
        '  - UPSTREAM_MAX_ATTEMPTS: must be an integer from 1 to 10',
      ].join('\n'),
    );
  });

  it('should refuse a homeserver URL that is not http(s)', () => {
    expect(() => loadConfig({ MATRIX_HOMESERVER_URL: 'ftp://matrix.example.org' })).toThrow(
      'MATRIX_HOMESERVER_URL: must be an http(s) URL',
    );
  });
});
