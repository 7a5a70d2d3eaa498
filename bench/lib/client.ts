/**
 * The bench's own HTTP clients: one keep-alive undici agent per contender, GraphQL POSTs to the
 * facade and plain Client-Server calls for the direct alternatives. Each call returns the bytes
 * of body the client received, and fails loudly on any error, so nothing broken is timed.
 */
import { Agent, request } from 'undici';
import { graphqlBody, graphqlHeaders } from './graphql-http.ts';

/** A keep-alive client with no limit on parallel connections (50 parallel `/state` calls). */
export function newAgent(): Agent {
  return new Agent({ keepAliveTimeout: 60_000, connections: null });
}

export interface Response<T> {
  readonly bytes: number;
  readonly body: T;
}

/** Sends `query` to the facade at `facadeUrl` as `token`; fails on any GraphQL error. */
export async function graphql<T = unknown>(
  agent: Agent,
  facadeUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Response<T>> {
  const response = await request(`${facadeUrl}/graphql`, {
    dispatcher: agent,
    method: 'POST',
    headers: graphqlHeaders(token),
    body: graphqlBody(query, variables),
  });
  const text = await response.body.text();
  const parsed = JSON.parse(text) as { data?: T; errors?: unknown[] };
  if (response.statusCode !== 200 || parsed.errors !== undefined || parsed.data === undefined) {
    throw new Error(`facade: HTTP ${response.statusCode} ${text.slice(0, 300)}`);
  }
  return { bytes: Buffer.byteLength(text), body: parsed.data };
}

/** One Client-Server API call as `token`; fails on any status but 200. */
export async function matrix<T = unknown>(
  agent: Agent,
  baseUrl: string,
  token: string,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<Response<T>> {
  const response = await request(`${baseUrl}${path}`, {
    dispatcher: agent,
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) {
    throw new Error(`${method} ${path}: HTTP ${response.statusCode} ${text.slice(0, 300)}`);
  }
  return { bytes: Buffer.byteLength(text), body: JSON.parse(text) as T };
}

/** Runs `task` on every item with at most `parallel` at once; results in item order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  parallel: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index] as T, index);
      }
    }),
  );
  return results;
}
