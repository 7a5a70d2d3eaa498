/**
 * The errors clients see. Each has a stable `extensions.code`; upstream Matrix errors also keep
 * their `errcode` and HTTP status under `extensions.matrix`. Anything not listed here stays masked
 * by yoga as INTERNAL_SERVER_ERROR.
 */
import { GraphQLError, type GraphQLErrorExtensions, type GraphQLErrorOptions } from 'graphql';
import {
  ConnectionError,
  MatrixApiError,
  MatrixHttpError,
  type UpstreamError,
} from '../matrix/errors.ts';
import { isRateLimited } from '../matrix/policy.ts';
import { DeadlineExceededError, MissingTokenError } from '../session/request-session.ts';

/** The values of `extensions.code`: part of the public API, never renamed. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'RATE_LIMITED'
  | 'UPSTREAM_UNAVAILABLE'
  /** The query or mutation ran past `OPERATION_DEADLINE_MS`; its upstream calls were aborted. */
  | 'DEADLINE_EXCEEDED'
  /** A graphql-ws connection already runs as many operations as it may. */
  | 'TOO_MANY_OPERATIONS'
  /**
   * The operation would cost more upstream calls than `MAX_COST` allows (`extensions.cost`,
   * `extensions.limit`); refused before it ran.
   */
  | 'QUERY_TOO_EXPENSIVE'
  /** The operation started `MAX_UPSTREAM_CALLS_PER_REQUEST` upstream calls; no more were sent. */
  | 'UPSTREAM_BUDGET_EXCEEDED'
  /** The token already has as many live subscriptions (every connection) as it may. */
  | 'TOO_MANY_SUBSCRIPTIONS'
  /** A subscription's client fell a whole queue behind on updates it may not lose; it ended. */
  | 'SUBSCRIPTION_OVERFLOW'
  /** `roomList`: the server keeps no warm room view for the viewer (budget, cluster mode). */
  | 'ROOM_LIST_UNAVAILABLE';

/**
 * The codes of refusals made before execution, as yoga names them (the request's document, body
 * or headers): also public, documented in the README's errors table.
 */
export type RequestErrorCode =
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'REQUEST_ENTITY_TOO_LARGE'
  | 'OPERATION_RESOLUTION_FAILURE'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PERSISTED_QUERY_ONLY'
  | 'PERSISTED_QUERY_ID_REQUIRED';

declare module 'graphql' {
  interface GraphQLErrorExtensions {
    code?: ErrorCode | RequestErrorCode | 'INTERNAL_SERVER_ERROR';
    /** The homeserver's own verdict, when the error came from it. */
    matrix?: { errcode?: string; status?: number };
    /** With RATE_LIMITED: how long to wait before trying again, when the homeserver said. */
    retryAfterMs?: number;
  }
}

/** The client-facing error for `code`, carrying any extra extensions given. */
export function facadeError(
  code: ErrorCode,
  message: string,
  options: Omit<GraphQLErrorOptions, 'extensions'> & {
    extensions?: GraphQLErrorOptions['extensions'];
  } = {},
): GraphQLError {
  return new GraphQLError(message, { ...options, extensions: { ...options.extensions, code } });
}

/** A failure of the request's session rather than of the homeserver. */
export type SessionError = MissingTokenError | DeadlineExceededError;

export function isSessionError(error: unknown): error is SessionError {
  return error instanceof MissingTokenError || error instanceof DeadlineExceededError;
}

/**
 * The client-facing form of what the resolvers let propagate: upstream failures and the session's
 * own (no token, deadline passed). Called from yoga's error masking, the one place they are
 * mapped.
 */
export function toClientError(
  error: UpstreamError | SessionError,
  options: Omit<GraphQLErrorOptions, 'extensions' | 'originalError'> = {},
): GraphQLError {
  if (error instanceof MissingTokenError) {
    return facadeError('UNAUTHENTICATED', error.message, { ...options, originalError: error });
  }
  if (error instanceof DeadlineExceededError) {
    return facadeError('DEADLINE_EXCEEDED', error.message, { ...options, originalError: error });
  }
  return upstreamErrorToGraphQL(error, options);
}

/**
 * The client-facing form of an upstream failure. The message is the homeserver's own explanation
 * for Matrix errors (meant for users), and a fixed sentence for transport failures: no URL, token
 * or raw body ever reaches the client.
 */
function upstreamErrorToGraphQL(
  error: UpstreamError,
  options: Omit<GraphQLErrorOptions, 'extensions' | 'originalError'> = {},
): GraphQLError {
  const withCode = (code: ErrorCode, message: string, extensions: GraphQLErrorExtensions = {}) =>
    facadeError(code, message, { ...options, originalError: error, extensions });

  if (error instanceof ConnectionError) {
    return withCode(
      'UPSTREAM_UNAVAILABLE',
      error.failure === 'timeout'
        ? 'The homeserver did not answer in time.'
        : 'The homeserver could not be reached.',
    );
  }
  const matrix =
    error instanceof MatrixApiError
      ? { errcode: error.errcode, status: error.status }
      : { status: error.status };
  if (isRateLimited(error)) {
    return withCode('RATE_LIMITED', 'Too many requests to the homeserver; try again later.', {
      matrix,
      ...(error.retryAfterMs === null ? {} : { retryAfterMs: error.retryAfterMs }),
    });
  }
  if (error instanceof MatrixHttpError || error.status >= 500) {
    return withCode('UPSTREAM_UNAVAILABLE', 'The homeserver failed to answer the request.', {
      matrix,
    });
  }
  const message = error.error || `The homeserver refused the request (${error.errcode}).`;
  return withCode(codeForMatrixError(error), message, { matrix });
}

function codeForMatrixError(error: MatrixApiError): ErrorCode {
  if (error.status === 401 || error.errcode === 'M_UNKNOWN_TOKEN') {
    return 'UNAUTHENTICATED';
  }
  if (error.status === 403) {
    // Includes M_BAD_STATE, which Synapse answers for a banned user's join (see synapse-notes).
    return 'FORBIDDEN';
  }
  if (error.status === 404 || error.errcode === 'M_NOT_FOUND') {
    return 'NOT_FOUND';
  }
  return 'BAD_USER_INPUT';
}
