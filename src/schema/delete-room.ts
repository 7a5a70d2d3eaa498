/**
 * `deleteRoom`. Matrix has no client call that deletes a room, so the facade does the nearest
 * thing the caller is entitled to: a server admin of a Synapse homeserver deletes it through
 * Synapse's Admin API (members removed, data purged); anyone else with the power to kick shuts it
 * down (members removed, room closed, left and forgotten). docs/mutations.md says what each does.
 */
import { deleteAlias, getLocalAliases, setDirectoryVisibility } from '../matrix/directory.ts';
import { MatrixApiError, upstreamStatus } from '../matrix/errors.ts';
import type { MatrixClient } from '../matrix/matrix-client.ts';
import { getRoomState, putStateEvent } from '../matrix/room-state.ts';
import { forgetRoom, kickUser, leaveRoom } from '../matrix/rooms.ts';
import {
  deleteRoomAndWait,
  getRoomDetails,
  isServerAdmin,
  RoomDeletionError,
} from '../matrix/synapse-admin.ts';
import { planShutdown } from '../room/shutdown-plan.ts';
import { StateIndex } from '../room/state-index.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireRoomId } from './matrix-ids.ts';
import { optionalReason } from './mutation-support.ts';

/** How a room was deleted: the values of `RoomDeletionMethod`. */
type RoomDeletionMethod = 'ADMIN_PURGE' | 'SHUT_DOWN';

const RoomDeletionMethodEnum = builder.enumType('RoomDeletionMethod', {
  description: 'How `deleteRoom` removed the room.',
  values: {
    ADMIN_PURGE: {
      description:
        "Deleted by a server admin through Synapse's Admin API: every member of this homeserver was removed and the room's data was purged from it.",
    },
    SHUT_DOWN: {
      description:
        'Shut down by a member with the power to kick: every other member was removed, the room was made invite-only, and the viewer left and forgot it. The room still exists, empty.',
    },
  } as const,
});

/**
 * Whether the viewer is a server admin of a Synapse homeserver. A homeserver without Synapse's
 * Admin API (another implementation, or a reverse proxy that does not expose `/_synapse/admin`)
 * answers 404 or `M_UNRECOGNIZED`: its users are treated as no admins.
 */
async function isSynapseAdmin(client: MatrixClient, userId: string): Promise<boolean> {
  try {
    return await isServerAdmin(client, userId);
  } catch (error) {
    const noAdminApi =
      upstreamStatus(error) === 404 ||
      (error instanceof MatrixApiError && error.errcode === 'M_UNRECOGNIZED');
    if (noAdminApi) {
      return false;
    }
    throw error;
  }
}

/** Synapse's Delete Room API: purge, no block, no replacement room. */
async function purgeAsAdmin(client: MatrixClient, roomId: string): Promise<RoomDeletionMethod> {
  // Synapse "deletes" a room it does not know without complaint; the caller should hear of it.
  if ((await getRoomDetails(client, roomId)) === null) {
    throw facadeError('NOT_FOUND', 'The homeserver does not know this room.');
  }
  try {
    await deleteRoomAndWait(client, roomId);
  } catch (error) {
    if (error instanceof RoomDeletionError) {
      throw facadeError(
        'UPSTREAM_UNAVAILABLE',
        error.failure === 'timeout'
          ? 'The homeserver is still deleting the room; it finishes on its own.'
          : 'The homeserver failed to delete the room.',
        { originalError: error },
      );
    }
    throw error;
  }
  return 'ADMIN_PURGE';
}

/**
 * Shuts the room down as a member with the power to kick. The join rule changes first, so that
 * nobody can (re)join while the members are removed; the directory entry and local aliases go
 * next, while the viewer still has their power in the room; then the members, the viewer's leave
 * and forget. Every step is idempotent: after a failure, calling again carries on.
 */
async function shutDown(
  client: MatrixClient,
  roomId: string,
  viewerId: string,
  reason: string | undefined,
): Promise<RoomDeletionMethod> {
  const decision = planShutdown(
    StateIndex.fromEvents(await getRoomState(client, roomId)),
    viewerId,
  );
  if (!decision.allowed) {
    throw facadeError('FORBIDDEN', decision.reason);
  }
  const withReason = reason === undefined ? {} : { reason };
  if (decision.plan.closeJoinRule) {
    await putStateEvent(client, roomId, 'm.room.join_rules', '', { join_rule: 'invite' });
  }
  await unpublish(client, roomId);
  // One at a time: each kick is a new state event in the same room, which the homeserver orders
  // anyway, and its rate limits apply per request.
  for (const userId of decision.plan.removals) {
    await kickUser(client, roomId, userId, withReason);
  }
  await leaveRoom(client, roomId, withReason);
  await forgetRoom(client, roomId);
  return 'SHUT_DOWN';
}

/**
 * Takes the room out of the public directory and removes its aliases on the viewer's homeserver,
 * as far as the homeserver lets the viewer (Synapse: the `m.room.canonical_alias` level, or the
 * alias's creator): a refusal (403) leaves that entry as it is, an alias already gone (404) is
 * fine. This matches what Synapse's admin purge does to them.
 */
async function unpublish(client: MatrixClient, roomId: string): Promise<void> {
  await tolerate(setDirectoryVisibility(client, roomId, 'private'), [403]);
  for (const alias of await getLocalAliases(client, roomId)) {
    await tolerate(deleteAlias(client, alias), [403, 404]);
  }
}

async function tolerate(call: Promise<void>, statuses: number[]): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof MatrixApiError && statuses.includes(error.status))) {
      throw error;
    }
  }
}

builder.relayMutationField(
  'deleteRoom',
  {
    description: 'Input of `deleteRoom`.',
    inputFields: (t) => ({
      roomId: t.id({
        required: true,
        description: 'The room to delete (a room ID, `!…`; an alias is refused).',
      }),
      reason: t.string({
        required: false,
        description:
          'Sent with each removal and with the viewer’s leave when the room is shut down (at most 1000 characters). Not recorded by an admin purge: Synapse’s Admin API takes none.',
      }),
    }),
  },
  {
    description:
      "Deletes a room. Where the operator enabled it (`DELETE_ROOM_ADMIN_PURGE`), a server admin of a Synapse homeserver purges it through Synapse's Admin API (method ADMIN_PURGE); any other member with the power to kick shuts it down: removes every other member, makes it invite-only, removes its directory entry and local aliases where allowed, then leaves and forgets it (method SHUT_DOWN). FORBIDDEN, with nothing changed, for anyone else.",
    resolve: async (_root, { input }, context) => {
      const roomId = requireRoomId(String(input.roomId), 'roomId');
      const reason = optionalReason(input.reason);
      const { client } = context.session.viewer;
      const { userId } = await context.session.viewer.whoami();
      try {
        // The purge acts on a room its admin may never have been in: only where the operator
        // enabled it. Otherwise an admin is a member like any other.
        const method =
          context.adminPurge && (await isSynapseAdmin(client, userId))
            ? await purgeAsAdmin(client, roomId)
            : await shutDown(client, roomId, userId, reason);
        return { roomId, method };
      } finally {
        // Also after a failure part way: whatever was cached may no longer hold.
        context.session.invalidate();
      }
    },
  },
  {
    outputFields: (t) => ({
      roomId: t.exposeID('roomId', {
        description: 'The deleted room (no longer readable by the viewer).',
      }),
      method: t.expose('method', {
        type: RoomDeletionMethodEnum,
        description: 'What was done: an admin purge, or a shutdown by a member.',
      }),
    }),
  },
);
