/**
 * Yoga's logging, onto the facade's logger at the level each error deserves: client mistakes and
 * expected homeserver refusals are routine, load signals a warning, anything else an error.
 */
import { GraphQLError } from 'graphql';
import type { Logger } from '../logger.ts';
import { MatrixApiError } from '../matrix/errors.ts';
import { isRateLimited } from '../matrix/policy.ts';
import {
  DeadlineExceededError,
  MissingTokenError,
  UpstreamBudgetExceededError,
} from '../session/request-session.ts';

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * How loudly to log an error yoga reports (it reports every error its masking replaced, at error
 * level). What the client asked for wrongly, or the homeserver refused for good reason (a 4xx),
 * is routine: debug. Rate limits and deadlines say something about load: warn. Anything else
 * (the homeserver failing or unreachable, a bug) stays at error, with its stack.
 */
function logLevelOf(error: unknown): LogLevel {
  const cause = rootCause(error);
  if (cause instanceof GraphQLError || cause instanceof MissingTokenError) {
    return 'debug';
  }
  if (
    isRateLimited(cause) ||
    cause instanceof DeadlineExceededError ||
    // The cost model let through an operation that needed more: worth an operator's look.
    cause instanceof UpstreamBudgetExceededError
  ) {
    return 'warn';
  }
  if (cause instanceof MatrixApiError && cause.status < 500) {
    return 'debug';
  }
  return 'error';
}

/** What a GraphQL error wraps (a resolver's error, located by graphql-js), or the error itself. */
function rootCause(error: unknown): unknown {
  let cause = error;
  while (cause instanceof GraphQLError && cause.originalError != null) {
    cause = cause.originalError;
  }
  return cause;
}

/**
 * Yoga logs with console-style arguments; pino wants (fields, message). An error below error
 * level is logged without its stack: one line per refusal, however many a request causes.
 */
export function toYogaLogger(logger: Logger) {
  const forward =
    (level: LogLevel) =>
    (...args: unknown[]): void => {
      // Yoga logs at debug several times a request, some of it objects: format nothing that
      // pino would drop anyway. An error may log at another level than it arrived with, below.
      if (level !== 'error' && !logger.isLevelEnabled(level)) {
        return;
      }
      const [first, ...rest] = args;
      if (first instanceof Error) {
        const message = rest.map(String).join(' ') || first.message;
        const errorLevel = level === 'error' ? logLevelOf(first) : level;
        if (errorLevel === 'error') {
          logger.error({ err: first }, message);
        } else {
          const cause = rootCause(first);
          logger[errorLevel]({ error: summary(cause instanceof Error ? cause : first) }, message);
        }
      } else {
        logger[level](
          [first, ...rest]
            .map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg)))
            .join(' '),
        );
      }
    };
  return {
    debug: forward('debug'),
    info: forward('info'),
    warn: forward('warn'),
    error: forward('error'),
  };
}

/** An error in one line's worth of fields: no stack, and a Matrix error's status and errcode. */
function summary(error: Error): Record<string, unknown> {
  return {
    name: error.name,
    message: error.message,
    ...(error instanceof MatrixApiError ? { status: error.status, errcode: error.errcode } : {}),
  };
}
