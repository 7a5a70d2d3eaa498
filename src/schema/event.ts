/** Room events: the RoomEvent and StateEvent interfaces and their typed implementations. */
import type { MembershipState } from '../matrix/room-state.ts';
import { builder } from './builder.ts';

/** A user's membership in a room (`m.room.member` content `membership`). */
export const MembershipEnum = builder.enumType('Membership', {
  description: "A user's membership in a room.",
  values: {
    INVITE: { value: 'invite', description: 'Invited, not yet joined.' },
    JOIN: { value: 'join', description: 'In the room.' },
    KNOCK: { value: 'knock', description: 'Asked to join.' },
    LEAVE: {
      value: 'leave',
      description: 'Left, was kicked, or withdrew or was refused an invite.',
    },
    BAN: { value: 'ban', description: 'Banned.' },
  } as const satisfies Record<string, { value: MembershipState; description: string }>,
});
