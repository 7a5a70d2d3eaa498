/** The yoga instance: schema, context, error masking, GraphiQL and the health check. */
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from '../logger.ts';
import { isUpstreamError } from '../matrix/errors.ts';
import type { Context } from '../schema/builder.ts';
import { isSessionError, toClientError } from '../schema/errors.ts';
import { schema } from '../schema/index.ts';
import { createContextFactory, type SharedContext } from './context.ts';

export interface YogaOptions {
  /** The server-wide parts of every request's context. */
  shared: SharedContext;
  logger: Logger;
  /** How long a query or mutation may run before its upstream calls are aborted. */
  operationDeadlineMs: number;
  /** @default true */
  graphiql?: boolean;
}

export type FacadeYoga = YogaServerInstance<Record<string, unknown>, Context>;

export function createFacadeYoga(options: YogaOptions): FacadeYoga {
  return createYoga<Record<string, unknown>, Context>({
    schema,
    context: createContextFactory(options.shared),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    graphiql: options.graphiql ?? true,
    logging: toYogaLogger(options.logger),
    plugins: [useOperationDeadline(options.operationDeadlineMs)],
    maskedErrors: {
      // Upstream failures thrown by resolvers become coded client errors here, in one place;
      // everything else unexpected keeps yoga's masking ("Unexpected error.").
      maskError(error, message, isDev) {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (isUpstreamError(original) || isSessionError(original)) {
          const located = error instanceof GraphQLError ? error : undefined;
          return toClientError(original, {
            ...(located?.nodes ? { nodes: located.nodes } : {}),
            ...(located?.source ? { source: located.source } : {}),
            ...(located?.positions ? { positions: located.positions } : {}),
            ...(located?.path ? { path: located.path } : {}),
          });
        }
        if (isRequestInputError(error)) {
          return new GraphQLError(error.message, {
            ...(error.nodes ? { nodes: error.nodes } : {}),
            ...(error.source ? { source: error.source } : {}),
            ...(error.positions ? { positions: error.positions } : {}),
            // Keeps yoga's `http` extension (status 400).
            extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
          });
        }
        return maskError(error, message, isDev);
      },
    },
  });
}

/**
 * Every query and mutation gets the same time to finish; past it, the session aborts what it still
 * has running upstream. Subscriptions have none: they last as long as their client wants.
 */
function useOperationDeadline(ms: number): Plugin<Context> {
  return {
    onExecute({ args }) {
      args.contextValue.session.startDeadline(ms);
      return {
        onExecuteDone() {
          args.contextValue.session.endDeadline();
        },
      };
    },
  };
}

/**
 * An error graphql-js raised about the request's own input before executing anything, such as a
 * variable of the wrong type or out of range ("Int cannot represent …"): no path, at most
 * graphql's own error as the cause, and no code of its own (parse and validation errors already carry
 * GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED).
 */
function isRequestInputError(error: unknown): error is GraphQLError {
  return (
    error instanceof GraphQLError &&
    error.path === undefined &&
    error.extensions['code'] === undefined &&
    (error.originalError == null || error.originalError instanceof GraphQLError)
  );
}

/** Yoga logs with console-style arguments; pino wants (fields, message). */
function toYogaLogger(logger: Logger) {
  const forward =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]): void => {
      const [first, ...rest] = args;
      if (first instanceof Error) {
        logger[level]({ err: first }, rest.map(String).join(' ') || first.message);
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
