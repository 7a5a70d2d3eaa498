/**
 * Wires the facade together (upstream → sync bridge → yoga → HTTP and graphql-ws) without
 * listening, so that tests and main.ts start and stop the same thing.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { announceWrites, type ClusterFeedOptions, clusterFeeds } from '../cluster/cluster-feed.ts';
import { ClusterRedis } from '../cluster/cluster-redis.ts';
import { tokenKey } from '../cluster/token-key.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { Upstream } from '../matrix/http.ts';
import { setRoomListPlan } from '../matrix/sliding-sync.ts';
import { SyncHub } from '../sync/sync-hub.ts';
import { WarmViews } from '../sync/warm-views.ts';
import { Health } from './health.ts';
import { idleMemoryReclaimer } from './idle-memory.ts';
import { FacadeMetrics } from './metrics.ts';
import { Operations } from './operations.ts';
import { TrustedDocuments } from './trusted-documents.ts';
import { attachWebSocketTransport } from './ws.ts';
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
  /** The sync bridge's live loops and listeners (zero until a subscription starts one). */
  readonly syncStats: { loops: number; listeners: number };
  /** The Prometheus metrics; `null` with `METRICS=false`. */
  readonly metrics: FacadeMetrics | null;
  /**
   * Where `/metrics` is served once started: on the main listener, or on `METRICS_PORT`'s own;
   * `null` before `start()` or with `METRICS=false`.
   */
  readonly metricsUrl: string | null;
  /** Listens on the configured host and port (0 picks a free one); resolves with the base URL. */
  start(): Promise<string>;
  /**
   * Shuts down gracefully: stops accepting connections, completes every subscription and closes
   * websockets with 1001, stops every sync loop (aborting its long-poll), lets in-flight HTTP
   * requests finish, then closes the upstream connections.
   */
  stop(): Promise<void>;
}

/** How long in-flight HTTP requests get to finish on shutdown before their sockets are cut. */
const DRAIN_TIMEOUT_MS = 10_000;

export function buildApp({ config, logger, dispatcher }: AppOptions): App {
  // First: a manifest that does not load fails the start before anything is opened.
  const trustedDocuments =
    config.trustedDocuments === null
      ? null
      : TrustedDocuments.load(config.trustedDocuments.path, config.trustedDocuments.only);
  const metrics = config.metrics.enabled ? new FacadeMetrics() : null;
  const operations = new Operations(logger.child({ component: 'operation' }), metrics);
  const upstream = new Upstream({
    homeserverUrl: config.homeserverUrl,
    timeouts: {
      connectMs: config.upstream.connectTimeoutMs,
      headersMs: config.upstream.headersTimeoutMs,
      bodyMs: config.upstream.bodyTimeoutMs,
      totalMs: config.upstream.totalTimeoutMs,
    },
    maxResponseBytes: config.upstream.maxResponseBytes,
    perTokenConcurrency: config.upstream.perTokenConcurrency,
    retry: { maxAttempts: config.upstream.maxAttempts },
    connections: config.upstream.connections,
    logger: logger.child({ component: 'upstream' }),
    ...(dispatcher ? { dispatcher } : {}),
    ...(metrics ? { observer: metrics.upstream } : {}),
  });
  setRoomListPlan(upstream, config.sync.roomListPlan);
  const cursorKey =
    config.cursorSecret === null ? randomBytes(32) : Buffer.from(config.cursorSecret, 'utf8');
  const shutdown = new AbortController();
  const redis = config.cluster === null ? null : connectCluster(config.cluster, logger);
  const syncLogger = logger.child({ component: 'sync' });
  const clusterFeedOptions: ClusterFeedOptions | null =
    redis === null
      ? null
      : {
          redis,
          // Required with REDIS_URL (config.ts): every instance names a token alike.
          tokenKey: tokenKey(config.cursorSecret ?? ''),
          logger: syncLogger,
          metrics: metrics?.cluster,
        };
  // Made on the first subscription: a server that serves none never starts a loop.
  let hub: SyncHub | undefined;
  const reclaimer = idleMemoryReclaimer(() => hub?.idle ?? true, logger);
  const syncHub = () => {
    hub ??= new SyncHub({
      // The loop's own backoff governs /sync (it keeps its position, honours Retry-After and
      // stops at once on close); retries inside the HTTP layer would only delay it.
      // Long-polls get a pool of their own: each holds a connection for up to the poll timeout,
      // and in the shared pool enough of them would leave queries waiting for a connection.
      upstream: upstream.longPollPool({
        retry: { maxAttempts: 1 },
        connections: config.sync.connections,
      }),
      logger: syncLogger,
      gracePeriodMs: config.sync.gracePeriodMs,
      pollTimeoutMs: config.sync.pollTimeoutMs,
      maxBackfillEvents: config.sync.maxBackfillEvents,
      streamQueueLimit: config.sync.streamQueueLimit,
      maxStreamsPerToken: config.sync.maxSubscriptionsPerToken,
      onIdle: () => reclaimer.idle(),
      ...(metrics ? { metrics: metrics.sync } : {}),
      ...(clusterFeedOptions === null ? {} : { feeds: clusterFeeds(clusterFeedOptions) }),
    });
    return hub;
  };
  const warmViews =
    config.warmViews === null
      ? null
      : new WarmViews({
          hub: syncHub,
          idleMs: config.warmViews.idleMs,
          maxBytes: config.warmViews.maxBytes,
          maxBytesPerView: config.warmViews.maxBytesPerUser,
          maxViews: config.warmViews.maxViews,
          readYourWritesMs: config.warmViews.readYourWritesMs,
          ...(clusterFeedOptions === null
            ? {}
            : { announceWrite: announceWrites(clusterFeedOptions) }),
          metrics: metrics?.warmViews,
        });
  const yoga = createFacadeYoga({
    shared: {
      upstream,
      cursorKey,
      syncHub,
      warmViews,
      shutdownSignal: shutdown.signal,
      adminPurge: config.deleteRoomAdminPurge,
    },
    logger,
    graphiql: config.graphiql,
    introspection: config.introspection,
    corsOrigins: config.corsOrigins,
    limits: config.limits,
    operationDeadlineMs: config.operationDeadlineMs,
    trustedDocuments,
    operations,
  });
  let stopping: Promise<void> | undefined;
  const health = new Health({
    // One try: a probe must answer within its bound, not wait out backoffs.
    upstream: upstream.withRetryPolicy({ maxAttempts: 1 }),
    stopping: () => stopping !== undefined,
    ...(redis === null ? {} : { redis: (timeoutMs: number) => redis.check(timeoutMs) }),
  });
  // On the main listener unless METRICS_PORT gives it one of its own.
  const metricsOnMain = metrics !== null && config.metrics.port === null;
  const serveMetrics = (response: ServerResponse): void => {
    metrics?.render().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.contentType }).end(text);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'metrics could not be collected');
        response.writeHead(500).end();
      },
    );
  };
  // Probes and scrapes are answered here, before yoga: they cost a GraphQL request nothing.
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    if (metricsOnMain && request.url === '/metrics' && request.method === 'GET') {
      serveMetrics(response);
    } else if (!health.handle(request, response)) {
      void yoga(request, response);
    }
  };
  const server = createServer(
    {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      // Node checks both timeouts on this interval (30 s by default), which would let a client
      // that never finishes its request hold the connection up to 30 s past them.
      connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs),
    },
    handle,
  );
  // Past it Node drops new connections at once (websockets count, being connections).
  server.maxConnections = config.http.maxConnections;
  server.on('drop', () => metrics?.refused('CONNECTION_DROPPED', 'HTTP_MAX_CONNECTIONS'));
  const websockets = attachWebSocketTransport(server, yoga, upstream, logger, {
    maxOperationsPerSocket: config.wsMaxOperationsPerSocket,
    keepAliveMs: config.wsKeepAliveMs,
    maxPayloadBytes: config.limits.maxBodyBytes,
    maxMessagesPerSecond: config.wsMaxMessagesPerSecond,
    trustedDocuments,
    operations,
    metrics,
  });
  metrics?.watch(() => {
    const stats = hub?.stats;
    return {
      syncLoops: stats?.loops ?? 0,
      subscriptions: stats?.listeners ?? 0,
      websockets: websockets.server.clients.size,
      warmViews: warmViews?.stats.views ?? 0,
      warmViewBytes: warmViews?.stats.bytes ?? 0,
    };
  });
  // METRICS_PORT: a listener of its own, serving /metrics only.
  const metricsServer =
    metrics !== null && config.metrics.port !== null
      ? createServer((request, response) => {
          if (request.url === '/metrics' && request.method === 'GET') {
            serveMetrics(response);
          } else {
            response.writeHead(404).end();
          }
        })
      : null;
  let metricsUrl: string | null = null;

  const start = async (): Promise<string> => {
    const url = await listen(server, config.port, config.host);
    if (metricsServer !== null && config.metrics.port !== null) {
      metricsUrl = `${await listen(metricsServer, config.metrics.port, config.host)}/metrics`;
      logger.info({ url: metricsUrl }, `metrics listening on ${metricsUrl}`);
    } else if (metricsOnMain) {
      metricsUrl = `${url}/metrics`;
    }
    return url;
  };

  const stop = () => {
    stopping ??= (async () => {
      // No new connections from here on; close() resolves once in-flight requests are done.
      const closed = server.listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve();
      // Subscriptions (SSE and websocket alike) complete; sockets go with 1001.
      shutdown.abort();
      await websockets.close();
      warmViews?.close();
      // Each feed hands its token's loop over (cluster mode) before Redis goes.
      await hub?.close();
      await redis?.close();
      reclaimer.cancel();
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
      cut.unref();
      await closed;
      clearTimeout(cut);
      if (metricsServer?.listening) {
        metricsServer.closeAllConnections();
        await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      }
      await upstream.close();
    })();
    return stopping;
  };

  return {
    yoga,
    upstream,
    server,
    get syncStats() {
      return hub?.stats ?? { loops: 0, listeners: 0 };
    },
    metrics,
    get metricsUrl() {
      return metricsUrl;
    },
    start,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Cluster mode's Redis connections. Connection trouble is logged once when it starts and once
 * when Redis is back (ioredis reports every reconnection attempt), never with the URL, which may
 * hold a password.
 */
function connectCluster(cluster: NonNullable<Config['cluster']>, logger: Logger): ClusterRedis {
  const log = logger.child({ component: 'cluster', instanceId: cluster.instanceId });
  let failing = false;
  const redis = new ClusterRedis({
    url: cluster.redisUrl,
    instanceId: cluster.instanceId,
    leaseMs: cluster.leaseMs,
    onError: (error) => {
      if (!failing) {
        failing = true;
        log.warn({ error: error.message }, 'Redis unreachable; retrying');
      }
    },
  });
  redis.onReady(() => {
    if (failing) {
      failing = false;
      log.info('Redis reachable again');
    }
  });
  log.info({ leaseMs: cluster.leaseMs }, 'cluster mode: sharing sync loops through Redis');
  return redis;
}

/** Listens on `port` and `host` (0 picks a free port); resolves with the base URL. */
function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const { address, port: bound } = server.address() as AddressInfo;
      const shown = address.includes(':') ? `[${address}]` : address;
      resolve(`http://${shown}:${bound}`);
    });
  });
}
