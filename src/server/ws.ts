/**
 * graphql-ws on the same path as HTTP (`/graphql`), through the same yoga pipeline (parse,
 * validate, context, error masking). The caller authenticates once in `connection_init` with
 * `{ authorization: "Bearer <token>" }`, checked with `whoami` before the connection is
 * acknowledged, so no subscription of a bad token ever runs.
 */
import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import { whoami } from '../matrix/account.ts';
import { upstreamStatus } from '../matrix/errors.ts';
import type { Upstream } from '../matrix/http.ts';
import { bearerToken } from './context.ts';
import type { FacadeYoga } from './yoga.ts';

/** What yoga's enveloped `execute`/`subscribe` take: graphql's args, routed through envelop. */
interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export interface WebSocketTransport {
  readonly server: WebSocketServer;
  /** Closes every socket with 1001 (going away), which completes their subscriptions. */
  close(): Promise<void>;
}

export function attachWebSocketTransport(
  server: Server,
  yoga: FacadeYoga,
  upstream: Upstream,
  logger: Logger,
): WebSocketTransport {
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });

  const disposable = useServer(
    {
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.['authorization'];
        const token = bearerToken(typeof authorization === 'string' ? authorization : null);
        if (token === null) {
          // No credentials at all: 4401 Unauthorized.
          ctx.extra.socket.close(
            CloseCode.Unauthorized,
            'Unauthorized: send { authorization: "Bearer <token>" } in connection_init',
          );
          return false;
        }
        try {
          await whoami(upstream.client(token));
          return true;
        } catch (error) {
          if (upstreamStatus(error) === 401) {
            // Credentials the homeserver refused: returning false closes with 4403 Forbidden.
            return false;
          }
          logger.warn({ err: error }, 'websocket authentication could not be checked');
          ctx.extra.socket.close(1011, 'The homeserver could not be reached');
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          connectionParams: ctx.connectionParams,
          params: payload,
        });
        const args = {
          schema,
          operationName: payload.operationName ?? null,
          document: parse(payload.query),
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        const errors = validate(args.schema, args.document);
        return errors.length > 0 ? errors : args;
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    },
    wsServer,
  );

  return {
    server: wsServer,
    async close() {
      for (const socket of wsServer.clients) {
        socket.close(1001, 'Server shutting down');
      }
      await disposable.dispose();
    },
  };
}
