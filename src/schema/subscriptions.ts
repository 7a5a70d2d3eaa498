/**
 * Subscriptions: live updates from the sync bridge (`src/sync`), which keeps one long-poll
 * `/sync` per access token however many subscriptions and connections that token has.
 */
import { Repeater } from 'graphql-yoga';
import type { ClientEvent } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import type { SyncUpdate } from '../sync/sync-events.ts';
import { builder, type Context } from './builder.ts';
import { facadeError, viewerClient } from './errors.ts';
import { MembershipEnum, RoomEventRef, StateEventRef } from './event.ts';
import { clearLoaders, loaders } from './loaders.ts';
import { requireRoomId } from './matrix-ids.ts';
import { RoomRef, type RoomShape } from './room.ts';
import { StateIndex } from './state-index.ts';
import { UserRef } from './user.ts';

builder.subscriptionType({});

/**
 * The viewer's updates that `accept` keeps, as an async iterator for a subscription. It ends when
 * the client unsubscribes (the return unsubscribes from the hub), when the server shuts down, and
 * after delivering the bridge's `ended` update (the token was revoked), which the resolvers turn
 * into an UNAUTHENTICATED error.
 */
function viewerUpdates(
  context: Context,
  accept: (update: SyncUpdate) => boolean,
): AsyncIterable<SyncUpdate> {
  const token = viewerClient(context).accessToken;
  if (token === null) {
    throw new Error('an authenticated client without a token');
  }
  return new Repeater<SyncUpdate>(async (push, stop) => {
    const unsubscribe = context.syncHub().subscribe(token, (update) => {
      if (update.kind === 'ended') {
        void push(update);
        stop();
      } else if (accept(update)) {
        void push(update);
      }
    });
    const onShutdown = () => stop();
    context.shutdownSignal.addEventListener('abort', onShutdown, { once: true });
    if (context.shutdownSignal.aborted) {
      stop();
    }
    await stop;
    context.shutdownSignal.removeEventListener('abort', onShutdown);
    unsubscribe();
  });
}

/**
 * Checks, before the stream starts, that the viewer may see the room (one `/state` call):
 * FORBIDDEN otherwise, as for `room(id:)`.
 */
async function requireVisibleRoom(context: Context, roomIdArg: string | number): Promise<string> {
  const roomId = requireRoomId(String(roomIdArg), 'roomId');
  await loaders(context).roomState.load(roomId);
  return roomId;
}

/**
 * Each pushed update resolves against fresh data: the subscription's context lives as long as the
 * subscription, so what its loaders cached for the previous update is dropped first.
 */
function freshFor<T>(context: Context, update: SyncUpdate, pick: (update: SyncUpdate) => T): T {
  clearLoaders(context);
  if (update.kind === 'ended') {
    // The upstream error as it is: src/server/yoga.ts maps it (M_UNKNOWN_TOKEN: UNAUTHENTICATED).
    throw update.error;
  }
  return pick(update);
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
      return viewerUpdates(
        context,
        (update) =>
          (update.kind === 'gap' && update.roomId === roomId) ||
          (update.kind === 'timeline' &&
            update.roomId === roomId &&
            (types === null || types.includes(update.event.type))),
      );
    },
    resolve: (update: SyncUpdate, _args, context): ClientEvent =>
      freshFor(context, update, (item) => {
        if (item.kind === 'gap') {
          // One error item in the stream, which goes on: the client knows to reload the
          // timeline (e.g. `room.messages(last:)`) instead of trusting it is complete.
          throw facadeError(
            'EVENTS_MISSED',
            'Some events of this room could not be recovered after a connection loss; the stream goes on with the newest ones. Reload the timeline to fill the gap.',
            { extensions: { roomId: item.roomId } },
          );
        }
        return (item as { event: ClientEvent }).event;
      }),
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
      return viewerUpdates(
        context,
        (update) => update.kind === 'state' && update.roomId === roomId,
      );
    },
    resolve: (update: SyncUpdate, _args, context): RoomShape =>
      freshFor(context, update, (state) => ({
        roomId: (state as { roomId: string }).roomId,
        listing: null,
      })),
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
    subscribe: (_root, _args, context) =>
      viewerUpdates(context, (update) => update.kind === 'membership'),
    resolve: (update: SyncUpdate, _args, context): MembershipUpdateShape =>
      freshFor(context, update, (membership) => {
        const change = membership as Extract<SyncUpdate, { kind: 'membership' }>;
        // An invited viewer cannot read the room's state yet: the invite state stands in for it.
        const listing =
          change.membership === 'invite'
            ? {
                roomId: change.roomId,
                membership: 'invite' as const,
                state: StateIndex.fromStripped(change.inviteState),
                joinedMemberCount: null,
                invitedMemberCount: null,
                lastActivityTs: 0,
              }
            : null;
        return {
          room: { roomId: change.roomId, listing },
          membership: change.membership,
          event: change.event,
        };
      }),
  }),
);

builder.subscriptionField('typing', (t) =>
  t.field({
    type: [UserRef],
    description: 'Who is typing in the room, each time that changes (an empty list: nobody).',
    args: { roomId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, context) => {
      const roomId = await requireVisibleRoom(context, args.roomId);
      return viewerUpdates(
        context,
        (update) => update.kind === 'typing' && update.roomId === roomId,
      );
    },
    resolve: (update: SyncUpdate, _args, context) =>
      freshFor(context, update, (typing) =>
        (typing as { userIds: string[] }).userIds.map((userId) => ({ userId })),
      ),
  }),
);
