/**
 * One record per GraphQL operation, over HTTP, SSE and graphql-ws: its request ID (accepted from
 * `X-Request-Id` when sane, else made up; answered in the response header and sent upstream with
 * every Matrix call the operation makes), name, kind, duration, upstream calls and error codes.
 * When it ends it becomes one log line and the operation metrics (docs/operations.md).
 */
import { randomUUID } from 'node:crypto';
import { type DocumentNode, type GraphQLError, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.ts';
import type { RequestSession, RequestTrace } from '../session/request-session.ts';
import type { FacadeMetrics, OperationKind } from './metrics.ts';

/** The header a request ID arrives in and is answered in (and sent upstream with). */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * An incoming request ID is used when it is a plain token: 1 to 128 characters, letters, digits
 * and `._~:+/=-` (UUIDs, W3C trace IDs, base64). Anything else could break a log line or the
 * upstream request's headers, and is replaced by one of our own.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._~:+/=-]{1,128}$/;

/** The request ID of an incoming request: its own when sane, else a new UUID. */
export function requestIdFrom(header: string | null | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}

/** The longest operation name a log line carries. */
const MAX_LOGGED_NAME_LENGTH = 100;

/**
 * The error codes an operation may report in metrics and logs; any other (a bug, or a plugin's
 * own) counts as `OTHER`, so that the label set stays bounded.
 */
const KNOWN_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'RATE_LIMITED',
  'UPSTREAM_UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'TOO_MANY_OPERATIONS',
  'QUERY_TOO_EXPENSIVE',
  'UPSTREAM_BUDGET_EXCEEDED',
  'TOO_MANY_SUBSCRIPTIONS',
  'SUBSCRIPTION_OVERFLOW',
  'ROOM_LIST_UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'REQUEST_ENTITY_TOO_LARGE',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_ONLY',
  'PERSISTED_QUERY_ID_REQUIRED',
  'INTERNAL_SERVER_ERROR',
]);

/** The limit (its setting) behind each error code that only a limit gives. */
const LIMIT_OF_CODE: Readonly<Record<string, string>> = {
  REQUEST_ENTITY_TOO_LARGE: 'MAX_BODY_BYTES',
  QUERY_TOO_EXPENSIVE: 'MAX_COST',
  UPSTREAM_BUDGET_EXCEEDED: 'MAX_UPSTREAM_CALLS_PER_REQUEST',
  DEADLINE_EXCEEDED: 'OPERATION_DEADLINE_MS',
  TOO_MANY_OPERATIONS: 'WS_MAX_OPERATIONS_PER_SOCKET',
  TOO_MANY_SUBSCRIPTIONS: 'SYNC_MAX_SUBSCRIPTIONS_PER_TOKEN',
  SUBSCRIPTION_OVERFLOW: 'SYNC_STREAM_QUEUE_LIMIT',
  PERSISTED_QUERY_ONLY: 'TRUSTED_DOCUMENTS_ONLY',
};

/**
 * The limit behind a parse or validation failure, told by its message (graphql-js's parser
 * limits, GraphQL Armor's, the introspection rule); `null` for an ordinary mistake.
 */
function limitOfMessage(code: string, message: string): string | null {
  if (code === 'GRAPHQL_PARSE_FAILED') {
    return /Document contains more than \d+ (tokens|comments)|nested too deeply/.test(message)
      ? 'MAX_TOKENS'
      : null;
  }
  if (message.startsWith('Query depth limit of')) {
    return 'MAX_DEPTH';
  }
  if (message.startsWith('Aliases limit of')) {
    return 'MAX_ALIASES';
  }
  if (message.startsWith('Directives limit of')) {
    return 'MAX_DIRECTIVES';
  }
  return message.startsWith('GraphQL introspection has been disabled') ? 'INTROSPECTION' : null;
}

/** One operation, from its request (or subscribe message) to its end. */
export class OperationRecord implements RequestTrace {
  readonly requestId: string;
  readonly transport: 'http' | 'ws';
  readonly startedAt = performance.now();
  /** The operation's name; `null`: it has none; `undefined`: no operation was found. */
  name: string | null | undefined = undefined;
  kind: OperationKind = 'unknown';
  /** Distinct error codes, in the order met; `null` while there are none. */
  codes: string[] | null = null;
  /** The session that ran it, for its upstream calls (none before its context was built). */
  session: RequestSession | null = null;
  /** HTTP status of the answer (0: graphql-ws). */
  status = 0;
  /** The answer streams (SSE): the operation ends with its stream, not with the response. */
  streaming = false;
  finished = false;
  deliveryReceivedAt = Number.NaN;
  deliveryKind: string | null = null;

  constructor(requestId: string, transport: 'http' | 'ws') {
    this.requestId = requestId;
    this.transport = transport;
  }
}

/** Where a request's record travels on yoga's context (HTTP) or graphql-ws's initial context. */
export interface OperationCarrier {
  facadeOperation?: OperationRecord;
}

/** What yoga's hooks carry that this reads: a context that may hold the record. */
function recordOf(context: unknown): OperationRecord | undefined {
  return (context as OperationCarrier | null | undefined)?.facadeOperation;
}

/** The errors of a result (an array of them for a graphql-ws refusal), typed loosely. */
type Errors = readonly Pick<GraphQLError, 'message' | 'extensions'>[] | undefined;

/**
 * Makes, fills and ends the records: a yoga plugin for HTTP and SSE, and the calls graphql-ws's
 * hooks make (src/server/ws.ts). Without metrics it still logs.
 */
export class Operations {
  readonly #logger: Logger;
  readonly #metrics: FacadeMetrics | null;

  constructor(logger: Logger, metrics: FacadeMetrics | null) {
    this.#logger = logger;
    this.#metrics = metrics;
  }

  /** A new record; `requestIdHeader` is the incoming `X-Request-Id`, if any. */
  start(transport: 'http' | 'ws', requestIdHeader: string | null | undefined): OperationRecord {
    return new OperationRecord(requestIdFrom(requestIdHeader), transport);
  }

  /** Notes which operation of `document` runs. */
  identify(
    record: OperationRecord,
    document: DocumentNode,
    operationName: string | null | undefined,
  ): void {
    const operation = getOperationAST(document, operationName);
    if (operation !== null && operation !== undefined) {
      record.name = operation.name?.value ?? null;
      record.kind = operation.operation;
    }
  }

  /** Notes the codes of `errors` (each distinct code once), counting those a limit gave. */
  errors(record: OperationRecord, errors: Errors): void {
    if (errors === undefined) {
      return;
    }
    for (const error of errors) {
      const raw = error.extensions?.['code'];
      const code = typeof raw === 'string' && KNOWN_CODES.has(raw) ? raw : 'OTHER';
      record.codes ??= [];
      if (record.codes.includes(code)) {
        continue;
      }
      record.codes.push(code);
      const limit =
        LIMIT_OF_CODE[code] ??
        (code === 'GRAPHQL_PARSE_FAILED' || code === 'GRAPHQL_VALIDATION_FAILED'
          ? limitOfMessage(code, error.message)
          : null);
      if (limit !== null) {
        this.#metrics?.refused(code, limit);
      }
    }
  }

  /**
   * A subscription item of the operation was handed to its transport: counted, with how long it
   * took from its sync response (noted on the record by its stream, src/sync/sync-hub.ts).
   */
  delivered(record: OperationRecord): void {
    const kind = record.deliveryKind;
    if (kind === null) {
      return;
    }
    const receivedAt = record.deliveryReceivedAt;
    record.deliveryKind = null;
    record.deliveryReceivedAt = Number.NaN;
    this.#metrics?.delivered(kind, (performance.now() - receivedAt) / 1000);
  }

  /** Ends the operation (once): its metrics, and its log line. */
  finish(record: OperationRecord): void {
    if (record.finished) {
      return;
    }
    record.finished = true;
    const ms = performance.now() - record.startedAt;
    const code = record.codes?.[0] ?? 'none';
    const metrics = this.#metrics;
    if (metrics !== null) {
      metrics.operation(metrics.operationLabel(record.name), record.kind, code, ms / 1000);
    }
    if (!this.#logger.isLevelEnabled('info')) {
      return;
    }
    const name = record.name;
    // One flat object; nothing of the request (variables, document, headers) is logged.
    this.#logger.info(
      {
        requestId: record.requestId,
        operation:
          typeof name === 'string' && name.length > MAX_LOGGED_NAME_LENGTH
            ? `${name.slice(0, MAX_LOGGED_NAME_LENGTH)}…`
            : name,
        kind: record.kind,
        transport: record.transport,
        status: record.status === 0 ? undefined : record.status,
        durationMs: Math.round(ms * 100) / 100,
        upstreamCalls: record.session?.totalUpstreamCalls ?? 0,
        outcome: code === 'none' ? 'ok' : 'error',
        errors: record.codes ?? undefined,
      },
      'operation',
    );
  }

  /**
   * The yoga plugin: a record per HTTP request reaching yoga (health checks and GraphiQL pages
   * are answered before), its request ID answered in `X-Request-Id`; the operation noted when it
   * is validated (HTTP and graphql-ws alike); the codes of the final, masked result; the end when
   * the response is ready, or for SSE when its stream ends, each item counted as it is sent.
   */
  plugin(): Plugin {
    return {
      onRequest: ({ request, serverContext }) => {
        (serverContext as OperationCarrier).facadeOperation = this.start(
          'http',
          request.headers.get(REQUEST_ID_HEADER),
        );
      },
      onValidate: ({ context, params }) => {
        const record = recordOf(context);
        if (record !== undefined) {
          const operationName = (context as { params?: { operationName?: string | null } }).params
            ?.operationName;
          this.identify(record, params.documentAST, operationName);
        }
      },
      onResultProcess: ({ result, setResult, serverContext }) => {
        const record = recordOf(serverContext);
        if (record === undefined) {
          return;
        }
        if (isAsyncIterable(result)) {
          record.streaming = true;
          setResult(
            observeStream(
              result as AsyncIterable<{ errors?: Errors }>,
              (item) => {
                this.errors(record, item.errors);
                this.delivered(record);
              },
              () => this.finish(record),
            ) as never,
          );
        } else if (!Array.isArray(result)) {
          this.errors(record, (result as { errors?: Errors }).errors);
        }
      },
      onResponse: ({ response, serverContext }) => {
        const record = recordOf(serverContext);
        if (record === undefined) {
          return;
        }
        response.headers.set(REQUEST_ID_HEADER, record.requestId);
        record.status = response.status;
        if (record.codes === null && response.status >= 400) {
          // Refused without a GraphQL answer (404 for another path, 405, 415).
          record.codes = [response.status >= 500 ? 'HTTP_5XX' : 'HTTP_4XX'];
        }
        record.session ??= (serverContext as { session?: RequestSession }).session ?? null;
        if (!record.streaming) {
          this.finish(record);
        }
      },
    };
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * `source`, telling `onItem` of each item as its consumer (yoga's SSE writer) takes it, and
 * `onEnd` once when it ends however it ends: done, failed, or given up by the consumer.
 */
function observeStream<T>(
  source: AsyncIterable<T>,
  onItem: (item: T) => void,
  onEnd: () => void,
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (): void => {
    if (!ended) {
      ended = true;
      onEnd();
    }
  };
  return {
    async next() {
      try {
        const result = await iterator.next();
        if (result.done) {
          end();
        } else {
          onItem(result.value);
        }
        return result;
      } catch (error) {
        end();
        throw error;
      }
    },
    async return(value?: unknown) {
      end();
      return (await iterator.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      end();
      if (iterator.throw) {
        return iterator.throw(error);
      }
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
