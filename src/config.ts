/**
 * The server's configuration, read from the environment once at start-up. The only module that
 * reads `process.env` for the product; it imports nothing from the rest of `src/`.
 */
import { hostname } from 'node:os';
import { z } from 'zod';

/** An integer variable in `[min, max]`, with a message that says so whatever is wrong. */
const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be an integer from ${min} to ${max}` })
    .int({ error: `must be an integer from ${min} to ${max}` })
    .min(min, { error: `must be an integer from ${min} to ${max}` })
    .max(max, { error: `must be an integer from ${min} to ${max}` });
const milliseconds = integer(1, 3_600_000);
const flag = z
  .enum(['true', 'false'], { error: 'must be true or false' })
  .transform((value) => value === 'true');

/** `*`, or a browser origin: scheme, host and port only (`https://app.example.org`). */
function isOrigin(value: string): boolean {
  if (value === '*') {
    return true;
  }
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/** The entries of a parsed CORS_ORIGINS that are no origin, for its message. */
function notOrigins(origins: unknown): string {
  return (Array.isArray(origins) ? origins : [])
    .filter((origin) => !isOrigin(String(origin)))
    .join(', ');
}

const environmentSchema = z.object({
  MATRIX_HOMESERVER_URL: z
    .url({
      protocol: /^https?$/,
      error: (issue) =>
        issue.input === undefined
          ? 'is required: the homeserver to front, e.g. https://matrix.example.org'
          : 'must be an http(s) URL, e.g. https://matrix.example.org',
    })
    .transform((url) => url.replace(/\/+$/, '')),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: integer(0, 65_535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // `production` turns INTROSPECTION and GRAPHIQL off by default, requires CURSOR_SECRET and
  // warns about development settings (productionWarnings); as most Node tooling reads it.
  NODE_ENV: z.string().optional(),
  INTROSPECTION: flag.optional(),
  GRAPHIQL: flag.optional(),
  CORS_ORIGINS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ''),
    )
    .refine((origins) => origins.every(isOrigin), {
      error: (issue) =>
        `must be \`*\` or comma-separated origins such as https://app.example.org; not an origin: ${notOrigins(issue.input)}`,
    })
    .optional(),
  MAX_BODY_BYTES: integer(1024, 100_000_000).default(262_144),
  MAX_TOKENS: integer(100, 1_000_000).default(2000),
  MAX_DEPTH: integer(2, 1000).default(12),
  MAX_ALIASES: integer(0, 100_000).default(15),
  MAX_DIRECTIVES: integer(0, 100_000).default(20),
  DOCUMENT_CACHE_TOKENS: integer(0, 100_000_000).default(50_000),
  MAX_COST: integer(1, 100_000_000).default(2500),
  MAX_UPSTREAM_CALLS_PER_REQUEST: integer(1, 1_000_000).default(200),
  HTTP_HEADERS_TIMEOUT_MS: milliseconds.default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: milliseconds.default(30_000),
  HTTP_MAX_CONNECTIONS: integer(1, 1_000_000).default(1024),
  UPSTREAM_CONNECT_TIMEOUT_MS: milliseconds.default(5000),
  UPSTREAM_HEADERS_TIMEOUT_MS: milliseconds.default(20_000),
  UPSTREAM_BODY_TIMEOUT_MS: milliseconds.default(20_000),
  UPSTREAM_MAX_ATTEMPTS: integer(1, 10).default(4),
  UPSTREAM_CONNECTIONS: integer(1, 1024).default(32),
  UPSTREAM_TOTAL_TIMEOUT_MS: milliseconds.default(30_000),
  UPSTREAM_MAX_RESPONSE_BYTES: integer(1024, 2 ** 31).default(64 * 1024 * 1024),
  UPSTREAM_PER_TOKEN_CONCURRENCY: integer(1, 1024).default(6),
  SYNC_CONNECTIONS: integer(1, 100_000).default(1024),
  WS_MAX_OPERATIONS_PER_SOCKET: integer(1, 100_000).default(100),
  WS_KEEP_ALIVE_MS: milliseconds.default(12_000),
  WS_MAX_MESSAGES_PER_SECOND: integer(1, 1_000_000).default(200),
  TRUSTED_DOCUMENTS: z.string().min(1).optional(),
  TRUSTED_DOCUMENTS_ONLY: flag.default(false),
  SYNC_STREAM_QUEUE_LIMIT: integer(2, 100_000).default(256),
  SYNC_MAX_SUBSCRIPTIONS_PER_TOKEN: integer(1, 100_000).default(200),
  DELETE_ROOM_ADMIN_PURGE: flag.default(false),
  CURSOR_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  OPERATION_DEADLINE_MS: milliseconds.default(60_000),
  SYNC_POLL_TIMEOUT_MS: integer(0, 300_000).default(30_000),
  SYNC_GRACE_PERIOD_MS: integer(0, 3_600_000).default(5000),
  SYNC_MAX_BACKFILL_EVENTS: integer(0, 100_000).default(500),
  ROOM_LIST_PLAN: z.enum(['auto', 'sliding-sync', 'sync']).default('auto'),
  METRICS: flag.default(true),
  METRICS_PORT: integer(0, 65_535).optional(),
  REDIS_URL: z
    .url({
      protocol: /^rediss?$/,
      error: 'must be a redis:// or rediss:// URL, e.g. redis://redis.internal:6379/0',
    })
    .optional(),
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, {
      error: 'must be 1 to 64 letters, digits or . _ : -',
    })
    .optional(),
  CLUSTER_LEASE_MS: integer(500, 600_000).default(3000),
  WARM_VIEW_IDLE_MS: integer(0, 86_400_000).default(60_000),
  WARM_VIEW_MAX_BYTES: integer(0, 2 ** 40).default(256 * 1024 * 1024),
  WARM_VIEW_MAX_BYTES_PER_USER: integer(1024, 2 ** 40).default(8 * 1024 * 1024),
  WARM_VIEW_READ_YOUR_WRITES_MS: integer(0, 60_000).default(1000),
  WARM_VIEW_MAX_VIEWS: integer(1, 1_000_000).default(500),
});

// Checks between variables run even when others are invalid (`when`), so that every problem is
// still listed at once; each looks only at variables that parsed.
const checkedEnvironmentSchema = environmentSchema
  .refine((env) => !(env.GRAPHIQL === true && env.INTROSPECTION === false), {
    path: ['GRAPHIQL'],
    error: 'cannot be true with INTROSPECTION=false: GraphiQL needs introspection',
    when: (payload) => parsedWithoutIssue(payload, ['GRAPHIQL', 'INTROSPECTION']),
  })
  // The same when production's default turned introspection off: GraphiQL would open without
  // the schema, rather than the start naming the missing opt-in.
  .refine(
    (env) =>
      !(env.GRAPHIQL === true && env.INTROSPECTION === undefined && env.NODE_ENV === 'production'),
    {
      path: ['GRAPHIQL'],
      error:
        'cannot be true in production without INTROSPECTION=true: GraphiQL needs introspection, which NODE_ENV=production turns off',
      when: (payload) => parsedWithoutIssue(payload, ['GRAPHIQL', 'INTROSPECTION', 'NODE_ENV']),
    },
  )
  .refine((env) => !(env.TRUSTED_DOCUMENTS_ONLY && env.TRUSTED_DOCUMENTS === undefined), {
    path: ['TRUSTED_DOCUMENTS_ONLY'],
    error: 'needs TRUSTED_DOCUMENTS: the manifest of the documents to accept',
    when: (payload) => parsedWithoutIssue(payload, ['TRUSTED_DOCUMENTS', 'TRUSTED_DOCUMENTS_ONLY']),
  })
  .refine((env) => env.HTTP_HEADERS_TIMEOUT_MS <= env.HTTP_REQUEST_TIMEOUT_MS, {
    path: ['HTTP_HEADERS_TIMEOUT_MS'],
    error: 'must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
    when: (payload) =>
      parsedWithoutIssue(payload, ['HTTP_HEADERS_TIMEOUT_MS', 'HTTP_REQUEST_TIMEOUT_MS']),
  })
  // A random key per process would break every client's cursors at each restart, and between
  // instances behind one endpoint, with nothing in the logs: a production start refuses it.
  .refine((env) => env.NODE_ENV !== 'production' || env.CURSOR_SECRET !== undefined, {
    path: ['CURSOR_SECRET'],
    error:
      'is required when NODE_ENV=production: 32 or more random characters, the same on every instance, so that cursors survive restarts and load balancing (e.g. `openssl rand -base64 48`)',
    when: (payload) => parsedWithoutIssue(payload, ['NODE_ENV', 'CURSOR_SECRET']),
  })
  // Behind a load balancer a client's next page may land on any instance; the secret also keys
  // the hash that names each token in Redis, which every instance must compute alike.
  .refine((env) => env.REDIS_URL === undefined || env.CURSOR_SECRET !== undefined, {
    path: ['CURSOR_SECRET'],
    error:
      'is required with REDIS_URL (cluster mode): the same 32 or more random characters on every instance, so that cursors work on any of them and all name a token alike in Redis',
    when: (payload) => parsedWithoutIssue(payload, ['REDIS_URL', 'CURSOR_SECRET']),
  });

/** Whether none of `keys` has an issue yet: a check between them can read their parsed values. */
function parsedWithoutIssue(
  payload: { issues: readonly { readonly path?: readonly PropertyKey[] | undefined }[] },
  keys: readonly string[],
): boolean {
  return payload.issues.every((issue) => !keys.includes(String(issue.path?.[0])));
}

/** The validated configuration. See the README's configuration table. */
export interface Config {
  readonly homeserverUrl: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  /**
   * Answer introspection queries (`__schema`, `__type`). Off, the schema is also kept out of
   * validation messages ("Did you mean …?").
   */
  readonly introspection: boolean;
  /** Serve GraphiQL on `GET /graphql` (needs introspection). */
  readonly graphiql: boolean;
  /** Browser origins allowed to call the facade (CORS); empty: no CORS headers at all. */
  readonly corsOrigins: readonly string[];
  /** What one request may cost at most; see docs/security.md. */
  readonly limits: {
    /** Largest request body; a larger one is refused with 413 before it is parsed. */
    readonly maxBodyBytes: number;
    /** Most lexical tokens (and, separately, comments) in one document. */
    readonly maxTokens: number;
    /** Deepest field nesting of an operation, fragments followed. */
    readonly maxDepth: number;
    /** Most aliases in an operation, fragments followed. */
    readonly maxAliases: number;
    /** Most directives in an operation. */
    readonly maxDirectives: number;
    /**
     * What the parsed documents kept for reuse may hold in all, in lexical tokens (a parsed
     * document keeps every token); 0: none kept.
     */
    readonly documentCacheTokens: number;
    /**
     * The most an operation may cost, in upstream calls at worst as src/schema/cost.ts weighs
     * them; a costlier one is refused with QUERY_TOO_EXPENSIVE before it runs.
     */
    readonly maxCost: number;
    /**
     * The most upstream calls one query or mutation (or one event of a subscription) may start;
     * further ones fail with UPSTREAM_BUDGET_EXCEEDED and are not sent.
     */
    readonly maxUpstreamCallsPerRequest: number;
  };
  /** The HTTP server's own limits. */
  readonly http: {
    /** How long a client may take to send the request headers. */
    readonly headersTimeoutMs: number;
    /** How long a client may take to send the whole request, headers and body. */
    readonly requestTimeoutMs: number;
    /** Most open connections, websockets included; further ones are dropped. */
    readonly maxConnections: number;
  };
  /**
   * Signs pagination cursors. Unset: a random key per process, so cursors stop working when the
   * process restarts; set the same secret on every instance behind one endpoint.
   */
  readonly cursorSecret: string | null;
  /**
   * How long one query or mutation may take in all; past it, its upstream calls are aborted and
   * the client gets DEADLINE_EXCEEDED.
   */
  readonly operationDeadlineMs: number;
  /** Whether `deleteRoom` may purge a room through Synapse's Admin API for a server admin. */
  readonly deleteRoomAdminPurge: boolean;
  /** The most operations one graphql-ws connection may run at once. */
  readonly wsMaxOperationsPerSocket: number;
  /** How often graphql-ws pings; a socket that has not answered by the next ping is dropped. */
  readonly wsKeepAliveMs: number;
  /**
   * How many messages one graphql-ws connection may send per second, in bursts of up to one
   * second's worth; past it the socket is closed with 1008.
   */
  readonly wsMaxMessagesPerSecond: number;
  /** The trusted-documents manifest, and whether only its documents run; `null`: none. */
  readonly trustedDocuments: { readonly path: string; readonly only: boolean } | null;
  readonly sync: {
    /** Server-side timeout of each long-poll. */
    readonly pollTimeoutMs: number;
    /** How long a user's sync loop outlives their last subscription. */
    readonly gracePeriodMs: number;
    /** The most events recovered for one room after a `limited` sync. */
    readonly maxBackfillEvents: number;
    /** Connections of the long-poll pool: one per user with a live sync loop. */
    readonly connections: number;
    /** Items one subscription may have waiting before it gets a gap (or ends, see docs). */
    readonly streamQueueLimit: number;
    /** Live subscriptions one access token may have across every connection. */
    readonly maxSubscriptionsPerToken: number;
    /**
     * What serves `rooms`: `sliding-sync` (MSC4186), `sync` (one filtered `/sync`), or `auto`:
     * sliding sync when the homeserver's `/versions` announces it.
     */
    readonly roomListPlan: 'auto' | 'sliding-sync' | 'sync';
  };
  readonly upstream: {
    readonly connectTimeoutMs: number;
    readonly headersTimeoutMs: number;
    readonly bodyTimeoutMs: number;
    readonly maxAttempts: number;
    readonly connections: number;
    /** The most one try of an upstream call may take in all (a long-poll: plus its timeout). */
    readonly totalTimeoutMs: number;
    readonly maxResponseBytes: number;
    /** Upstream calls one token may have in flight on the shared pool; more wait their turn. */
    readonly perTokenConcurrency: number;
  };
  /**
   * Cluster mode (docs/deploy.md): instances share subscriptions and one sync loop per token
   * through Redis; `null` without `REDIS_URL` (the facade runs alone).
   */
  readonly cluster: {
    /** Where Redis is; may hold a password, so it is never logged. */
    readonly redisUrl: string;
    /** This instance's name in Redis and in log lines: `INSTANCE_ID`, else host name and PID. */
    readonly instanceId: string;
    /**
     * How long a sync loop's lease lasts without renewal: the longest a token goes without a loop
     * after the instance running it dies, before another takes over.
     */
    readonly leaseMs: number;
  } | null;
  /**
   * Warm room views (docs/queries.md): each token's room list kept in memory from its sync stream
   * while it is read or streams (in cluster mode, fed through Redis from whichever instance runs
   * the token's loop); `null` when off (`WARM_VIEW_IDLE_MS=0`).
   */
  readonly warmViews: {
    /** How long a view outlives its last read when its token does not stream. */
    readonly idleMs: number;
    /** What all views may hold, in estimated bytes. */
    readonly maxBytes: number;
    /** What one view may hold. */
    readonly maxBytesPerUser: number;
    /** The most views at once (each keeps its token's long-poll open). */
    readonly maxViews: number;
    /** How long a read after a write waits for the stream to pass it before going cold. */
    readonly readYourWritesMs: number;
  } | null;
  /** Prometheus metrics (docs/operations.md). */
  readonly metrics: {
    /** Whether `/metrics` is served at all. */
    readonly enabled: boolean;
    /**
     * `null`: `/metrics` on the main listener; a port: on a listener of its own on `host` (0 picks
     * a free one), and not on the main one.
     */
    readonly port: number | null;
  };
}

/** Every problem with the environment at once, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A setting the facade runs with but an operator should see in the log (docs/deploy.md). */
export interface ConfigWarning {
  /** The environment variable the warning is about. */
  readonly variable: string;
  readonly message: string;
}

/**
 * What a production configuration (`NODE_ENV=production`) allows but should not keep by
 * accident: each of these has a legitimate use, so it is a warning, not a refusal. Outside
 * production: none.
 */
function productionWarnings(config: Config, production: boolean): ConfigWarning[] {
  if (!production) {
    return [];
  }
  const warnings: ConfigWarning[] = [];
  // Off by default in production, so on only because INTROSPECTION=true (or GRAPHIQL=true) says so.
  if (config.introspection) {
    warnings.push({
      variable: 'INTROSPECTION',
      message:
        'introspection is on in production: any client may map the schema and send the introspection query, large and deep',
    });
  }
  if (config.graphiql) {
    warnings.push({
      variable: 'GRAPHIQL',
      message:
        'GraphiQL is served on GET /graphql in production (it follows INTROSPECTION unless GRAPHIQL=false)',
    });
  }
  if (config.corsOrigins.includes('*')) {
    warnings.push({
      variable: 'CORS_ORIGINS',
      message:
        "CORS_ORIGINS=* in production: any web page may call the facade with a token it holds; list your apps' origins instead",
    });
  }
  if (config.logLevel === 'debug' || config.logLevel === 'trace') {
    warnings.push({
      variable: 'LOG_LEVEL',
      message: `LOG_LEVEL=${config.logLevel} in production: a line per upstream request and per refused request, so clients set the log volume; use info`,
    });
  }
  return warnings;
}

/**
 * Parses the environment; throws {@link ConfigError} listing every invalid or missing variable.
 * `onWarning` hears of each setting that is valid but unwise in production (the caller logs them:
 * this module has no logger).
 */
export function loadConfig(
  environment: Record<string, string | undefined> = process.env,
  onWarning?: (warning: ConfigWarning) => void,
): Config {
  // An empty variable means "unset" (as `PORT= npm start` intends), not "the empty string".
  const present = Object.fromEntries(
    Object.entries(environment).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = checkedEnvironmentSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  - ${issue.path.join('.')}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  }
  const env = parsed.data;
  // A development tool, and a map of the schema for anyone: on unless the process says it is in
  // production (or the operator says otherwise).
  const introspection = env.INTROSPECTION ?? env.NODE_ENV !== 'production';
  const config: Config = Object.freeze({
    homeserverUrl: env.MATRIX_HOMESERVER_URL,
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    introspection,
    graphiql: env.GRAPHIQL ?? introspection,
    corsOrigins: Object.freeze(env.CORS_ORIGINS ?? []),
    limits: Object.freeze({
      maxBodyBytes: env.MAX_BODY_BYTES,
      maxTokens: env.MAX_TOKENS,
      maxDepth: env.MAX_DEPTH,
      maxAliases: env.MAX_ALIASES,
      maxDirectives: env.MAX_DIRECTIVES,
      documentCacheTokens: env.DOCUMENT_CACHE_TOKENS,
      maxCost: env.MAX_COST,
      maxUpstreamCallsPerRequest: env.MAX_UPSTREAM_CALLS_PER_REQUEST,
    }),
    http: Object.freeze({
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      maxConnections: env.HTTP_MAX_CONNECTIONS,
    }),
    cursorSecret: env.CURSOR_SECRET ?? null,
    operationDeadlineMs: env.OPERATION_DEADLINE_MS,
    deleteRoomAdminPurge: env.DELETE_ROOM_ADMIN_PURGE,
    wsMaxOperationsPerSocket: env.WS_MAX_OPERATIONS_PER_SOCKET,
    wsKeepAliveMs: env.WS_KEEP_ALIVE_MS,
    wsMaxMessagesPerSecond: env.WS_MAX_MESSAGES_PER_SECOND,
    trustedDocuments:
      env.TRUSTED_DOCUMENTS === undefined
        ? null
        : Object.freeze({ path: env.TRUSTED_DOCUMENTS, only: env.TRUSTED_DOCUMENTS_ONLY }),
    sync: Object.freeze({
      pollTimeoutMs: env.SYNC_POLL_TIMEOUT_MS,
      gracePeriodMs: env.SYNC_GRACE_PERIOD_MS,
      maxBackfillEvents: env.SYNC_MAX_BACKFILL_EVENTS,
      connections: env.SYNC_CONNECTIONS,
      streamQueueLimit: env.SYNC_STREAM_QUEUE_LIMIT,
      maxSubscriptionsPerToken: env.SYNC_MAX_SUBSCRIPTIONS_PER_TOKEN,
      roomListPlan: env.ROOM_LIST_PLAN,
    }),
    upstream: Object.freeze({
      connectTimeoutMs: env.UPSTREAM_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: env.UPSTREAM_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: env.UPSTREAM_BODY_TIMEOUT_MS,
      maxAttempts: env.UPSTREAM_MAX_ATTEMPTS,
      connections: env.UPSTREAM_CONNECTIONS,
      totalTimeoutMs: env.UPSTREAM_TOTAL_TIMEOUT_MS,
      maxResponseBytes: env.UPSTREAM_MAX_RESPONSE_BYTES,
      perTokenConcurrency: env.UPSTREAM_PER_TOKEN_CONCURRENCY,
    }),
    cluster:
      env.REDIS_URL === undefined
        ? null
        : Object.freeze({
            redisUrl: env.REDIS_URL,
            instanceId: env.INSTANCE_ID ?? `${hostname()}-${process.pid}`,
            leaseMs: env.CLUSTER_LEASE_MS,
          }),
    warmViews:
      env.WARM_VIEW_IDLE_MS === 0
        ? null
        : Object.freeze({
            idleMs: env.WARM_VIEW_IDLE_MS,
            maxBytes: env.WARM_VIEW_MAX_BYTES,
            maxBytesPerUser: env.WARM_VIEW_MAX_BYTES_PER_USER,
            maxViews: env.WARM_VIEW_MAX_VIEWS,
            readYourWritesMs: env.WARM_VIEW_READ_YOUR_WRITES_MS,
          }),
    metrics: Object.freeze({ enabled: env.METRICS, port: env.METRICS_PORT ?? null }),
  });
  for (const warning of productionWarnings(config, env.NODE_ENV === 'production')) {
    onWarning?.(warning);
  }
  return config;
}
