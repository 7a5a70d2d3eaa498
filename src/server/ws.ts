/**
 * graphql-ws on the same path as HTTP (`/graphql`), through the same yoga pipeline (parse,
 * validate, context, error masking). The caller authenticates once in `connection_init` with
 * `{ authorization: "Bearer <token>" }`, checked with `whoami` before the connection is
 * acknowledged, so no subscription of a bad token ever runs; that answer then identifies the
 * viewer of every operation on the socket, so none of them asks again.
 */
import type { Server } from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { type Extra, useServer } from 'graphql-ws/use/ws';
import { TokenBucket } from 'limiter';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import { type Whoami, whoami } from '../matrix/account.ts';
import { upstreamStatus } from '../matrix/errors.ts';
import type { Upstream } from '../matrix/http.ts';
import { bearerToken, type InitialContext } from './context.ts';
import type { FacadeMetrics } from './metrics.ts';
import type { OperationRecord, Operations } from './operations.ts';
import type { TrustedDocuments } from './trusted-documents.ts';
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

/** What one socket carries between graphql-ws's hooks. */
interface SocketState {
  /** Who the `connection_init` token belongs to. */
  viewer: Whoami;
  /** Each running operation's abort controller and record, by the client's operation ID. */
  readonly operations: Map<string, RunningOperation>;
}

interface RunningOperation {
  readonly controller: AbortController;
  readonly record: OperationRecord | null;
}

export interface WebSocketOptions {
  /**
   * The most operations (subscriptions, and queries or mutations in flight) one socket may run at
   * once; one more is refused with its own error, and the socket goes on.
   * @default 100
   */
  maxOperationsPerSocket?: number;
  /**
   * How often the server pings each socket; one that has not answered the next time round is
   * dropped (all its subscriptions end). This also bounds how long a client that stopped reading
   * keeps its subscriptions' queues in memory (a paused socket answers no ping).
   * @default 12000 (graphql-ws's own)
   */
  keepAliveMs?: number;
  /**
   * The largest message a client may send, in bytes: a bigger one closes the socket with 1009
   * (message too big) before it is parsed, as a request body over `MAX_BODY_BYTES` is refused.
   * @default 262144
   */
  maxPayloadBytes?: number;
  /**
   * How many messages a client may send per second, in bursts of up to one second's worth (so
   * that it can open its `maxOperationsPerSocket` subscriptions at once); past it the socket is
   * closed with 1008 (policy violation). Each message costs parsing and a hook, and pings and
   * completes cost the same as subscribes: the operation cap alone would not bound them.
   * @default 200
   */
  maxMessagesPerSecond?: number;
  /** The trusted documents operations may name by ID (with `only`: nothing else); none by default. */
  trustedDocuments?: TrustedDocuments | null;
  /** Records each operation: its request ID, log line and metrics; none by default. */
  operations?: Operations | null;
  /** Counts the sockets closed by a limit; none by default. */
  metrics?: FacadeMetrics | null;
}

/**
 * Closes `socket` with 1008 once it sends messages faster than `perSecond`. Registered before
 * graphql-ws's own listener, it sees each message first; graphql-ws still handles the one that
 * overflowed (its operation is aborted at once: the socket is no longer open), and a client that
 * keeps sending while the close completes is cut off.
 */
function limitMessageRate(socket: WebSocket, perSecond: number, onRefused: () => void): void {
  const bucket = new TokenBucket({
    bucketSize: perSecond,
    tokensPerInterval: perSecond,
    interval: 'second',
  });
  // limiter's buckets start empty; a new connection may send its first burst at once.
  bucket.content = perSecond;
  socket.on('message', () => {
    if (socket.readyState === socket.CLOSING) {
      socket.terminate();
    } else if (!bucket.tryRemoveTokens(1)) {
      onRefused();
      socket.close(1008, `Too many messages: at most ${perSecond} per second`);
    }
  });
}

export function attachWebSocketTransport(
  server: Server,
  yoga: FacadeYoga,
  upstream: Upstream,
  logger: Logger,
  options: WebSocketOptions = {},
): WebSocketTransport {
  const maxOperations = options.maxOperationsPerSocket ?? 100;
  const trustedDocuments = options.trustedDocuments ?? null;
  const wsServer = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: options.maxPayloadBytes ?? 262_144,
  });
  const maxMessagesPerSecond = options.maxMessagesPerSecond ?? 200;
  const operations = options.operations ?? null;
  const metrics = options.metrics ?? null;
  wsServer.on('connection', (socket) => {
    limitMessageRate(socket, maxMessagesPerSecond, () =>
      metrics?.refused('MESSAGE_RATE_EXCEEDED', 'WS_MAX_MESSAGES_PER_SECOND'),
    );
    if (metrics !== null) {
      // ws closes the socket with 1009 itself, and says why here.
      socket.on('error', (error: Error & { code?: string }) => {
        if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
          metrics.refused('MESSAGE_TOO_BIG', 'MAX_BODY_BYTES');
        }
      });
    }
  });
  const sockets = new WeakMap<Extra, SocketState>();
  const endOperation = (ctx: { extra: Extra }, id: string) => {
    const state = sockets.get(ctx.extra);
    const operation = state?.operations.get(id);
    if (operation !== undefined) {
      operation.controller.abort();
      state?.operations.delete(id);
      if (operation.record !== null) {
        operations?.finish(operation.record);
      }
    }
  };
  /** Ends an operation refused before it ran: its errors are its answer. */
  const refuse = (record: OperationRecord | null, errors: readonly GraphQLError[]) => {
    if (record !== null) {
      operations?.errors(record, errors);
      operations?.finish(record);
    }
    return [...errors];
  };

  const disposable = useServer(
    {
      onConnect: async (ctx) => {
        const token = bearerToken(ctx.connectionParams?.['authorization']);
        if (token === null) {
          // No credentials at all: 4401 Unauthorized.
          ctx.extra.socket.close(
            CloseCode.Unauthorized,
            'Unauthorized: send { authorization: "Bearer <token>" } in connection_init',
          );
          return false;
        }
        try {
          const state: SocketState = {
            viewer: await whoami(upstream.client(token)),
            operations: new Map(),
          };
          sockets.set(ctx.extra, state);
          // At once, not after graphql-ws has wound the operations down: nothing an operation
          // of a closed socket still had running upstream may go on.
          ctx.extra.socket.once('close', () => {
            for (const operation of state.operations.values()) {
              operation.controller.abort();
              if (operation.record !== null) {
                operations?.finish(operation.record);
              }
            }
            state.operations.clear();
          });
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
      onSubscribe: async (ctx, id, payload) => {
        const state = sockets.get(ctx.extra);
        // Each operation gets a request ID of its own (the socket has no request per operation).
        const record = operations?.start('ws', null) ?? null;
        if (state !== undefined && state.operations.size >= maxOperations) {
          return refuse(record, [
            new GraphQLError(
              `This connection already runs ${maxOperations} operations, the most it may; complete one first.`,
              { extensions: { code: 'TOO_MANY_OPERATIONS', limit: maxOperations } },
            ),
          ]);
        }
        // A trusted document named by ID, or the text, unless only trusted documents may run.
        const query = trustedDocuments ? trustedDocuments.resolve(payload) : payload.query;
        if (query instanceof GraphQLError) {
          return refuse(record, [query]);
        }
        const operation = new AbortController();
        state?.operations.set(id, { controller: operation, record });
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
          operation.abort();
        }
        const initial: InitialContext = {
          connectionParams: ctx.connectionParams ?? {},
          operationSignal: operation.signal,
          ...(state ? { knownViewer: state.viewer } : {}),
          ...(record === null ? {} : { facadeOperation: record }),
        };
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...initial,
          params: { ...payload, query },
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(query);
        } catch (error) {
          // A document that does not parse (or that a parser limit refuses) is this operation's
          // error message; the socket and its other subscriptions go on.
          if (error instanceof GraphQLError) {
            // The code HTTP gives the same refusal (yoga adds it there).
            const refused = refuse(record, [
              new GraphQLError(error.message, {
                ...(error.nodes ? { nodes: error.nodes } : {}),
                ...(error.source ? { source: error.source } : {}),
                ...(error.positions ? { positions: error.positions } : {}),
                extensions: { ...error.extensions, code: 'GRAPHQL_PARSE_FAILED' },
              }),
            ]);
            endOperation(ctx, id);
            return refused;
          }
          endOperation(ctx, id);
          throw error;
        }
        const args = {
          schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        const errors = validate(args.schema, args.document);
        if (errors.length > 0) {
          if (record !== null) {
            operations?.errors(record, errors);
          }
          endOperation(ctx, id);
          return errors;
        }
        return args;
      },
      // Right before graphql-ws sends the result: its errors, and for a subscription item how
      // long it took from its sync response to here (the delivery latency).
      onNext: (ctx, id, _payload, _args, result) => {
        const record = sockets.get(ctx.extra)?.operations.get(id)?.record;
        if (record != null) {
          operations?.errors(record, result.errors);
          operations?.delivered(record);
        }
      },
      onError: (ctx, id, _payload, errors) => {
        const record = sockets.get(ctx.extra)?.operations.get(id)?.record;
        if (record != null) {
          operations?.errors(record, errors);
        }
      },
      // Completed by the client, by the server or by an error: what the operation still had
      // running upstream is aborted, and its stream lets go of the sync bridge.
      onComplete: (ctx, id) => endOperation(ctx, id),
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    },
    wsServer,
    options.keepAliveMs ?? 12_000,
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
