/**
 * Wires the facade together (upstream → yoga → HTTP server) without listening, so that tests and
 * main.ts start and stop the same thing.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { Upstream } from '../matrix/http.ts';
import { createFacadeYoga, type FacadeYoga } from './yoga.ts';

export interface AppOptions {
  config: Config;
  logger: Logger;
  /** Replaces the upstream connection pool (tests count or fault-inject through it). */
  dispatcher?: Dispatcher;
}

export interface App extends AsyncDisposable {
  readonly yoga: FacadeYoga;
  readonly upstream: Upstream;
  readonly server: Server;
  /** Listens on the configured host and port (0 picks a free one); resolves with the base URL. */
  start(): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, then closes upstream connections. */
  stop(): Promise<void>;
}

export function buildApp({ config, logger, dispatcher }: AppOptions): App {
  const upstream = new Upstream({
    homeserverUrl: config.homeserverUrl,
    timeouts: {
      connectMs: config.upstream.connectTimeoutMs,
      headersMs: config.upstream.headersTimeoutMs,
      bodyMs: config.upstream.bodyTimeoutMs,
    },
    retry: { maxAttempts: config.upstream.maxAttempts },
    connections: config.upstream.connections,
    logger: logger.child({ component: 'upstream' }),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const cursorKey =
    config.cursorSecret === null ? randomBytes(32) : Buffer.from(config.cursorSecret, 'utf8');
  const yoga = createFacadeYoga({ upstream, logger, graphiql: config.graphiql, cursorKey });
  const server = createServer(yoga);

  const start = () =>
    new Promise<string>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        const { address, port } = server.address() as AddressInfo;
        const host = address.includes(':') ? `[${address}]` : address;
        resolve(`http://${host}:${port}`);
      });
    });

  const stop = async () => {
    if (server.listening) {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets would hold close() open until they time out.
        server.closeIdleConnections();
      });
    }
    await upstream.close();
  };

  return { yoga, upstream, server, start, stop, [Symbol.asyncDispose]: stop };
}
