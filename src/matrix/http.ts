/**
 * The HTTP layer of the upstream client: one place that sends requests to the homeserver, applies
 * timeouts, retries, error parsing and logging. Endpoint modules describe requests; this sends them.
 */
import { Agent, type Dispatcher } from 'undici';
import {
  ConnectionError,
  type ConnectionFailure,
  MatrixHttpError,
  parseErrorResponse,
  type UpstreamEndpoint,
} from './errors.ts';
import { type Query, queryString, redactQuery } from './paths.ts';
import { abortableSleep } from './policy.ts';
import { defaultRetryPolicy, type RetryPolicy, retryDelayMs } from './retry.ts';

/** The subset of a pino logger the client writes to. */
export interface UpstreamLogger {
  debug(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface UpstreamTimeouts {
  /**
   * How long establishing a connection may take.
   * @default 5000
   */
  connectMs: number;
  /**
   * How long to wait for the response headers once the request is sent.
   * @default 30000
   */
  headersMs: number;
  /**
   * The longest pause allowed while the response body arrives.
   * @default 30000
   */
  bodyMs: number;
}

export const defaultTimeouts: UpstreamTimeouts = Object.freeze({
  connectMs: 5000,
  headersMs: 30_000,
  bodyMs: 30_000,
});

export interface UpstreamOptions {
  /** The homeserver's base URL, e.g. `https://matrix.example.org`. */
  homeserverUrl: string;
  /**
   * Sends the requests. Tests inject their own (a `MockAgent`, or an agent counting calls).
   * @default a keep-alive undici Agent built from `timeouts.connectMs` and `connections`
   */
  dispatcher?: Dispatcher;
  /** @default {@link defaultTimeouts} */
  timeouts?: Partial<UpstreamTimeouts>;
  /** @default {@link defaultRetryPolicy} */
  retry?: Partial<RetryPolicy>;
  /**
   * The most connections kept open to the homeserver (ignored with an injected dispatcher).
   * @default 32
   */
  connections?: number;
  logger?: UpstreamLogger;
}

export interface MatrixRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The encoded path, from `clientPath` (no query). */
  path: string;
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * Whether sending this request twice has the same effect as once, which allows retrying it
   * after a 5xx or a broken connection.
   * @default true for GET, PUT and DELETE; false for POST
   */
  idempotent?: boolean;
  /**
   * Send without the caller's access token (login, public endpoints).
   * @default false
   */
  anonymous?: boolean;
  /** Overrides the headers timeout, e.g. for a long-polling `/sync`. */
  headersTimeoutMs?: number;
}

/** Per-call options every endpoint function accepts. */
export interface CallOptions {
  /** Aborting rejects the call with the signal's reason, untouched. */
  signal?: AbortSignal;
}

/** Options of {@link Upstream.client}. */
export interface ClientOptions {
  /**
   * Aborts every call of the client, on top of each call's own signal: bind the signal of what
   * the client serves, so that a GraphQL request whose client went away starts no more upstream
   * calls and stops those in flight.
   */
  signal?: AbortSignal;
}

/**
 * The connection to one homeserver, shared by every caller: dispatcher, timeouts, retry policy
 * and logging. It holds no token; {@link MatrixClient} binds one per caller.
 */
export class Upstream {
  readonly homeserverUrl: string;
  readonly #origin: string;
  readonly #basePath: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #timeouts: UpstreamTimeouts;
  readonly #retry: RetryPolicy;
  readonly #logger: UpstreamLogger | undefined;
  #requestCounter = 0;

  constructor(options: UpstreamOptions) {
    const url = new URL(options.homeserverUrl);
    this.homeserverUrl = options.homeserverUrl;
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#timeouts = { ...defaultTimeouts, ...options.timeouts };
    this.#retry = { ...defaultRetryPolicy, ...options.retry };
    this.#logger = options.logger;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connect: { timeout: this.#timeouts.connectMs },
        connections: options.connections ?? 32,
        keepAliveTimeout: 30_000,
      });
  }

  /**
   * A client acting as the owner of `accessToken` (or anonymously, with `null`). With a `signal`
   * (the GraphQL request's), every call of the client ends when it aborts, and none starts after.
   */
  client(accessToken: string | null, options: ClientOptions = {}): MatrixClient {
    return new MatrixClient(this, accessToken, options);
  }

  /**
   * The same homeserver and connection pool with another retry policy, for callers that retry
   * in their own way (the sync loop). Closing it leaves the pool to this upstream.
   */
  withRetryPolicy(retry: Partial<RetryPolicy>): Upstream {
    return new Upstream({
      homeserverUrl: this.homeserverUrl,
      dispatcher: this.#dispatcher,
      timeouts: this.#timeouts,
      retry: { ...this.#retry, ...retry },
      ...(this.#logger ? { logger: this.#logger } : {}),
    });
  }

  /** Closes the connections this upstream opened (not an injected dispatcher's). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) {
      await this.#dispatcher.close();
    }
  }

  /**
   * Sends `request`, retrying as the retry policy allows, and resolves with the parsed JSON body.
   * Rejects with a MatrixApiError, MatrixHttpError or ConnectionError, or the caller's abort reason.
   */
  async send<T>(
    request: MatrixRequest,
    accessToken: string | null,
    options: CallOptions = {},
  ): Promise<T> {
    // A caller who went away before the call starts gets no request sent on its behalf.
    options.signal?.throwIfAborted();
    const idempotent = request.idempotent ?? request.method !== 'POST';
    let waitedMs = 0;
    for (let attempts = 1; ; attempts++) {
      try {
        return (await this.#sendOnce(request, accessToken, options.signal)) as T;
      } catch (error) {
        if (options.signal?.aborted) {
          throw options.signal.reason;
        }
        const delay = retryDelayMs(error, { attempts, idempotent, waitedMs }, this.#retry);
        if (delay === null) {
          throw error;
        }
        this.#logger?.warn(
          { method: request.method, path: request.path, attempts, delayMs: delay },
          `upstream retry after ${(error as Error).message}`,
        );
        await abortableSleep(delay, options.signal);
        waitedMs += delay;
      }
    }
  }

  async #sendOnce(
    request: MatrixRequest,
    accessToken: string | null,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const path = this.#basePath + request.path + queryString(request.query ?? {});
    const endpoint: UpstreamEndpoint = { method: request.method, path: request.path };
    const headers: Record<string, string> = { accept: 'application/json' };
    if (!request.anonymous && accessToken !== null) {
      headers['authorization'] = `Bearer ${accessToken}`;
    }
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] = 'application/json';
    }

    const requestId = ++this.#requestCounter;
    const started = performance.now();
    const logLine = (status: number | string): void => {
      this.#logger?.debug(
        {
          requestId,
          method: request.method,
          path: redactQuery(path),
          status,
          durationMs: Math.round(performance.now() - started),
        },
        'upstream request',
      );
    };

    let statusCode: number;
    let responseHeaders: Dispatcher.ResponseData['headers'];
    let text: string;
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path,
        method: request.method,
        headers,
        body: body ?? null,
        headersTimeout: request.headersTimeoutMs ?? this.#timeouts.headersMs,
        bodyTimeout: this.#timeouts.bodyMs,
        signal: signal ?? null,
      });
      statusCode = response.statusCode;
      responseHeaders = response.headers;
      text = await response.body.text();
    } catch (error) {
      if (signal?.aborted) {
        logLine('aborted');
        throw signal.reason;
      }
      const failure = classifyTransportError(error);
      logLine(failure);
      throw new ConnectionError(failure, endpoint, error);
    }
    logLine(statusCode);

    if (statusCode < 200 || statusCode >= 300) {
      throw parseErrorResponse(
        statusCode,
        headerValue(responseHeaders['retry-after']),
        text,
        endpoint,
      );
    }
    if (text === '') {
      return {};
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new MatrixHttpError({
        status: statusCode,
        retryAfterMs: null,
        endpoint,
        bodySnippet: text.slice(0, 200),
      });
    }
  }
}

/**
 * The upstream as one caller: every request carries this caller's access token and nobody
 * else's. Created per GraphQL request (or per subscription), never shared between users.
 */
export class MatrixClient {
  readonly upstream: Upstream;
  readonly #accessToken: string | null;
  readonly #signal: AbortSignal | undefined;

  constructor(upstream: Upstream, accessToken: string | null, options: ClientOptions = {}) {
    this.upstream = upstream;
    this.#accessToken = accessToken;
    this.#signal = options.signal;
  }

  /** Whether this client carries a token (a missing one fails before any upstream call). */
  get authenticated(): boolean {
    return this.#accessToken !== null;
  }

  /**
   * The token itself, for keying per-user state such as the sync bridge's loops. Never log it:
   * `toJSON` leaves it out so a logged client cannot leak it.
   */
  get accessToken(): string | null {
    return this.#accessToken;
  }

  /** Sends `request` as this client; it aborts with the bound signal or the call's own. */
  send<T>(request: MatrixRequest, options: CallOptions = {}): Promise<T> {
    const signal = combineSignals(this.#signal, options.signal);
    return this.upstream.send<T>(
      request,
      this.#accessToken,
      signal ? { ...options, signal } : options,
    );
  }

  /** The token must never reach a log line through this object. */
  toJSON(): object {
    return { homeserverUrl: this.upstream.homeserverUrl, authenticated: this.authenticated };
  }
}

/**
 * One signal that aborts when either does; a lone signal is passed through as it is, so that the
 * common case (no bound signal) allocates nothing.
 */
function combineSignals(
  first: AbortSignal | undefined,
  second: AbortSignal | undefined,
): AbortSignal | undefined {
  if (first === undefined || second === undefined) {
    return first ?? second;
  }
  return AbortSignal.any([first, second]);
}

const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const connectCodes = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function classifyTransportError(error: unknown): ConnectionFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (timeoutCodes.has(code)) {
      return 'timeout';
    }
    if (connectCodes.has(code)) {
      return 'connect';
    }
  }
  return 'reset';
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
