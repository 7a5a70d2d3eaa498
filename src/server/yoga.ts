/**
 * The yoga instance: schema, context, error masking, the limits every request is held to,
 * CORS and CSRF, GraphiQL and the health check. docs/security.md explains each limit.
 */
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import {
  type DocumentNode,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  type ValidationContext,
  validate,
  validateExecutionArgs,
} from 'graphql';
import {
  createYoga,
  maskError,
  type Plugin,
  type YogaServerInstance,
  type YogaServerOptions,
} from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { isUpstreamError } from '../matrix/errors.ts';
import type { Context } from '../schema/builder.ts';
import { operationCost } from '../schema/cost.ts';
import { facadeError, isSessionError, toClientError } from '../schema/errors.ts';
import { schema } from '../schema/index.ts';
import { UpstreamBudgetExceededError } from '../session/request-session.ts';
import { createContextFactory, type SharedContext } from './context.ts';
import { createGraphiQLPage } from './graphiql.ts';
import type { Operations } from './operations.ts';
import type { TrustedDocuments } from './trusted-documents.ts';
import { toYogaLogger } from './yoga-logging.ts';

export interface YogaOptions {
  /** The server-wide parts of every request's context. */
  shared: SharedContext;
  logger: Logger;
  /** How long a query or mutation may run before its upstream calls are aborted. */
  operationDeadlineMs: number;
  /** Serve GraphiQL on `GET /graphql`. */
  graphiql: boolean;
  /** Answer `__schema` and `__type`; off, validation messages name no schema members either. */
  introspection: boolean;
  /** Browser origins given CORS headers (`*`: any); none, no CORS headers at all. */
  corsOrigins: readonly string[];
  /** What one request may cost at most. */
  limits: Config['limits'];
  /** The trusted documents clients may send by ID (and, if `only`, nothing else); `null`: none. */
  trustedDocuments: TrustedDocuments | null;
  /** Records each operation: request ID, log line, metrics (operations.ts); none by default. */
  operations?: Operations | null;
}

export type FacadeYoga = YogaServerInstance<Record<string, unknown>, Context>;

/**
 * The header that marks a request as not forgeable by another site's form or link: a browser
 * sends a custom header only after a CORS preflight the facade answered. `content-type:
 * application/json` counts as well (yoga's CSRF plugin), so ordinary clients send nothing extra.
 */
const CSRF_HEADER = 'x-graphql-csrf';

export function createFacadeYoga(options: YogaOptions): FacadeYoga {
  const { limits } = options;
  const graphiql = createGraphiQLPage({ csrfHeader: CSRF_HEADER });
  return createYoga<Record<string, unknown>, Context>({
    schema,
    context: createContextFactory(options.shared),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    // Served from the installed bundle, with its own Content-Security-Policy (graphiql.ts).
    graphiql: options.graphiql && graphiql.options,
    renderGraphiQL: graphiql.render,
    cors: corsPolicy(options.corsOrigins),
    // Refused with 413 from Content-Length before reading, or once a chunked body passes it.
    maxRequestBodySize: limits.maxBodyBytes,
    // One operation per request, and no file uploads: nothing here takes either.
    batching: false,
    multipart: false,
    parserAndValidationCache:
      limits.documentCacheTokens === 0
        ? false
        : {
            documentCache: new LRUCache<string, DocumentNode>({
              maxSize: limits.documentCacheTokens,
              sizeCalculation: documentWeight,
            }),
            // Refused documents are kept as their text only: measured in characters.
            errorCache: new LRUCache<string, object>({
              maxSize: limits.documentCacheTokens,
              sizeCalculation: (_error, text) => Math.max(1, text.length),
            }),
            // Keyed by the cached documents themselves (a WeakMap), so bounded with them.
            validationCache: true,
          },
    logging: toYogaLogger(options.logger),
    plugins: [
      graphiql.plugin,
      useCsrfPrevention(),
      ...(options.trustedDocuments ? [options.trustedDocuments.plugin()] : []),
      useParserLimits(limits.maxTokens),
      maxDepthPlugin({ n: limits.maxDepth, flattenFragments: true, ...asValidationError }),
      maxAliasesPlugin({ n: limits.maxAliases, allowList: [], ...asValidationError }),
      maxDirectivesPlugin({ n: limits.maxDirectives, ...asValidationError }),
      ...(options.introspection ? [] : [useNoIntrospection()]),
      useCostLimit(limits.maxCost),
      useUpstreamBudget(limits.maxUpstreamCallsPerRequest),
      useOperationDeadline(options.operationDeadlineMs),
      ...(options.operations ? [options.operations.plugin()] : []),
    ],
    maskedErrors: {
      // Never `originalError` or a stack in a response, whatever NODE_ENV says (yoga's default
      // shows them when it is `development`).
      isDev: false,
      // Upstream failures thrown by resolvers become coded client errors here, in one place;
      // everything else unexpected keeps yoga's masking ("Unexpected error.").
      maskError(error, message) {
        const original = error instanceof GraphQLError ? error.originalError : error;
        const located = error instanceof GraphQLError ? error : undefined;
        const location = {
          ...(located?.nodes ? { nodes: located.nodes } : {}),
          ...(located?.source ? { source: located.source } : {}),
          ...(located?.positions ? { positions: located.positions } : {}),
          ...(located?.path ? { path: located.path } : {}),
        };
        if (isUpstreamError(original) || isSessionError(original)) {
          return toClientError(original, location);
        }
        if (original instanceof UpstreamBudgetExceededError) {
          return facadeError('UPSTREAM_BUDGET_EXCEEDED', original.message, {
            ...location,
            originalError: original,
            extensions: { limit: original.limit },
          });
        }
        if (isRequestInputError(error)) {
          // Keeps yoga's `http` extension (status 400).
          return withExtensions(error, { code: 'BAD_USER_INPUT' });
        }
        if (error instanceof GraphQLError && error.extensions['originalError'] !== undefined) {
          // yoga's invalid-JSON refusal carries the JSON parser's own error.
          return withExtensions(error, { originalError: undefined });
        }
        return maskError(error, message, false);
      },
    },
  });
}

/**
 * Only the listed origins get CORS headers, each its own origin back and no credentials (the
 * facade reads a bearer header, never cookies). An origin not listed gets no CORS header, so the
 * browser keeps the response from the page; yoga's default would allow any origin, with
 * credentials.
 */
function corsPolicy(origins: readonly string[]): YogaServerOptions<object, object>['cors'] {
  if (origins.length === 0) {
    return false;
  }
  const anyOrigin = origins.includes('*');
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !(anyOrigin || origins.includes(origin))) {
      return false;
    }
    return {
      origin,
      credentials: false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', CSRF_HEADER],
      maxAge: 600,
    };
  };
}

/**
 * How much a parsed document weighs in the document cache, in tokens: a document keeps all its
 * tokens (as a linked list, for its locations), and its AST and validation result grow with them;
 * a long name or string is one token, so 100 characters of text count as one as well when that
 * is more. Measured: some 400 bytes of heap per token, and as much per 100 characters.
 */
function documentWeight(document: DocumentNode, text: string): number {
  let tokens = 0;
  for (let token = document.loc?.startToken ?? null; token !== null; token = token.next) {
    tokens++;
  }
  return Math.max(1, tokens, Math.ceil(text.length / 100));
}

/**
 * yoga's CSRF prevention: a request that a browser could send from another site without a
 * preflight (a form post, a plain GET, `text/plain`) must carry {@link CSRF_HEADER}. Its refusal
 * (403) gets yoga's code for refusals of the HTTP request itself, BAD_REQUEST: the plugin gives
 * it none.
 */
function useCsrfPrevention(): Plugin {
  const { onRequestParse } = useCSRFPrevention({ requestHeaders: [CSRF_HEADER] });
  return {
    onRequestParse(payload) {
      try {
        return onRequestParse?.(payload);
      } catch (error) {
        throw error instanceof GraphQLError
          ? withExtensions(error, { code: 'BAD_REQUEST' })
          : error;
      }
    },
  };
}

/**
 * graphql-js's own parser limits: parsing stops at the first token (or comment) past the limit,
 * before the document is built, so that a huge document costs only its first tokens. yoga answers
 * the syntax error with GRAPHQL_PARSE_FAILED (400 for `application/graphql-response+json`).
 */
function useParserLimits(maxTokens: number): Plugin {
  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parse(source, { ...options, maxLexicalTokens: maxTokens, maxComments: maxTokens });
        } catch (error) {
          // The parser recurses once per nesting level, and an unclosed list (`[[[[…`) nests one
          // level per token: within the token limit it can still run out of stack.
          if (error instanceof RangeError) {
            throw new GraphQLError('Syntax Error: Document is nested too deeply. Parsing aborted.');
          }
          throw error;
        }
      });
    },
  };
}

/**
 * GraphQL Armor's refusals reported as validation errors: yoga then answers them as any other
 * (GRAPHQL_VALIDATION_FAILED, 400), where thrown they would reach the masking without a code.
 * Armor prefixes them "Syntax Error: ", which they are not.
 */
const asValidationError = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) => {
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')));
    },
  ],
};

/**
 * No introspection: graphql-js's rule refuses `__schema` and `__type` (not `__typename`), and
 * validation leaves out its "Did you mean …?" suggestions, which would name fields and types.
 */
function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule, setValidationFn }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
      setValidationFn((schema, document, rules) =>
        validate(schema, document, rules, { hideSuggestions: true }),
      );
    },
  };
}

/**
 * Refuses an operation that could cost more than `maxCost` upstream calls (src/schema/cost.ts
 * weighs it), before anything of it runs: one QUERY_TOO_EXPENSIVE error with the operation's
 * `cost` and the `limit`, and no upstream call. Weighed here rather than in validation because
 * the cost depends on the variables (`first: $n`), which validation (and its cache) never sees;
 * as execution is about to start, they are coerced exactly as execution will use them. graphql-ws
 * operations go through the same hooks (src/server/ws.ts). A subscription is weighed per event.
 */
const MAX_CACHED_VARIABLES_LENGTH = 512;
const MAX_CACHED_COSTS_PER_OPERATION = 16;

function useCostLimit(maxCost: number): Plugin<Context> {
  // An operation weighs the same for the same variables (the cost reads nothing else): weighed
  // once per parsed document (yoga caches those) and set of variable values, not per request.
  // Keyed weakly by the operation, so gone with the document; a few short value sets each.
  const costs = new WeakMap<object, Map<string, number>>();
  const costOf = (validated: Parameters<typeof operationCost>[0], context: Context): number => {
    const values = JSON.stringify(validated.rawVariableValues ?? {});
    if (values.length > MAX_CACHED_VARIABLES_LENGTH) {
      return operationCost(validated, context);
    }
    let known = costs.get(validated.operation);
    if (known === undefined) {
      known = new Map();
      costs.set(validated.operation, known);
    }
    let cost = known.get(values);
    if (cost === undefined) {
      cost = operationCost(validated, context);
      if (known.size >= MAX_CACHED_COSTS_PER_OPERATION) {
        known.clear();
      }
      known.set(values, cost);
    }
    return cost;
  };
  const check = ({
    args,
    setResultAndStopExecution,
  }: {
    args: Parameters<typeof validateExecutionArgs>[0] & { contextValue: Context };
    setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
  }): void => {
    const validated = validateExecutionArgs(args);
    if (!('operation' in validated)) {
      // No operation to run, or variables that do not fit: execution reports it, calling nothing.
      return;
    }
    const cost = costOf(validated, args.contextValue);
    if (cost > maxCost) {
      setResultAndStopExecution({
        errors: [
          facadeError(
            'QUERY_TOO_EXPENSIVE',
            `The operation could cost ${cost} upstream calls; the server allows ${maxCost}. Ask for smaller pages or fewer fields.`,
            { extensions: { cost, limit: maxCost } },
          ),
        ],
      });
    }
  };
  return { onExecute: check, onSubscribe: check };
}

/**
 * Caps the upstream calls each query or mutation starts at `max` (the session refuses further
 * ones with UPSTREAM_BUDGET_EXCEEDED, sending nothing), and each event of a subscription: its
 * session starts a new budget whenever it is invalidated before an event.
 */
function useUpstreamBudget(max: number): Plugin<Context> {
  return {
    onExecute({ args }) {
      args.contextValue.session.limitUpstreamCalls(max, 'operation');
    },
    onSubscribe({ args }) {
      args.contextValue.session.limitUpstreamCalls(max, 'event');
    },
  };
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

/**
 * `error` with `changes` applied to its extensions (an `undefined` value removes one). Typed
 * loosely: yoga's codes (BAD_REQUEST) are not among the facade's own `ErrorCode`s, which the
 * `GraphQLErrorExtensions` augmentation in src/schema/errors.ts lists.
 */
function withExtensions(error: GraphQLError, changes: Record<string, unknown>): GraphQLError {
  const extensions: Record<string, unknown> = Object.fromEntries(
    Object.entries({ ...error.extensions, ...changes }).filter(([, value]) => value !== undefined),
  );
  return new GraphQLError(error.message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    ...(error.source ? { source: error.source } : {}),
    ...(error.positions ? { positions: error.positions } : {}),
    ...(error.path ? { path: error.path } : {}),
    extensions,
  });
}
