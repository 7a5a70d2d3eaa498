/**
 * Mutations that move users in and out of rooms: join, leave, forget, invite, revokeInvite,
 * kick, ban, unban. Each returns the room as it is afterwards (forget: only its ID, since the
 * viewer can no longer see it).
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
import { requireRoomId, requireRoomIdOrAlias, requireUserId } from './matrix-ids.ts';
import { optionalReason, roomPayloadFields } from './mutation-support.ts';

builder.relayMutationField(
  'join',
  {
    inputFields: (t) => ({
      roomIdOrAlias: t.id({
        required: true,
        description: 'A room ID (`!…`) or alias (`#…`).',
      }),
      reason: t.string({ required: false }),
    }),
  },
  {
    description: 'Joins a room (accepting an invite, or entering a public room).',
    resolve: async (_root, { input }, context) => {
      const target = requireRoomIdOrAlias(String(input.roomIdOrAlias), 'roomIdOrAlias');
      const reason = optionalReason(input.reason);
      const { roomId } = await joinRoom(
        context.session.viewer.client,
        target,
        reason ? { reason } : {},
      );
      context.session.invalidate();
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);

builder.relayMutationField(
  'leave',
  {
    inputFields: (t) => ({
      roomId: t.id({ required: true }),
      reason: t.string({ required: false }),
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
  'forget',
  {
    inputFields: (t) => ({ roomId: t.id({ required: true }) }),
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
  invite: {
    description: 'Invites a user into the room.',
    send: inviteUser,
  },
  kick: {
    description: 'Removes a joined user from the room (they may join again if the rules allow).',
    send: kickUser,
  },
  ban: {
    description: 'Bans a user: removes them and keeps them from joining again until unbanned.',
    send: banUser,
  },
  unban: {
    description: 'Lifts a ban (the user is then out of the room, free to be invited or join).',
    send: unbanUser,
  },
  revokeInvite: {
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
        roomId: t.id({ required: true }),
        userId: t.id({ required: true }),
        reason: t.string({ required: false }),
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
