/**
 * Subscriptions: live updates from the sync bridge (`src/sync`), which keeps one long-poll
 * `/sync` per access token however many subscriptions and connections that token has.
 */
import type { ClientEvent } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { inviteListing } from '../room/room-list.ts';
import type { EndedUpdate, SyncUpdateKind, SyncUpdateOf } from '../sync/sync-events.ts';
import type { StreamSelector } from '../sync/sync-hub.ts';
import { builder, type Context } from './builder.ts';
import { facadeError } from './errors.ts';
import { MembershipEnum, RoomEventRef, StateEventRef } from './event.ts';
import { requireRoomId } from './matrix-ids.ts';
import { RoomRef, type RoomShape } from './room.ts';
import { UserRef } from './user.ts';

builder.subscriptionType({});

/**
 * The viewer's updates of `kinds` (in one room, when given), as the stream a subscription
 * iterates. It ends when the client unsubscribes or goes away (the session's signal), when the
 * server shuts down, and after the bridge's `ended` update (the token was revoked), which the
 * resolvers turn into an UNAUTHENTICATED error.
 */
async function viewerUpdates<K extends SyncUpdateKind>(
  context: Context,
  selector: StreamSelector<K>,
): Promise<AsyncIterable<SyncUpdateOf<K> | EndedUpdate>> {
  const account = await context.session.viewer.account();
  const signal = AbortSignal.any([context.session.signal, context.shutdownSignal]);
  return context.syncHub().stream(account, selector, signal);
}

/**
 * Checks, before the stream starts, that the viewer may see the room (one `/state` call):
 * FORBIDDEN otherwise, as for `room(id:)`.
 */
async function requireVisibleRoom(context: Context, roomIdArg: string | number): Promise<string> {
  const roomId = requireRoomId(String(roomIdArg), 'roomId');
  await context.session.loaders.roomState.load(roomId);
  return roomId;
}

/**
 * The update a subscription resolves, read against fresh data: the subscription's session lives
 * as long as the subscription, so what its loaders cached for the previous update is dropped
 * first. `ended` becomes its upstream error (src/server/yoga.ts maps M_UNKNOWN_TOKEN to
 * UNAUTHENTICATED), which ends the stream.
 */
function fresh<U extends { kind: SyncUpdateKind }>(context: Context, update: U | EndedUpdate): U {
  context.session.invalidate();
  if (update.kind === 'ended') {
    throw update.error;
  }
  return update;
}

builder.subscriptionField('roomEvents', (t) =>
  t.field({
    type: RoomEventRef,
    description:
      'Every new event of the room’s timeline (state events included), or only of `types`: in order, each once, gaps after a connection loss filled from history (when too much was missed to recover, one error item with code EVENTS_MISSED says so and the stream goes on). Ends with UNAUTHENTICATED if the token is revoked.',
    args: {
      roomId: t.arg.id({ required: true }),
      types: t.arg.stringList({ required: false }),
    },
    subscribe: async (_root, args, context) => {
      const roomId = await requireVisibleRoom(context, args.roomId);
      const types = args.types ?? null;
      return viewerUpdates(context, { kinds: ['timeline', 'gap'], roomId, eventTypes: types });
    },
    resolve: (update: SyncUpdateOf<'timeline' | 'gap'> | EndedUpdate, _args, context) => {
      const item = fresh(context, update);
      if (item.kind === 'gap') {
        // One error item in the stream, which goes on: the client knows to reload the
        // timeline (e.g. `room.messages(last:)`) instead of trusting it is complete.
        throw facadeError(
          'EVENTS_MISSED',
          'Some events of this room could not be recovered after a connection loss; the stream goes on with the newest ones. Reload the timeline to fill the gap.',
          { extensions: { roomId: item.roomId } },
        );
      }
      return item.event;
    },
  }),
);

builder.subscriptionField('roomUpdated', (t) =>
  t.field({
    type: RoomRef,
    description:
      'The room, each time its state changes (name, topic, avatar, power levels, members…), read fresh.',
    args: { roomId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, context) => {
      const roomId = await requireVisibleRoom(context, args.roomId);
      return viewerUpdates(context, { kinds: ['state'], roomId });
    },
    resolve: (update: SyncUpdateOf<'state'> | EndedUpdate, _args, context): RoomShape => ({
      roomId: fresh(context, update).roomId,
      listing: null,
    }),
  }),
);

interface MembershipUpdateShape {
  room: RoomShape;
  membership: MembershipState;
  event: ClientEvent | null;
}

const MembershipUpdateRef = builder.objectRef<MembershipUpdateShape>('MembershipUpdate').implement({
  description: "A change of the viewer's own membership in a room.",
  fields: (t) => ({
    room: t.field({
      type: RoomRef,
      description: 'The room; for an invite, what the inviter shared of it.',
      resolve: (update) => update.room,
    }),
    membership: t.field({ type: MembershipEnum, resolve: (update) => update.membership }),
    event: t.field({
      type: StateEventRef,
      nullable: true,
      description: "The viewer's member event; `null` for an invite (its state is stripped).",
      resolve: (update) => update.event,
    }),
  }),
});

builder.subscriptionField('myMembership', (t) =>
  t.field({
    type: MembershipUpdateRef,
    description:
      "The viewer's own invites, joins, leaves, kicks and bans, across all rooms, as they happen.",
    subscribe: (_root, _args, context) => viewerUpdates(context, { kinds: ['membership'] }),
    resolve: (
      update: SyncUpdateOf<'membership'> | EndedUpdate,
      _args,
      context,
    ): MembershipUpdateShape => {
      const change = fresh(context, update);
      // An invited viewer cannot read the room's state yet: the invite state stands in for it.
      const listing =
        change.membership === 'invite' ? inviteListing(change.roomId, change.inviteState) : null;
      return {
        room: { roomId: change.roomId, listing },
        membership: change.membership,
        event: change.event,
      };
    },
  }),
);

builder.subscriptionField('typing', (t) =>
  t.field({
    type: [UserRef],
    description: 'Who is typing in the room, each time that changes (an empty list: nobody).',
    args: { roomId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, context) => {
      const roomId = await requireVisibleRoom(context, args.roomId);
      return viewerUpdates(context, { kinds: ['typing'], roomId });
    },
    resolve: (update: SyncUpdateOf<'typing'> | EndedUpdate, _args, context) =>
      fresh(context, update).userIds.map((userId) => ({ userId })),
  }),
);
