/**
 * Everything one GraphQL operation works with: who is asking, the caches it may use, and the
 * signal that ends it. Built once per request by the server (`src/server/context.ts`) and handed
 * to resolvers on the context; nothing of it is shared with another request.
 */
import type { Whoami } from '../matrix/account.ts';
import type { MatrixClient, Upstream } from '../matrix/http.ts';
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
}

export class RequestSession {
  /** Aborted when the client goes away or the operation's deadline passes. */
  readonly signal: AbortSignal;
  /** A client without a token, for the calls made before the caller has one (`login`). */
  readonly anonymous: MatrixClient;
  readonly #viewer: Viewer | null;
  readonly #deadline = new AbortController();
  #deadlineTimer: ReturnType<typeof setTimeout> | null = null;
  #loaders: RequestLoaders | null = null;

  constructor(options: RequestSessionOptions) {
    this.signal = AbortSignal.any([options.signal, this.#deadline.signal]);
    const bound = { signal: this.signal };
    this.anonymous = options.upstream.client(null, bound);
    const knownViewer = options.knownViewer ?? null;
    this.#viewer =
      options.accessToken === null
        ? null
        : new Viewer(
            options.upstream.client(options.accessToken, {
              ...bound,
              // A token nobody has checked yet: its first call goes out alone, so that a refused
              // token costs the request one upstream call, not one per field; after a refusal,
              // the client starts no more (every call fails with the same error).
              awaitFirstAnswer: knownViewer === null,
            }),
            options.accessToken,
            knownViewer,
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
  }

  /**
   * Starts the operation's deadline: when `ms` pass before {@link endDeadline}, every upstream
   * call still running aborts with {@link DeadlineExceededError}. Subscriptions have none: they
   * last as long as the client wants, and each pushed event is a short operation of its own.
   */
  startDeadline(ms: number): void {
    this.endDeadline();
    this.#deadlineTimer = setTimeout(() => this.#deadline.abort(new DeadlineExceededError(ms)), ms);
    this.#deadlineTimer.unref();
  }

  endDeadline(): void {
    if (this.#deadlineTimer !== null) {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = null;
    }
  }
}
