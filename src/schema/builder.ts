/** Configures the Pothos schema builder; defines no types (those live in one file per domain). */
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import type { RequestSession } from '../session/request-session.ts';
import type { SyncHub } from '../sync/sync-hub.ts';
import { nodeIdType } from './node-id.ts';

/** What every resolver receives. Built per request by the server (`src/server/context.ts`). */
export interface Context {
  /**
   * The request's session: the viewer (a client bound to the caller's token and to the
   * request's lifetime), its loaders, and `invalidate()` after a write. Reading `viewer` or
   * `loaders` without a token fails with UNAUTHENTICATED before any upstream call.
   */
  readonly session: RequestSession;
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
    // A failed mutation is null where it stands, so the others of the same request still say
    // what they did (a non-null payload would blank the whole `data`).
    relayMutationFieldOptions: { nullable: true },
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
// Event content: any JSON object, as the homeserver sent it.
builder.addScalarType('JSON', JSONObjectResolver);

builder.queryType({});
builder.mutationType({});
