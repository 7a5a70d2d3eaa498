/** `Room.members` and the `RoomMember` type: src/room/members.ts lists them, this shows them. */
import { stringIn } from '../room/content.ts';
import { type RoomMember, roomMembers } from '../room/members.ts';
import { powerLevelsOf } from '../room/power-levels.ts';
import type { StateIndex } from '../room/state-index.ts';
import { builder } from './builder.ts';
import { arrayConnection } from './connection-args.ts';
import { MembershipEnum } from './event.ts';
import { graphqlLevel } from './power-levels.ts';
import { fullStateOf, RoomRef } from './room.ts';
import { UserRef } from './user.ts';

const RoomMemberRef = builder.objectRef<RoomMember>('RoomMember').implement({
  description: "A user's membership in a room, with the room-specific profile.",
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      description: 'The member (global profile: `user.displayName`).',
      resolve: (member) => ({ userId: member.userId }),
    }),
    displayName: t.string({
      nullable: true,
      description: 'The name shown in this room (may differ from the global one).',
      resolve: (member) => stringIn(member.content, 'displayname'),
    }),
    avatarUrl: t.string({
      nullable: true,
      description: 'The avatar shown in this room, an `mxc://` URI.',
      resolve: (member) => stringIn(member.content, 'avatar_url'),
    }),
    membership: t.field({
      type: MembershipEnum,
      description: 'Whether the user is joined, invited, knocking, gone or banned.',
      resolve: (member) => member.membership,
    }),
    powerLevel: t.int({
      description:
        "The member's power level; 2147483647 (the largest Int) for a privileged creator, who outranks every level.",
      resolve: (member) => graphqlLevel(member.powerLevel),
    }),
    isPrivilegedCreator: t.exposeBoolean('isPrivilegedCreator', {
      description:
        'A creator of a room of version 12 or later (the `m.room.create` sender or one of its `additional_creators`): unlimited power, never listed in `m.room.power_levels`.',
    }),
    reason: t.string({
      nullable: true,
      description: 'Why the membership last changed, when a reason was given (kick, ban, leave).',
      resolve: (member) => stringIn(member.content, 'reason'),
    }),
  }),
});

builder.objectField(RoomRef, 'members', (t) =>
  t.connection(
    {
      type: RoomMemberRef,
      // Per room: one room's refusal (403, 429, 5xx) is null here, not the whole room list.
      nullable: true,
      description:
        'Members in every membership state, or only `membership`; by power level (privileged creators first), then display name.',
      args: {
        membership: t.arg({
          type: MembershipEnum,
          required: false,
          description: 'Only members in this state; every state when omitted.',
        }),
      },
      resolve: (room, args, context) => {
        const page = (state: StateIndex) =>
          arrayConnection(args, roomMembers(state, powerLevelsOf(state), args.membership));
        // A listed room whose list brought its member list needs no call of its own, and
        // answers at once (no promise for graphql to await room by room).
        return room.listing?.allMembers
          ? page(room.listing.state)
          : fullStateOf(context, room).then(page);
      },
    },
    {
      name: 'RoomMemberConnection',
      description: 'One page of the list: its edges, and where it stands in the whole list.',
    },
    { name: 'RoomMemberEdge', description: 'One item of the page (a member) with its cursor.' },
  ),
);
