/**
 * The upstream as one caller (`Upstream.client(token)`): a token, a lifetime, and the rule that a
 * refused token stops every later call of the caller.
 */
import { MatrixApiError } from './errors.ts';
import type { Upstream } from './http.ts';
import type { Query } from './paths.ts';
import { isTokenRefused } from './policy.ts';

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
   * Whether the request changes or shows the user's rooms (nearly every one does; not `whoami`):
   * after one, a warm room view waits for its stream to pass it before answering again, so that
   * an answer never goes back from what this one wrote or saw (src/sync/warm-views.ts).
   * @default true
   */
  touchesRooms?: boolean;
  /**
   * Send without the caller's access token (login, public endpoints).
   * @default false
   */
  anonymous?: boolean;
  /** Overrides the headers timeout, e.g. for a long-polling `/sync`. */
  headersTimeoutMs?: number;
  /**
   * How long the homeserver may hold this request on purpose before answering (a long-poll's
   * `timeout`): added to the total timeout.
   * @default 0
   */
  holdMs?: number;
  /**
   * What the body of a success is: a JSON object (nearly every endpoint) or an array
   * (`GET /rooms/{roomId}/state`). Anything else fails as a malformed response.
   * @default 'object'
   */
  returns?: 'object' | 'array';
}

/** Per-call options every endpoint function accepts. */
export interface CallOptions {
  /** Aborting rejects the call with the signal's reason, untouched. */
  signal?: AbortSignal;
  /**
   * Sent as `X-Request-Id`: the GraphQL operation the call serves, so that the homeserver's log
   * lines can be matched to the facade's.
   */
  requestId?: string;
}

/** Options of {@link Upstream.client}. */
export interface ClientOptions {
  /**
   * Aborts every call of the client, on top of each call's own signal: bind the signal of what
   * the client serves, so that a GraphQL request whose client went away starts no more upstream
   * calls and stops those in flight.
   */
  signal?: AbortSignal;
  /**
   * Until the homeserver has answered one call of this client, further calls wait for that
   * answer instead of going out alongside it: a request whose token turns out to be refused
   * then costs one upstream call, not one per field. Once it has answered, calls go out freely.
   * The price is one round trip before a request's parallel calls start; a caller that already
   * knows the token is valid leaves this off.
   * @default false
   */
  awaitFirstAnswer?: boolean;
  /** Sent with every call of the client as `X-Request-Id` (see {@link CallOptions.requestId}). */
  requestId?: string;
}

/**
 * The upstream as one caller: every request carries this caller's access token and nobody
 * else's. Created per GraphQL request (or per subscription), never shared between users.
 */
export class MatrixClient {
  readonly upstream: Upstream;
  readonly #accessToken: string | null;
  readonly #signal: AbortSignal | undefined;
  readonly #requestId: string | undefined;
  /** The homeserver's refusal of the token, once it said so: every later call fails with it. */
  #refusal: MatrixApiError | null = null;
  /** Whether the next call goes out alone, the others waiting for its answer. */
  #awaitFirstAnswer: boolean;
  /** Settles when the call that went out alone has been answered (whatever the answer). */
  #firstAnswer: Promise<void> | null = null;

  constructor(upstream: Upstream, accessToken: string | null, options: ClientOptions = {}) {
    this.upstream = upstream;
    this.#accessToken = accessToken;
    this.#signal = options.signal;
    this.#requestId = options.requestId;
    this.#awaitFirstAnswer = accessToken !== null && options.awaitFirstAnswer === true;
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

  /**
   * Whether a call sent now would go out alongside others, rather than wait for the answer to
   * the token's first call ({@link ClientOptions.awaitFirstAnswer}): callers that could start
   * work early (a prefetch) only gain from it then.
   */
  get sendsInParallel(): boolean {
    return !this.#awaitFirstAnswer && this.#firstAnswer === null;
  }

  /** The homeserver's refusal of this client's token, once a call met it; `null` until then. */
  get refusal(): MatrixApiError | null {
    return this.#refusal;
  }

  /**
   * Sends `request` as this client; it aborts with the bound signal or the call's own. Once the
   * homeserver has refused the token (401 `M_UNKNOWN_TOKEN` or `M_MISSING_TOKEN`), no call of
   * this client goes out any more: each fails at once with that same error.
   */
  async send<T>(request: MatrixRequest, options: CallOptions = {}): Promise<T> {
    const signal = combineSignals(this.#signal, options.signal);
    if (request.anonymous) {
      return this.#sendNow<T>(request, signal);
    }
    while (this.#firstAnswer !== null) {
      await settledOrAborted(this.#firstAnswer, signal);
    }
    if (this.#refusal !== null) {
      throw this.#refusal;
    }
    const call = this.#sendNow<T>(request, signal);
    if (this.#awaitFirstAnswer) {
      this.#awaitFirstAnswer = false;
      // Cleared before anyone waiting on it resumes: they then go out freely (or fail with the
      // refusal the answer brought).
      const cleared = (): void => {
        this.#firstAnswer = null;
      };
      this.#firstAnswer = call.then(cleared, cleared);
    }
    return call;
  }

  async #sendNow<T>(request: MatrixRequest, signal: AbortSignal | undefined): Promise<T> {
    const token = request.anonymous ? null : this.#accessToken;
    try {
      const answer = await this.upstream.send<T>(request, token, this.#callOptions(signal));
      if (token !== null) {
        this.upstream.acceptedTokens.accepted(token);
      }
      return answer;
    } catch (error) {
      if (token !== null && isTokenRefused(error)) {
        this.#refusal ??= error;
        this.upstream.acceptedTokens.refused(token);
      } else if (token !== null && error instanceof MatrixApiError) {
        // Refused for another reason (403, 404, 429…): the token itself was accepted.
        this.upstream.acceptedTokens.accepted(token);
      }
      throw error;
    }
  }

  #callOptions(signal: AbortSignal | undefined): CallOptions {
    const requestId = this.#requestId;
    if (requestId === undefined) {
      return signal ? { signal } : {};
    }
    return signal ? { signal, requestId } : { requestId };
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

/**
 * Resolves when `promise` settles, or rejects with `signal.reason` as soon as `signal` aborts:
 * a caller waiting on another call's answer is not kept waiting once it went away.
 */
function settledOrAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) {
    return promise;
  }
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
