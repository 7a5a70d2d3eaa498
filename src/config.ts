/**
 * The server's configuration, read from the environment once at start-up. The only module that
 * reads `process.env` for the product; it imports nothing from the rest of `src/`.
 */
import { z } from 'zod';

/** An integer variable in `[min, max]`, with a message that says so whatever is wrong. */
const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be an integer from ${min} to ${max}` })
    .int({ error: `must be an integer from ${min} to ${max}` })
    .min(min, { error: `must be an integer from ${min} to ${max}` })
    .max(max, { error: `must be an integer from ${min} to ${max}` });
const milliseconds = integer(1, 3_600_000);

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
  GRAPHIQL: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('true')
    .transform((value) => value === 'true'),
  UPSTREAM_CONNECT_TIMEOUT_MS: milliseconds.default(5000),
  UPSTREAM_HEADERS_TIMEOUT_MS: milliseconds.default(30_000),
  UPSTREAM_BODY_TIMEOUT_MS: milliseconds.default(30_000),
  UPSTREAM_MAX_ATTEMPTS: integer(1, 10).default(4),
  UPSTREAM_CONNECTIONS: integer(1, 1024).default(32),
  CURSOR_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  OPERATION_DEADLINE_MS: milliseconds.default(60_000),
  SYNC_POLL_TIMEOUT_MS: integer(0, 300_000).default(30_000),
  SYNC_GRACE_PERIOD_MS: integer(0, 3_600_000).default(5000),
  SYNC_MAX_BACKFILL_EVENTS: integer(0, 100_000).default(500),
});

/** The validated configuration. See the README's configuration table. */
export interface Config {
  readonly homeserverUrl: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: z.infer<typeof environmentSchema>['LOG_LEVEL'];
  readonly graphiql: boolean;
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
  readonly sync: {
    /** Server-side timeout of each long-poll. */
    readonly pollTimeoutMs: number;
    /** How long a user's sync loop outlives their last subscription. */
    readonly gracePeriodMs: number;
    /** The most events recovered for one room after a `limited` sync. */
    readonly maxBackfillEvents: number;
  };
  readonly upstream: {
    readonly connectTimeoutMs: number;
    readonly headersTimeoutMs: number;
    readonly bodyTimeoutMs: number;
    readonly maxAttempts: number;
    readonly connections: number;
  };
}

/** Every problem with the environment at once, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment; throws {@link ConfigError} listing every invalid or missing variable. */
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "unset" (as `PORT= npm start` intends), not "the empty string".
  const present = Object.fromEntries(
    Object.entries(environment).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  - ${issue.path.join('.')}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  }
  const env = parsed.data;
  return Object.freeze({
    homeserverUrl: env.MATRIX_HOMESERVER_URL,
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    graphiql: env.GRAPHIQL,
    cursorSecret: env.CURSOR_SECRET ?? null,
    operationDeadlineMs: env.OPERATION_DEADLINE_MS,
    sync: Object.freeze({
      pollTimeoutMs: env.SYNC_POLL_TIMEOUT_MS,
      gracePeriodMs: env.SYNC_GRACE_PERIOD_MS,
      maxBackfillEvents: env.SYNC_MAX_BACKFILL_EVENTS,
    }),
    upstream: Object.freeze({
      connectTimeoutMs: env.UPSTREAM_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: env.UPSTREAM_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: env.UPSTREAM_BODY_TIMEOUT_MS,
      maxAttempts: env.UPSTREAM_MAX_ATTEMPTS,
      connections: env.UPSTREAM_CONNECTIONS,
    }),
  });
}
