/** Configures the Pothos schema builder; defines no types (those live in one file per domain). */
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import type { MatrixClient } from '../matrix/http.ts';
import type { SyncHub } from '../sync/sync-hub.ts';
import { nodeIdType } from './node-id.ts';

/** What every resolver receives. Built per request by the server (`src/server/context.ts`). */
export interface Context {
  /**
   * The upstream client acting as the caller, or `null` when the request carried no bearer
   * token. Resolvers reach it through `viewerClient(ctx)` (or the loaders), which turn `null`
   * into an `UNAUTHENTICATED` error before any upstream call.
   */
  readonly matrix: MatrixClient | null;
  /** An upstream client without a token, for the calls made before the caller has one (`login`). */
  readonly anonymousMatrix: MatrixClient;
  /**
   * The key that signs pagination cursors (HMAC), so that a cursor the server did not issue is
   * refused before it reaches the homeserver.
   */
  readonly cursorKey: Uint8Array;
  /** The server's sync bridge (created on first use): subscriptions listen to it. */
  readonly syncHub: () => SyncHub;
  /** Aborted when the server shuts down: open subscriptions complete. */
  readonly shutdownSignal: AbortSignal;
}

export const builder = new SchemaBuilder<{
  Context: Context;
  // Non-null unless a field says otherwise: clients generated from the schema then get the
  // guarantees the data really has.
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: Record<string, unknown>; Output: Record<string, unknown> };
  };
}>({
  defaultFieldNullability: false,
  plugins: [RelayPlugin],
  relay: {
    // Node IDs are the Matrix identifiers themselves (`!room:hs`, `@user:hs`): clients already
    // hold them, and the sigil says which type an ID names.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => ({ typename: nodeIdType(globalID), id: globalID }),
    cursorType: 'String',
    clientMutationId: 'optional',
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
// Event content: any JSON object, as the homeserver sent it.
builder.addScalarType('JSON', JSONObjectResolver);

builder.queryType({});
builder.mutationType({});
