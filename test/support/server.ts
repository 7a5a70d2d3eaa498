/**
 * The facade on a real port (listening on 0), for transport tests: graphql-ws, SSE, shutdown.
 * Upstream calls are counted as in facade.ts.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type App, buildApp } from '../../src/server/app.ts';
import { type CountingDispatcher, countingDispatcher } from './counting-dispatcher.ts';
import { homeserver } from './homeserver.ts';

export interface TestServer extends AsyncDisposable {
  readonly app: App;
  readonly url: string;
  readonly wsUrl: string;
  readonly upstream: CountingDispatcher;
  /** A graphql-ws client authenticating with `token` (none: no connectionParams). */
  client(token?: string): Client & AsyncDisposable;
}

export interface TestServerOptions {
  environment?: Record<string, string>;
  syncGracePeriodMs?: number;
  syncPollTimeoutMs?: number;
  syncMaxBackfillEvents?: number;
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const config = loadConfig({
    MATRIX_HOMESERVER_URL: homeserver().url,
    PORT: '0',
    SYNC_GRACE_PERIOD_MS: String(options.syncGracePeriodMs ?? 200),
    SYNC_POLL_TIMEOUT_MS: String(options.syncPollTimeoutMs ?? 2000),
    // The cold plans, whose upstream calls the tests count; warm-views.test.ts turns views on.
    WARM_VIEW_IDLE_MS: '0',
    ...(options.syncMaxBackfillEvents === undefined
      ? {}
      : { SYNC_MAX_BACKFILL_EVENTS: String(options.syncMaxBackfillEvents) }),
    ...options.environment,
  });
  const upstream = countingDispatcher();
  const app = buildApp({
    config,
    logger: createLogger('silent'),
    dispatcher: upstream.dispatcher,
  });
  const url = await app.start();
  const wsUrl = `${url.replace(/^http/, 'ws')}/graphql`;
  const clients: Client[] = [];
  return {
    app,
    url,
    wsUrl,
    upstream,
    client(token) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        ...(token === undefined ? {} : { connectionParams: { authorization: `Bearer ${token}` } }),
        // The server closes the socket on bad credentials; the test inspects that close.
        onNonLazyError: () => {},
      });
      clients.push(client);
      return Object.assign(client, {
        [Symbol.asyncDispose]: async () => {
          await client.dispose();
        },
      });
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((client) => client.dispose()));
      await app.stop();
      await upstream[Symbol.asyncDispose]();
    },
  };
}

/** What one subscription received, as it arrives; `done` settles when it completes or fails. */
export interface Received<T> {
  readonly values: T[];
  readonly errors: unknown[];
  readonly done: Promise<void>;
  /** Resolves once `count` values have arrived (rejects if the subscription ends before). */
  next(count: number): Promise<T[]>;
  unsubscribe(): void;
}

export function subscribe<TResult, TVariables extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
): Received<{
  data?: TResult | null;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}> {
  type Value = {
    data?: TResult | null;
    errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
  };
  const values: Value[] = [];
  const errors: unknown[] = [];
  const waiters: {
    count: number;
    resolve: (values: Value[]) => void;
    reject: (error: unknown) => void;
  }[] = [];
  let finished = false;
  const settle = () => {
    for (const waiter of [...waiters]) {
      if (values.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(values.slice(0, waiter.count));
      } else if (finished) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.reject(
          new Error(
            `subscription ended after ${values.length} of ${waiter.count} values: ${JSON.stringify(errors)}`,
          ),
        );
      }
    }
  };
  let unsubscribe = () => {};
  const done = new Promise<void>((resolve) => {
    unsubscribe = client.subscribe<TResult>(
      { query: print(document), variables },
      {
        next: (value) => {
          values.push(value as Value);
          settle();
        },
        error: (error) => {
          errors.push(error);
          finished = true;
          settle();
          resolve();
        },
        complete: () => {
          finished = true;
          settle();
          resolve();
        },
      },
    );
  });
  return {
    values,
    errors,
    done,
    next: (count) =>
      new Promise((resolve, reject) => {
        waiters.push({ count, resolve, reject });
        settle();
      }),
    unsubscribe: () => unsubscribe(),
  };
}
