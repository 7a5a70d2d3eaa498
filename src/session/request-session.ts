/**
 * Everything one GraphQL operation works with: who is asking, the caches it may use, and the
 * signal that ends it. Built once per request by the server (`src/server/context.ts`) and handed
 * to resolvers on the context; nothing of it is shared with another request.
 */
import type { Whoami } from '../matrix/account.ts';
import type { Upstream } from '../matrix/http.ts';
import {
  type CallOptions,
  type ClientOptions,
  MatrixClient,
  type MatrixRequest,
} from '../matrix/matrix-client.ts';
import type { DeliveryTrace } from '../sync/sync-hub.ts';
import { RequestLoaders } from './request-loaders.ts';
import { Viewer } from './viewer.ts';

/** A resolver needed the caller's identity, and the request carried no bearer token. */
export class MissingTokenError extends Error {
  override readonly name = 'MissingTokenError';
  constructor() {
    super('An access token is required: send it as "Authorization: Bearer <token>".');
  }
}

/** The operation ran past its deadline; every upstream call it still had was aborted. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  readonly deadlineMs: number;
  constructor(deadlineMs: number) {
    super(`The request took longer than the ${deadlineMs} ms the server allows.`);
    this.deadlineMs = deadlineMs;
  }
}

/**
 * The operation (or, for a subscription, the pushed event) already started as many upstream
 * calls as it may: this one was not sent.
 */
export class UpstreamBudgetExceededError extends Error {
  override readonly name = 'UpstreamBudgetExceededError';
  readonly limit: number;
  constructor(limit: number) {
    super(`The request needs more than the ${limit} upstream calls the server allows for one.`);
    this.limit = limit;
  }
}

/** How many upstream calls may still start; shared by the session's clients. */
class UpstreamBudget {
  limit = Number.POSITIVE_INFINITY;
  started = 0;
  /** Every call the session started, whatever the budget was reset to in between (logs). */
  total = 0;

  /** Takes one call, or throws {@link UpstreamBudgetExceededError} when none is left. */
  take(): void {
    if (this.started >= this.limit) {
      throw new UpstreamBudgetExceededError(this.limit);
    }
    this.started++;
    this.total++;
  }
}

/**
 * The operation a session serves, as the server identifies it: its request ID goes upstream with
 * every call (`X-Request-Id`), and a subscription's stream notes there what it hands out.
 */
export interface RequestTrace extends DeliveryTrace {
  readonly requestId: string;
}

/**
 * A client whose every call takes one from its request's budget first: past the budget, a call
 * fails at once and nothing is sent. A call counts once however often it is retried.
 */
class BudgetedClient extends MatrixClient {
  readonly #budget: UpstreamBudget;
  readonly #onTouch: (() => void | Promise<void>) | undefined;

  constructor(
    upstream: Upstream,
    accessToken: string | null,
    options: ClientOptions,
    budget: UpstreamBudget,
    onTouch?: () => void | Promise<void>,
  ) {
    super(upstream, accessToken, options);
    this.#budget = budget;
    this.#onTouch = onTouch;
  }

  override async send<T>(request: MatrixRequest, options?: CallOptions): Promise<T> {
    this.#budget.take();
    if (this.#onTouch === undefined || request.touchesRooms === false) {
      return super.send<T>(request, options);
    }
    try {
      return await super.send<T>(request, options);
    } finally {
      // Failed or not, a write may have happened (a timeout after the homeserver acted). In
      // cluster mode this waits (bounded) until the other instances can know of it.
      await this.#onTouch();
    }
  }
}

export interface RequestSessionOptions {
  upstream: Upstream;
  /** The bearer token of the request; `null` when it had none. */
  accessToken: string | null;
  /**
   * Aborts when the client goes away (the HTTP request closes, the websocket subscription ends):
   * every upstream call of the session aborts with it, and none starts after.
   */
  signal: AbortSignal;
  /** Who the token belongs to, when the transport already asked (graphql-ws `connection_init`). */
  knownViewer?: Whoami | null;
  /** The operation the session serves (request ID, delivery metrics); none in unit tests. */
  trace?: RequestTrace | undefined;
  /**
   * Told after each call of the token's that wrote or read its rooms ends (every call but those
   * marked `touchesRooms: false`), with the token: a warm room view (src/sync/warm-views.ts) then
   * waits for its stream to pass the call, since the call saw or made a state the stream may not
   * have brought yet.
   */
  onRoomsTouched?: ((accessToken: string) => void | Promise<void>) | undefined;
}

export class RequestSession {
  /** Aborted when the client goes away or the operation's deadline passes. */
  readonly signal: AbortSignal;
  /** A client without a token, for the calls made before the caller has one (`login`). */
  readonly anonymous: MatrixClient;
  readonly #viewer: Viewer | null;
  /** Aborted by the transport's signal (the client went away) or by the deadline. */
  readonly #lifetime = new AbortController();
  readonly #budget = new UpstreamBudget();
  #budgetPerEvent = false;
  #deadlineTimer: ReturnType<typeof setTimeout> | null = null;
  #loaders: RequestLoaders | null = null;

  constructor(options: RequestSessionOptions) {
    // Linked by hand rather than with AbortSignal.any: one controller per request is cheaper,
    // and the transport's signal lives exactly as long as the session anyway.
    this.signal = this.#lifetime.signal;
    const outer = options.signal;
    if (outer.aborted) {
      this.#lifetime.abort(outer.reason);
    } else {
      outer.addEventListener('abort', () => this.#lifetime.abort(outer.reason), { once: true });
    }
    const trace = options.trace;
    const bound: ClientOptions =
      trace === undefined
        ? { signal: this.signal }
        : { signal: this.signal, requestId: trace.requestId };
    this.anonymous = new BudgetedClient(options.upstream, null, bound, this.#budget);
    const knownViewer = options.knownViewer ?? null;
    this.#viewer =
      options.accessToken === null
        ? null
        : new Viewer(
            new BudgetedClient(
              options.upstream,
              options.accessToken,
              {
                ...bound,
                // A token nobody has checked yet: its first call goes out alone, so that a
                // refused token costs the request one upstream call, not one per field; after a
                // refusal, the client starts no more (every call fails with the same error). A
                // token the homeserver accepted a moment ago goes without (accepted-tokens.ts).
                awaitFirstAnswer:
                  knownViewer === null &&
                  !options.upstream.acceptedTokens.isRecentlyAccepted(options.accessToken),
              },
              this.#budget,
              options.onRoomsTouched === undefined
                ? undefined
                : () => options.onRoomsTouched?.(options.accessToken as string),
            ),
            options.accessToken,
            knownViewer,
            trace,
          );
  }

  /** Whether the request carried a token (checking costs nothing upstream). */
  get authenticated(): boolean {
    return this.#viewer !== null;
  }

  /** The caller; {@link MissingTokenError} (before any upstream call) without a token. */
  get viewer(): Viewer {
    if (this.#viewer === null) {
      throw new MissingTokenError();
    }
    return this.#viewer;
  }

  /** This request's caches and batches, made on first use. */
  get loaders(): RequestLoaders {
    this.#loaders ??= new RequestLoaders(this.viewer);
    return this.#loaders;
  }

  /**
   * Drops everything cached so far: after a write (read-your-writes: the payload reads the room
   * as it is now), and before each event a subscription resolves (its session lives for many).
   */
  invalidate(): void {
    this.#loaders = null;
    if (this.#budgetPerEvent) {
      this.#budget.started = 0;
    }
  }

  /** How many upstream calls the session started (since the last event, for a subscription). */
  get upstreamCalls(): number {
    return this.#budget.started;
  }

  /** How many upstream calls the session started in all, every event of a subscription included. */
  get totalUpstreamCalls(): number {
    return this.#budget.total;
  }

  /**
   * Caps the upstream calls the session may start: past `limit`, a call fails at once with
   * {@link UpstreamBudgetExceededError} and nothing more is sent. `per: 'event'` (subscriptions)
   * starts a new budget each time the session is invalidated, which the subscription resolvers
   * do before each pushed event: each event is a short operation of its own, as with the
   * deadline. A query's or mutation's budget covers the whole operation, its writes'
   * invalidations included.
   */
  limitUpstreamCalls(limit: number, per: 'operation' | 'event'): void {
    this.#budget.limit = limit;
    this.#budgetPerEvent = per === 'event';
  }

  /**
   * Starts the operation's deadline: when `ms` pass before {@link endDeadline}, every upstream
   * call still running aborts with {@link DeadlineExceededError}. Subscriptions have none: they
   * last as long as the client wants, and each pushed event is a short operation of its own.
   */
  startDeadline(ms: number): void {
    this.endDeadline();
    this.#deadlineTimer = setTimeout(() => this.#lifetime.abort(new DeadlineExceededError(ms)), ms);
    this.#deadlineTimer.unref();
  }

  endDeadline(): void {
    if (this.#deadlineTimer !== null) {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = null;
    }
  }
}
