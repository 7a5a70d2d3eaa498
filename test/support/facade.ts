/**
 * The facade in-process, in front of the test homeserver, with its upstream calls counted: tests
 * send GraphQL through `yoga.fetch` without opening a port.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { loadConfig } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { type App, buildApp } from '../../src/server/app.ts';
import { type CountingDispatcher, countingDispatcher } from './counting-dispatcher.ts';
import { homeserver } from './homeserver.ts';

export interface TestFacade extends AsyncDisposable {
  readonly app: App;
  readonly upstream: CountingDispatcher;
  /**
   * POSTs a GraphQL operation (a codegen-typed document, or raw text for malformed input), with
   * `token` as the bearer token when given.
   */
  graphql<TResult = Record<string, unknown>, TVariables = Record<string, unknown>>(
    operation: TypedDocumentNode<TResult, TVariables> | string,
    options?: { token?: string; variables?: TVariables; requestId?: string },
  ): Promise<ExecutionResult<TResult> & { status: number }>;
}

export interface FacadeOptions {
  /** Where the facade logs (to capture its lines). @default a silent logger */
  logger?: Logger;
}

export function startFacade(
  environment: Record<string, string> = {},
  options: FacadeOptions = {},
): TestFacade {
  const config = loadConfig({
    MATRIX_HOMESERVER_URL: homeserver().url,
    // The cold plans, whose upstream calls the tests count; warm-views.test.ts turns views on.
    WARM_VIEW_IDLE_MS: '0',
    ...environment,
  });
  const upstream = countingDispatcher();
  const app = buildApp({
    config,
    logger: options.logger ?? createLogger('silent'),
    dispatcher: upstream.dispatcher,
  });
  return {
    app,
    upstream,
    async graphql(operation, options = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (options.token !== undefined) {
        headers['authorization'] = `Bearer ${options.token}`;
      }
      if (options.requestId !== undefined) {
        headers['x-request-id'] = options.requestId;
      }
      const response = await app.yoga.fetch('http://facade.test/graphql', {
        method: 'POST',
        headers,
        body: JSON.stringify({
          query: typeof operation === 'string' ? operation : print(operation),
          variables: options.variables,
        }),
      });
      return { status: response.status, ...((await response.json()) as ExecutionResult<never>) };
    },
    async [Symbol.asyncDispose]() {
      await app.stop();
      await upstream[Symbol.asyncDispose]();
    },
  };
}
