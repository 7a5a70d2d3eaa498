/** Builds each request's GraphQL context: an upstream client bound to the caller's token. */
import type { YogaInitialContext } from 'graphql-yoga';
import type { Upstream } from '../matrix/http.ts';
import type { Context } from '../schema/builder.ts';
import type { SyncHub } from '../sync/sync-hub.ts';

/**
 * The token of an `Authorization: Bearer <token>` header; `null` for no header or another scheme,
 * which the schema answers with UNAUTHENTICATED.
 */
export function bearerToken(authorization: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1] ?? null;
}

/** What every request's context shares: the server-wide parts. */
export interface SharedContext {
  upstream: Upstream;
  cursorKey: Uint8Array;
  syncHub: () => SyncHub;
  shutdownSignal: AbortSignal;
}

/**
 * Where the caller's token comes from: HTTP and SSE send an `Authorization` header; graphql-ws
 * sends `{ authorization: "Bearer …" }` in `connection_init`, which src/server/ws.ts passes here as
 * `connectionParams`.
 */
export interface InitialContext extends Partial<YogaInitialContext> {
  connectionParams?: Readonly<Record<string, unknown>>;
}

export function createContextFactory(shared: SharedContext): (initial: InitialContext) => Context {
  return ({ request, connectionParams }) => {
    const authorization = connectionParams
      ? connectionParams['authorization']
      : request?.headers.get('authorization');
    const token = bearerToken(typeof authorization === 'string' ? authorization : null);
    return {
      matrix: token === null ? null : shared.upstream.client(token),
      anonymousMatrix: shared.upstream.client(null),
      cursorKey: shared.cursorKey,
      syncHub: shared.syncHub,
      shutdownSignal: shared.shutdownSignal,
    };
  };
}
