/** Builds each request's GraphQL context: an upstream client bound to the caller's token. */
import type { YogaInitialContext } from 'graphql-yoga';
import type { Upstream } from '../matrix/http.ts';
import type { Context } from '../schema/builder.ts';

/**
 * The token of an `Authorization: Bearer <token>` header; `null` for no header or another scheme,
 * which the schema answers with UNAUTHENTICATED.
 */
export function bearerToken(authorization: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1] ?? null;
}

export function createContextFactory(
  upstream: Upstream,
  cursorKey: Uint8Array,
): (initial: YogaInitialContext) => Context {
  return ({ request }) => {
    const token = bearerToken(request.headers.get('authorization'));
    return {
      matrix: token === null ? null : upstream.client(token),
      anonymousMatrix: upstream.client(null),
      cursorKey,
    };
  };
}
