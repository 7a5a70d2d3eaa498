/**
 * A GraphQL POST to the facade that records what came back instead of failing on it, for the
 * benches that send hostile or costly requests (hostile.ts, fairness.ts, upstream-faults.ts) and
 * report refusals as figures. bench/lib/client.ts's `graphql` is the strict one the scenarios time
 * through a keep-alive agent each; both send the same headers.
 */

/** What a facade request carries: a JSON body, the GraphQL answer type, the caller's token. */
export function graphqlHeaders(token: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json',
    authorization: `Bearer ${token}`,
  };
}

/** A GraphQL answer, as far as the benches read it. */
export interface GraphQLResult {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: readonly {
    readonly message: string;
    readonly extensions?: { readonly code?: string };
  }[];
}

export interface GraphQLAnswer {
  /** From sending the request to having read the whole answer (not parsing it). */
  readonly ms: number;
  readonly status: number;
  /** The answer as received. */
  readonly text: string;
  /** `text` parsed; null when it is not JSON (a proxy's or the HTTP layer's own refusal). */
  readonly result: GraphQLResult | null;
}

/** The request body for `query` and its `variables`. */
export function graphqlBody(query: string, variables?: object): string {
  return JSON.stringify({ query, variables });
}

/**
 * POSTs `body` (already encoded: callers encode before timing, so that what is timed is the
 * facade's work, not this client's) to the facade at `facadeUrl` as `token`, through the global
 * `fetch`. Never throws on an answer, whatever its status or content.
 */
export async function postGraphql(
  facadeUrl: string,
  token: string,
  body: string | Uint8Array<ArrayBuffer>,
): Promise<GraphQLAnswer> {
  const started = performance.now();
  const response = await fetch(`${facadeUrl}/graphql`, {
    method: 'POST',
    headers: graphqlHeaders(token),
    body,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let result: GraphQLResult | null = null;
  try {
    result = JSON.parse(text) as GraphQLResult;
  } catch {
    // Left null: the caller reports it as `non-JSON`.
  }
  return { ms, status: response.status, text, result };
}

/** The first error's `extensions.code`: `-` when there is none, `non-JSON` for such an answer. */
export function firstErrorCode(answer: GraphQLAnswer): string {
  if (answer.result === null) {
    return 'non-JSON';
  }
  return answer.result.errors?.[0]?.extensions?.code ?? '-';
}

/** Every distinct `extensions.code` of the answer's errors (`?` for an error without one). */
export function errorCodes(answer: GraphQLAnswer): string[] {
  if (answer.result === null) {
    return ['non-JSON'];
  }
  return [...new Set((answer.result.errors ?? []).map((error) => error.extensions?.code ?? '?'))];
}
