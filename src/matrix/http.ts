/**
 * The HTTP layer of the upstream client: one place that sends requests to the homeserver, applies
 * timeouts, retries, error parsing and logging. Endpoint modules describe requests; this sends them.
 */
import { Agent, type Dispatcher } from 'undici';
import { AcceptedTokens } from './accepted-tokens.ts';
import {
  ConnectionError,
  malformedResponse,
  parseErrorResponse,
  type UpstreamEndpoint,
} from './errors.ts';
import { KeyedLimiter } from './keyed-limiter.ts';
import {
  type CallOptions,
  type ClientOptions,
  MatrixClient,
  type MatrixRequest,
} from './matrix-client.ts';
import { queryString, redactQuery } from './paths.ts';
import { abortableSleep } from './policy.ts';
import { classifyTransportError, headerValue, isJsonObject, readBody } from './response-body.ts';
import { defaultRetryPolicy, type RetryPolicy, retryDelayMs } from './retry.ts';

/** The subset of a pino logger the client writes to. */
export interface UpstreamLogger {
  debug(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  /** Whether a line at `level` would be written (pino's): the request line is built only then. */
  isLevelEnabled?(level: string): boolean;
}

/**
 * What the client reports for metrics (src/server/metrics.ts): each try of a call, and each
 * retry. Called synchronously on the request path: it must be cheap and must not throw.
 */
export interface UpstreamObserver {
  /**
   * One try ended: answered with HTTP `status`, or failed without an answer (`status` is then
   * the failure: `timeout`, `connect`, `reset`, `too-large` or `aborted`). `path` is the
   * request's encoded path without the query.
   */
  request(method: string, path: string, status: number | string, seconds: number): void;
  /** A try failed with `error` and the call is about to be sent again. */
  retry(method: string, path: string, error: unknown): void;
}

export interface UpstreamTimeouts {
  /**
   * How long establishing a connection may take.
   * @default 5000
   */
  connectMs: number;
  /**
   * How long to wait for the response headers once the request is sent.
   * @default 20000
   */
  headersMs: number;
  /**
   * The longest pause allowed while the response body arrives.
   * @default 20000
   */
  bodyMs: number;
  /**
   * The most one try of a call may take in all, from sending to the last byte of the body. The
   * other timeouts only bound one wait each: a homeserver that drips a byte now and then never
   * trips them. Above the headers timeout, so that a silent homeserver is reported by that one,
   * and below the default operation deadline (60 s), so that a client is told the homeserver is
   * at fault rather than that its request took too long.
   * @default 30000
   */
  totalMs: number;
}

export const defaultTimeouts: UpstreamTimeouts = Object.freeze({
  connectMs: 5000,
  headersMs: 20_000,
  bodyMs: 20_000,
  totalMs: 30_000,
});

/**
 * The largest response body read by default: 64 MiB. Anything legitimate is far smaller except
 * the initial `/sync` of a very large account, and the facade's initial syncs are filtered down.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * Upstream calls one access token may have in flight at once by default: enough for a query's
 * parallel fields to overlap, few enough that one user cannot hold the whole shared pool.
 */
export const DEFAULT_PER_TOKEN_CONCURRENCY = 6;

/** Connections of a long-poll pool ({@link Upstream.longPollPool}) by default. */
export const DEFAULT_LONG_POLL_CONNECTIONS = 1024;

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
  /**
   * The largest response body accepted. A larger one fails with a `too-large`
   * {@link ConnectionError} as soon as it is known to be larger (from `Content-Length`, or
   * while counting), and the connection is closed rather than read to the end.
   * @default {@link DEFAULT_MAX_RESPONSE_BYTES}
   */
  maxResponseBytes?: number;
  /**
   * Upstream calls one access token may have in flight at once; further calls of that token
   * wait for one of them to end. `Infinity` for no cap. Anonymous calls are not capped.
   * @default {@link DEFAULT_PER_TOKEN_CONCURRENCY}
   */
  perTokenConcurrency?: number;
  logger?: UpstreamLogger;
  /** Told of every try and retry (metrics); shared with the upstreams made from this one. */
  observer?: UpstreamObserver;
}

/** Options of {@link Upstream.longPollPool}. */
export interface LongPollPoolOptions {
  /**
   * The most connections of the pool: one per long-poll held open (one per sync loop).
   * @default {@link DEFAULT_LONG_POLL_CONNECTIONS}
   */
  connections?: number;
  /**
   * The pool's retry policy, over this upstream's.
   * @default this upstream's
   */
  retry?: Partial<RetryPolicy>;
  /**
   * The largest response body accepted (a sync response can be larger than a query's).
   * @default this upstream's
   */
  maxResponseBytes?: number;
  /**
   * Sends the pool's requests (tests). Without it, the pool opens its own connections, unless
   * this upstream sends through an injected dispatcher, which the pool then shares.
   */
  dispatcher?: Dispatcher;
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
  readonly #observer: UpstreamObserver | undefined;
  readonly #maxResponseBytes: number;
  /** Shared with the upstreams made by {@link withRetryPolicy}, which share the pool. */
  #limiter: KeyedLimiter | null;
  /** Shared with every upstream made from this one: a token is good whichever pool it used. */
  #acceptedTokens = new AcceptedTokens();
  /** Long-poll pools made from this upstream, closed with it. */
  readonly #derived: Upstream[] = [];
  #requestCounter = 0;

  constructor(options: UpstreamOptions) {
    const url = new URL(options.homeserverUrl);
    this.homeserverUrl = options.homeserverUrl;
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#timeouts = { ...defaultTimeouts, ...options.timeouts };
    this.#retry = { ...defaultRetryPolicy, ...options.retry };
    this.#logger = options.logger;
    this.#observer = options.observer;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const perToken = options.perTokenConcurrency ?? DEFAULT_PER_TOKEN_CONCURRENCY;
    this.#limiter = perToken === Number.POSITIVE_INFINITY ? null : new KeyedLimiter(perToken);
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

  /** The tokens the homeserver accepted a moment ago (see accepted-tokens.ts). */
  get acceptedTokens(): AcceptedTokens {
    return this.#acceptedTokens;
  }

  /**
   * The same homeserver and connection pool with another retry policy, for callers that retry
   * in their own way (the sync loop). Closing it leaves the pool to this upstream.
   */
  withRetryPolicy(retry: Partial<RetryPolicy>): Upstream {
    const upstream = new Upstream({
      homeserverUrl: this.homeserverUrl,
      dispatcher: this.#dispatcher,
      timeouts: this.#timeouts,
      retry: { ...this.#retry, ...retry },
      maxResponseBytes: this.#maxResponseBytes,
      ...(this.#logger ? { logger: this.#logger } : {}),
      ...(this.#observer ? { observer: this.#observer } : {}),
    });
    // The same pool, so the same per-token cap: a token gets its share once, not once per copy.
    upstream.#limiter = this.#limiter;
    upstream.#acceptedTokens = this.#acceptedTokens;
    return upstream;
  }

  /**
   * The same homeserver through a connection pool of its own, for long-polls: each holds a
   * connection for as long as the homeserver keeps it open (the sync `timeout`), and in the
   * shared pool enough of them would leave queries waiting for a free connection. Same timeouts
   * and logger; its own per-token cap. Closing this upstream closes the pool too.
   */
  longPollPool(options: LongPollPoolOptions = {}): Upstream {
    const dispatcher = options.dispatcher ?? (this.#ownsDispatcher ? undefined : this.#dispatcher);
    const pool = new Upstream({
      homeserverUrl: this.homeserverUrl,
      timeouts: this.#timeouts,
      retry: { ...this.#retry, ...options.retry },
      connections: options.connections ?? DEFAULT_LONG_POLL_CONNECTIONS,
      maxResponseBytes: options.maxResponseBytes ?? this.#maxResponseBytes,
      perTokenConcurrency: this.#limiter?.limit ?? Number.POSITIVE_INFINITY,
      ...(dispatcher ? { dispatcher } : {}),
      ...(this.#logger ? { logger: this.#logger } : {}),
      ...(this.#observer ? { observer: this.#observer } : {}),
    });
    pool.#acceptedTokens = this.#acceptedTokens;
    this.#derived.push(pool);
    return pool;
  }

  /**
   * Closes the connections this upstream opened (not an injected dispatcher's), and those of
   * the long-poll pools made from it.
   */
  async close(): Promise<void> {
    await Promise.all(this.#derived.map((pool) => pool.close()));
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
    const limiter = request.anonymous || accessToken === null ? null : this.#limiter;
    const sendOnce = () => this.#sendOnce(request, accessToken, options.signal, options.requestId);
    let waitedMs = 0;
    for (let attempts = 1; ; attempts++) {
      try {
        // A slot per try, not per call: a call waiting out a backoff holds none.
        return (await (limiter === null || accessToken === null
          ? sendOnce()
          : limiter.run(accessToken, sendOnce, options.signal))) as T;
      } catch (error) {
        if (options.signal?.aborted) {
          throw options.signal.reason;
        }
        const delay = retryDelayMs(error, { attempts, idempotent, waitedMs }, this.#retry);
        if (delay === null) {
          throw error;
        }
        this.#observer?.retry(request.method, request.path, error);
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
    operationRequestId: string | undefined,
  ): Promise<unknown> {
    const path = this.#basePath + request.path + queryString(request.query ?? {});
    const endpoint: UpstreamEndpoint = { method: request.method, path: request.path };
    const headers: Record<string, string> = { accept: 'application/json' };
    if (!request.anonymous && accessToken !== null) {
      headers['authorization'] = `Bearer ${accessToken}`;
    }
    if (operationRequestId !== undefined) {
      // The operation's request ID, so that the homeserver's log lines can be matched to it.
      headers['x-request-id'] = operationRequestId;
    }
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] = 'application/json';
    }

    const requestId = ++this.#requestCounter;
    const started = performance.now();
    const logLine = (status: number | string): void => {
      const elapsedMs = performance.now() - started;
      this.#observer?.request(request.method, request.path, status, elapsedMs / 1000);
      if (this.#logger?.isLevelEnabled?.('debug') === false) {
        return;
      }
      this.#logger?.debug(
        {
          requestId,
          // The operation's X-Request-Id (pino leaves an undefined field out).
          operation: operationRequestId,
          method: request.method,
          path: redactQuery(path),
          status,
          durationMs: Math.round(elapsedMs),
        },
        'upstream request',
      );
    };

    // A signal that aborted while the call waited (for a slot, a retry) fires no event any more.
    signal?.throwIfAborted();
    // One signal for undici, aborted by the caller or by the total timeout (which then fails as
    // a timeout). Linked by hand rather than with AbortSignal.any: the caller's signal may be a
    // composite of a server framework's own request signal, and a composite of composites was
    // seen aborting here while the caller's own signal stayed unaborted.
    const call = new AbortController();
    let timedOut = false;
    const onCallerAbort = (): void => call.abort(signal?.reason);
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timer = setTimeout(
      () => {
        timedOut = true;
        call.abort(new Error('total upstream timeout'));
      },
      this.#timeouts.totalMs + (request.holdMs ?? 0),
    );
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
        signal: call.signal,
      });
      statusCode = response.statusCode;
      responseHeaders = response.headers;
      text = await readBody(response, this.#maxResponseBytes);
    } catch (error) {
      if (signal?.aborted) {
        logLine('aborted');
        throw signal.reason;
      }
      const failure = timedOut ? 'timeout' : classifyTransportError(error);
      logLine(failure);
      throw new ConnectionError(failure, endpoint, error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCallerAbort);
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
    const returns = request.returns ?? 'object';
    if (text === '' && returns === 'object') {
      return {};
    }
    const malformed = (problem: string) =>
      malformedResponse(endpoint, problem, { status: statusCode, bodySnippet: text.slice(0, 200) });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw malformed('not JSON');
    }
    if (returns === 'array' ? !Array.isArray(parsed) : !isJsonObject(parsed)) {
      throw malformed(`not a JSON ${returns}`);
    }
    return parsed;
  }
}
