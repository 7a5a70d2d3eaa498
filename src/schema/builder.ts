/** Configures the Pothos schema builder; defines no types (those live in one file per domain). */
import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import RelayPlugin from '@pothos/plugin-relay';
import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import type { RequestSession } from '../session/request-session.ts';
import type { SyncHub } from '../sync/sync-hub.ts';
import type { WarmViews } from '../sync/warm-views.ts';
import { fieldCost } from './cost.ts';
import ImmediateNodeIdsPlugin from './immediate-node-ids.ts';
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
  /** Whether `deleteRoom` may purge through Synapse's Admin API (`DELETE_ROOM_ADMIN_PURGE`). */
  readonly adminPurge: boolean;
  /**
   * Room views kept warm from the viewers' sync streams (src/sync/warm-views.ts), which answer
   * the room list with no upstream call; `null` when off.
   */
  readonly warmViews: WarmViews | null;
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
  // After Relay, whose node `id` resolvers it makes synchronous (immediate-node-ids.ts).
  plugins: [RelayPlugin, ImmediateNodeIdsPlugin, ComplexityPlugin],
  complexity: {
    // Each field weighs the upstream calls it can make (src/schema/cost.ts). The limit is
    // enforced by the server before execution (src/server/yoga.ts), for the whole operation at
    // once, not by the plugin as each root field starts: so its per-field check is off.
    fieldComplexity: fieldCost,
    disabled: true,
  },
  relay: {
    // Node IDs are the Matrix identifiers themselves (`!room:hs`, `@user:hs`): clients already
    // hold them, and the sigil says which type an ID names.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => ({ typename: nodeIdType(globalID), id: globalID }),
    cursorType: 'String',
    clientMutationId: 'optional',
    // Relay's meaning only: an echo. Idempotency has its own input (`idempotencyKey`), so that a
    // client's request counter never decides what the homeserver sends.
    clientMutationIdInputOptions: {
      description:
        'Any value the client picks, returned unchanged as the payload’s `clientMutationId` (to match answers to requests). It does nothing else; in particular it does not make a retry safe (`sendMessage`, `sendEvent` and `redactEvent` take an `idempotencyKey` for that).',
    },
    clientMutationIdFieldOptions: {
      description: 'The input’s `clientMutationId`, unchanged; `null` when none was given.',
    },
    // A failed mutation is null where it stands, so the others of the same request still say
    // what they did (a non-null payload would blank the whole `data`).
    relayMutationFieldOptions: { nullable: true },
    idFieldOptions: {
      description:
        'The Matrix identifier itself (`!room…` for a room, `@user…` for a user): stable, the same string the object was fetched by, and accepted by `node(id:)`.',
    },
    nodeTypeOptions: {
      description:
        'An object with a stable ID that `node(id:)` fetches again: rooms and users, whose IDs are their Matrix IDs.',
    },
    nodeQueryOptions: {
      description:
        'A room (`!…`) or user (`@…`) by its Matrix ID; `null` when there is no such user. Aliases (`#…`) are not IDs: use `roomByAlias`.',
      args: { id: { description: 'A room ID or user ID.' } },
    },
    nodesQueryOptions: {
      description: 'Several nodes by ID at once, in the order asked (`null` for unknown users).',
      args: { ids: { description: 'Room IDs and user IDs.' } },
    },
    pageInfoTypeOptions: { description: 'Where a page stands in its whole list.' },
    hasNextPageFieldOptions: {
      description: 'Whether more items follow the page (ask with `after: endCursor`).',
    },
    hasPreviousPageFieldOptions: {
      description: 'Whether more items precede the page (ask with `before: startCursor`).',
    },
    startCursorFieldOptions: { description: "The first edge's cursor; `null` for an empty page." },
    endCursorFieldOptions: { description: "The last edge's cursor; `null` for an empty page." },
    edgesFieldOptions: { description: 'The items of the page, in list order.' },
    pageInfoFieldOptions: { description: 'Where the page stands in the whole list.' },
    cursorFieldOptions: {
      description: 'Where this item stands: pass it as `after` or `before` to continue from it.',
    },
    nodeFieldOptions: { description: 'The item.' },
    firstArgOptions: {
      description:
        'How many items from the start (or after `after`): 1 to 100; 20 when neither `first` nor `last` is given.',
    },
    lastArgOptions: {
      description: 'How many items from the end (or before `before`): 1 to 100.',
    },
    afterArgOptions: { description: 'A cursor of this list: the page starts after its item.' },
    mutationInputArgOptions: { description: "The mutation's arguments, in one object." },
    defaultMutationInputTypeOptions: {
      description: 'The arguments of the mutation of the same name; each field says what it does.',
    },
    defaultPayloadTypeOptions: {
      description:
        'What the mutation of the same name did: the objects it changed, read as they are now.',
    },
    beforeArgOptions: { description: 'A cursor of this list: the page ends before its item.' },
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
// Event content: any JSON object, as the homeserver sent it.
builder.addScalarType('JSON', JSONObjectResolver);

builder.queryType({
  description: 'What the viewer can read: themselves, their rooms, users and the public directory.',
});
builder.mutationType({
  description:
    'What the viewer can change. Each mutation takes one `input` and returns a payload, `null` when it failed (its error says why); a failed mutation does not stop the others of the request.',
});
