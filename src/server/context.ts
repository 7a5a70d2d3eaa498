/** Builds each request's GraphQL context: one session bound to the caller's token and lifetime. */
import type { YogaInitialContext } from 'graphql-yoga';
import type { Whoami } from '../matrix/account.ts';
import type { Upstream } from '../matrix/http.ts';
import type { Context } from '../schema/builder.ts';
import { RequestSession } from '../session/request-session.ts';
import type { SyncHub } from '../sync/sync-hub.ts';
import type { WarmViews } from '../sync/warm-views.ts';
import type { OperationCarrier } from './operations.ts';

/**
 * The token of an `Authorization: Bearer <token>` value (a header, or graphql-ws's
 * `connection_init` payload field, which may hold anything); `null` for none, another scheme,
 * not a string, or a token with characters no bearer token has (RFC 6750's b64token: a control
 * character would otherwise reach the upstream request's headers). The schema answers `null`
 * with UNAUTHENTICATED, before any upstream call.
 */
export function bearerToken(authorization: unknown): string | null {
  const match = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(
    typeof authorization === 'string' ? authorization : '',
  );
  return match?.[1] ?? null;
}

/** What every request's context shares: the server-wide parts. */
export interface SharedContext {
  upstream: Upstream;
  cursorKey: Uint8Array;
  syncHub: () => SyncHub;
  shutdownSignal: AbortSignal;
  adminPurge: boolean;
  /** Warm room views (`null`: off, or cluster mode). */
  warmViews: WarmViews | null;
}

/**
 * What a transport knows when an operation starts. HTTP and SSE give yoga's `request` (its
 * `Authorization` header, and its signal, which aborts when the client disconnects). graphql-ws
 * (src/server/ws.ts) gives the `connection_init` payload as `connectionParams`
 * (`{ authorization: "Bearer …" }`), the viewer its `connection_init` check already identified,
 * and a signal that aborts when the subscription or the socket ends. Both give the operation's
 * record (`facadeOperation`, src/server/operations.ts): its request ID goes upstream with every
 * call of the session, and a subscription's stream notes there what it hands out.
 */
export interface InitialContext extends Partial<YogaInitialContext>, OperationCarrier {
  connectionParams?: Readonly<Record<string, unknown>>;
  knownViewer?: Whoami;
  operationSignal?: AbortSignal;
}

export function createContextFactory(shared: SharedContext): (initial: InitialContext) => Context {
  return ({ request, connectionParams, knownViewer, operationSignal, facadeOperation }) => {
    const authorization = connectionParams
      ? connectionParams['authorization']
      : request?.headers.get('authorization');
    const session = new RequestSession({
      upstream: shared.upstream,
      accessToken: bearerToken(authorization),
      // Neither: an in-process call without a request (none in the product); nothing to abort.
      signal: operationSignal ?? request?.signal ?? new AbortController().signal,
      knownViewer: knownViewer ?? null,
      // The operation's request ID goes upstream with each of its calls (operations.ts).
      trace: facadeOperation,
      ...(shared.warmViews === null
        ? {}
        : { onRoomsTouched: (token: string) => shared.warmViews?.touched(token) }),
    });
    if (facadeOperation !== undefined) {
      facadeOperation.session = session;
    }
    return {
      session,
      cursorKey: shared.cursorKey,
      syncHub: shared.syncHub,
      shutdownSignal: shared.shutdownSignal,
      adminPurge: shared.adminPurge,
      warmViews: shared.warmViews,
    };
  };
}
