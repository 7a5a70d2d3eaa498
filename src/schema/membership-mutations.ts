/**
 * Mutations that move users in and out of rooms: joinRoom, leaveRoom, forgetRoom, inviteToRoom,
 * revokeRoomInvite, kickFromRoom, banFromRoom, unbanFromRoom. Each returns the room as it is
 * afterwards (forgetRoom: only its ID, since the viewer can no longer see it).
 */
import { getStateEvent } from '../matrix/room-state.ts';
import {
  banUser,
  forgetRoom,
  inviteUser,
  joinRoom,
  kickUser,
  leaveRoom,
  unbanUser,
} from '../matrix/rooms.ts';
import { membershipIn } from '../room/membership.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireRoomAlias, requireRoomId, requireUserId } from './matrix-ids.ts';
import { MAX_REASON_LENGTH, optionalReason, roomPayloadFields } from './mutation-support.ts';

/** The `reason` input of the mutations that change someone's membership. */
const membershipReason = `Why, at most ${MAX_REASON_LENGTH} characters: kept in the membership event, which every member can read.`;

/**
 * A server name (spec appendix "Server Name"): a DNS name, IPv4 or bracketed IPv6 address, and
 * an optional port.
 */
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(?::[0-9]{1,5})?$/u;

/** The room to join: exactly one of `roomId` and `alias`, checked. */
function joinTarget(roomId: string | null | undefined, alias: string | null | undefined): string {
  if (roomId != null && alias == null) {
    return requireRoomId(roomId, 'roomId');
  }
  if (alias != null && roomId == null) {
    return requireRoomAlias(alias, 'alias');
  }
  throw facadeError('BAD_USER_INPUT', 'Give exactly one of roomId and alias.', {
    extensions: { field: roomId == null ? 'roomId' : 'alias' },
  });
}

/** The `via` server names, each checked. */
function viaServers(via: readonly string[] | null | undefined): string[] {
  return (via ?? []).map((server, index) => {
    if (!SERVER_NAME.test(server)) {
      throw facadeError(
        'BAD_USER_INPUT',
        `via[${index}] must be a server name like "example.org" or "example.org:8448".`,
        { extensions: { field: `via[${index}]` } },
      );
    }
    return server;
  });
}

builder.relayMutationField(
  'joinRoom',
  {
    inputFields: (t) => ({
      roomId: t.id({
        required: false,
        description: 'The room to join by its ID (`!…`). Give this or `alias`, not both.',
      }),
      alias: t.string({
        required: false,
        description:
          'The room to join by one of its aliases (`#name:server`). Give this or `roomId`, not both.',
      }),
      via: t.stringList({
        required: false,
        description:
          "Server names to join through (`example.org`, `example.org:8448`), for a room the viewer's homeserver is not in yet: at least one of them must be in the room. A `matrix.to` link's `via` parameters are such a list.",
      }),
      reason: t.string({ required: false, description: membershipReason }),
    }),
  },
  {
    description:
      'Joins a room (accepting an invite, or entering a public room), by its ID or one of its aliases. BAD_USER_INPUT, before any upstream call, unless exactly one of `roomId` and `alias` is given.',
    resolve: async (_root, { input }, context) => {
      const target = joinTarget(
        input.roomId == null ? input.roomId : String(input.roomId),
        input.alias,
      );
      const via = viaServers(input.via);
      const reason = optionalReason(input.reason);
      const { roomId } = await joinRoom(context.session.viewer.client, target, {
        ...(reason ? { reason } : {}),
        ...(via.length > 0 ? { via } : {}),
      });
      context.session.invalidate();
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);

builder.relayMutationField(
  'leaveRoom',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room to leave (a room ID, `!…`).' }),
      reason: t.string({ required: false, description: membershipReason }),
    }),
  },
  {
    description:
      'Leaves a room (or declines an invite). The room stays readable as it was at the leave until it is forgotten.',
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const reason = optionalReason(input.reason);
      await leaveRoom(context.session.viewer.client, roomId, reason ? { reason } : {});
      context.session.invalidate();
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);

builder.relayMutationField(
  'forgetRoom',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true, description: 'The room to forget (a room ID, `!…`).' }),
    }),
  },
  {
    description:
      'Forgets a room the viewer has left: its history is no longer visible to them. Leave it first.',
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      await forgetRoom(context.session.viewer.client, roomId);
      context.session.invalidate();
      return { roomId };
    },
  },
  {
    outputFields: (t) => ({
      roomId: t.exposeID('roomId', { description: 'The forgotten room.' }),
    }),
  },
);

/** The four moderation actions share one shape: a room, a user, an optional reason. */
const moderationActions = {
  inviteToRoom: {
    description: 'Invites a user into the room.',
    send: inviteUser,
  },
  kickFromRoom: {
    description: 'Removes a joined user from the room (they may join again if the rules allow).',
    send: kickUser,
  },
  banFromRoom: {
    description: 'Bans a user: removes them and keeps them from joining again until unbanned.',
    send: banUser,
  },
  unbanFromRoom: {
    description: 'Lifts a ban (the user is then out of the room, free to be invited or join).',
    send: unbanUser,
  },
  revokeRoomInvite: {
    description:
      'Withdraws a pending invite. NOT_FOUND when the user has no pending invite in the room.',
    send: revokeInvite,
  },
} as const;

async function revokeInvite(
  client: Parameters<typeof kickUser>[0],
  roomId: string,
  userId: string,
  options: { reason?: string },
): Promise<void> {
  // Matrix withdraws an invite with a kick of the invited user; a kick of anyone else would
  // remove a member, so the invite is checked first, fresh from the homeserver.
  const member = await getStateEvent(client, roomId, 'm.room.member', userId);
  if (membershipIn(member?.content) !== 'invite') {
    throw facadeError('NOT_FOUND', `${userId} has no pending invite in this room.`);
  }
  await kickUser(client, roomId, userId, options);
}

for (const [name, action] of Object.entries(moderationActions)) {
  builder.relayMutationField(
    name,
    {
      inputFields: (t) => ({
        roomId: t.id({ required: true, description: 'The room (a room ID, `!…`).' }),
        userId: t.id({ required: true, description: 'The user whose membership changes.' }),
        reason: t.string({ required: false, description: membershipReason }),
      }),
    },
    {
      description: action.description,
      resolve: async (_root, { input }, context) => {
        const roomId = requireRoomId(String(input.roomId), 'roomId');
        const userId = requireUserId(String(input.userId), 'userId');
        const reason = optionalReason(input.reason);
        await action.send(context.session.viewer.client, roomId, userId, reason ? { reason } : {});
        context.session.invalidate();
        return { roomId };
      },
    },
    { outputFields: roomPayloadFields },
  );
}
