/**
 * The three ways an upstream call fails. None of them is a GraphQLError: whatever the schema layer
 * does not map explicitly stays masked by yoga.
 */

/** Where a failed call went: method and path, query stripped (paths carry no secrets). */
export interface UpstreamEndpoint {
  readonly method: string;
  readonly path: string;
}

/** The homeserver answered with a Matrix JSON error (`{"errcode": …, "error": …}`). */
export class MatrixApiError extends Error {
  override readonly name = 'MatrixApiError';
  readonly status: number;
  /** The Matrix error code, e.g. `M_FORBIDDEN`. */
  readonly errcode: string;
  /** The homeserver's human-readable explanation, as sent. */
  readonly error: string;
  /** How long the homeserver asked us to wait before retrying, when it did. */
  readonly retryAfterMs: number | null;
  readonly endpoint: UpstreamEndpoint;
  /** The whole error body, for fields specific to one errcode (e.g. `soft_logout`). */
  readonly body: Readonly<Record<string, unknown>>;

  constructor(init: {
    status: number;
    errcode: string;
    error: string;
    retryAfterMs: number | null;
    endpoint: UpstreamEndpoint;
    body: Record<string, unknown>;
  }) {
    super(`${init.errcode} (HTTP ${init.status}): ${init.error}`);
    this.status = init.status;
    this.errcode = init.errcode;
    this.error = init.error;
    this.retryAfterMs = init.retryAfterMs;
    this.endpoint = init.endpoint;
    this.body = init.body;
  }

  /** Rate limited: 429, or `M_LIMIT_EXCEEDED` whatever the status. */
  get isRateLimit(): boolean {
    return this.status === 429 || this.errcode === 'M_LIMIT_EXCEEDED';
  }
}

/**
 * The homeserver (or something in front of it) answered something the Matrix API does not allow:
 * an error that is not Matrix JSON, or a success whose body is malformed (not JSON, not the
 * object or array the endpoint returns, a required field missing). Either way the answer is
 * unusable, like a failure of the homeserver.
 */
export class MatrixHttpError extends Error {
  override readonly name = 'MatrixHttpError';
  readonly status: number;
  readonly retryAfterMs: number | null;
  readonly endpoint: UpstreamEndpoint;
  /** The first bytes of the body, for logs. */
  readonly bodySnippet: string;
  /**
   * What was wrong with a success response's body (e.g. `next_batch is not a string`); `null`
   * for an error response.
   */
  readonly malformed: string | null;
  /**
   * The error body when it is a JSON object without `errcode`: user-interactive authentication
   * answers its first 401 so (`flows`, `session`, `params`; spec `auth_response.yaml`). `null`
   * otherwise.
   */
  readonly body: Readonly<Record<string, unknown>> | null;

  constructor(init: {
    status: number;
    retryAfterMs: number | null;
    endpoint: UpstreamEndpoint;
    bodySnippet: string;
    malformed?: string;
    body?: Record<string, unknown>;
  }) {
    super(
      init.malformed === undefined
        ? `HTTP ${init.status} from the homeserver (not a Matrix error body)`
        : `malformed HTTP ${init.status} response from the homeserver: ${init.malformed}`,
    );
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.endpoint = init.endpoint;
    this.bodySnippet = init.bodySnippet;
    this.malformed = init.malformed ?? null;
    this.body = init.body ?? null;
  }
}

/**
 * A success response whose body is not what `endpoint` returns: an upstream failure like any
 * other (the schema maps it to UPSTREAM_UNAVAILABLE), never data read as if it were valid.
 */
export function malformedResponse(
  endpoint: UpstreamEndpoint,
  problem: string,
  { status = 200, bodySnippet = '' }: { status?: number; bodySnippet?: string } = {},
): MatrixHttpError {
  return new MatrixHttpError({
    status,
    retryAfterMs: null,
    endpoint,
    bodySnippet,
    malformed: problem,
  });
}

/** What kind of transport failure a {@link ConnectionError} is. */
export type ConnectionFailure =
  /** No connection could be made: refused, unreachable, or the connect timeout passed. */
  | 'connect'
  /** An established connection broke: reset, closed early, or the body was cut short. */
  | 'reset'
  /** The homeserver took longer than the headers, body or total timeout allowed. */
  | 'timeout'
  /**
   * The response was larger than the upstream accepts (`maxResponseBytes`): the connection was
   * closed without reading the rest.
   */
  | 'too-large';

/** The homeserver could not be reached, or did not answer in time. `cause` keeps the original. */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  readonly failure: ConnectionFailure;
  readonly endpoint: UpstreamEndpoint;

  constructor(failure: ConnectionFailure, endpoint: UpstreamEndpoint, cause: unknown) {
    super(`upstream ${failure} failure on ${endpoint.method} ${endpoint.path}`, { cause });
    this.failure = failure;
    this.endpoint = endpoint;
  }
}

export type UpstreamError = MatrixApiError | MatrixHttpError | ConnectionError;

export function isUpstreamError(error: unknown): error is UpstreamError {
  return (
    error instanceof MatrixApiError ||
    error instanceof MatrixHttpError ||
    error instanceof ConnectionError
  );
}

/**
 * The HTTP status the homeserver (or a proxy before it) answered with; `null` for a transport
 * failure or any error that is not an upstream answer.
 */
export function upstreamStatus(error: unknown): number | null {
  return error instanceof MatrixApiError || error instanceof MatrixHttpError ? error.status : null;
}

/**
 * Turns an error response into {@link MatrixApiError} when the body is a Matrix error object, else
 * {@link MatrixHttpError}. The `Retry-After` header wins over the body's `retry_after_ms`, which the
 * spec deprecates (v1.10) in its favour.
 */
export function parseErrorResponse(
  status: number,
  retryAfterHeader: string | undefined,
  bodyText: string,
  endpoint: UpstreamEndpoint,
  now = Date.now(),
): MatrixApiError | MatrixHttpError {
  const headerDelay = parseRetryAfterHeader(retryAfterHeader, now);
  const body = parseJsonObject(bodyText);
  if (body !== null && typeof body['errcode'] === 'string') {
    const bodyDelay = body['retry_after_ms'];
    return new MatrixApiError({
      status,
      errcode: body['errcode'],
      error: typeof body['error'] === 'string' ? body['error'] : '',
      retryAfterMs:
        headerDelay ??
        (typeof bodyDelay === 'number' && Number.isFinite(bodyDelay) && bodyDelay >= 0
          ? bodyDelay
          : null),
      endpoint,
      body,
    });
  }
  return new MatrixHttpError({
    status,
    retryAfterMs: headerDelay,
    endpoint,
    bodySnippet: bodyText.slice(0, 200),
    ...(body === null ? {} : { body }),
  });
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfterHeader(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined || value.trim() === '') {
    return null;
  }
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    return Number(trimmed) * 1000;
  }
  // Every HTTP-date form begins with a day name. Date.parse alone is far too lenient: it reads
  // `1.5` or `-1` as dates in 2001, which would turn an invalid header into a zero delay that
  // overrides the body's `retry_after_ms`.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/i.test(trimmed)) {
    return null;
  }
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
