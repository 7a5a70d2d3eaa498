/**
 * The enums of a room's settings (join rule, history visibility, guest access). A setting is read
 * as a pair of fields: the enum, `null` when the room does not say or says something the spec does
 * not define, and `…Value`, the string exactly as the state event holds it.
 */
import type { GuestAccess, HistoryVisibility, JoinRule } from '../room/room-settings.ts';
import { builder } from './builder.ts';

export const JoinRuleEnum = builder.enumType('JoinRule', {
  description: 'Who may join a room (`m.room.join_rules`).',
  values: {
    PUBLIC: { value: 'public', description: 'Anyone may join.' },
    KNOCK: { value: 'knock', description: 'Anyone may ask to join; a member lets them in.' },
    INVITE: { value: 'invite', description: 'Only invited users may join.' },
    PRIVATE: { value: 'private', description: 'Reserved by the spec; no one may join.' },
    RESTRICTED: {
      value: 'restricted',
      description: 'Invited users, and members of the rooms the join rule allows.',
    },
    KNOCK_RESTRICTED: {
      value: 'knock_restricted',
      description: 'As RESTRICTED, and anyone else may knock.',
    },
  } as const satisfies Record<string, { value: JoinRule; description: string }>,
});

export const HistoryVisibilityEnum = builder.enumType('HistoryVisibility', {
  description: 'Who may read a room’s history (`m.room.history_visibility`).',
  values: {
    INVITED: {
      value: 'invited',
      description: 'Members, from the point they were invited on.',
    },
    JOINED: { value: 'joined', description: 'Members, from the point they joined on.' },
    SHARED: { value: 'shared', description: 'Members, all of the history.' },
    WORLD_READABLE: { value: 'world_readable', description: 'Anyone, without joining.' },
  } as const satisfies Record<string, { value: HistoryVisibility; description: string }>,
});

export const GuestAccessEnum = builder.enumType('GuestAccess', {
  description: 'Whether guest accounts may join a room (`m.room.guest_access`).',
  values: {
    CAN_JOIN: { value: 'can_join', description: 'Guests may join.' },
    FORBIDDEN: { value: 'forbidden', description: 'Guests may not join.' },
  } as const satisfies Record<string, { value: GuestAccess; description: string }>,
});
