/**
 * The typed state events (`m.room.member`, `m.room.name`, `m.room.create`, power levels…), each
 * declared with its event type in event.ts ({@link eventObject}). Field shapes follow
 * `matrix-spec/event-schemas/schema/<type>.yaml`; content fields are nullable wherever the
 * content may lack them.
 */
import type { ClientEvent } from '../matrix/events.ts';
import { objectIn, stringIn, stringsIn } from '../room/content.ts';
import { membershipIn } from '../room/membership.ts';
import {
  creatorOf,
  type PowerLevels,
  powerLevelsFromContent,
  roomVersionOf,
} from '../room/power-levels.ts';
import { HISTORY_VISIBILITIES, JOIN_RULES, knownValue } from '../room/room-settings.ts';
import { builder } from './builder.ts';
import { eventObject, MembershipEnum, RoomEventRef, StateEventRef } from './event.ts';
import { graphqlLevel } from './power-levels.ts';
import { HistoryVisibilityEnum, JoinRuleEnum } from './room-settings.ts';
import { UserRef } from './user.ts';

eventObject('m.room.member').implement({
  description:
    "A membership change (`m.room.member`) of the user in the state key, with that user's profile in the room.",
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    membership: t.field({
      type: MembershipEnum,
      nullable: true,
      description: 'The membership the event sets (`null` for a value the spec does not know).',
      resolve: (event) => membershipIn(event.content),
    }),
    target: t.field({
      type: UserRef,
      description: 'The user whose membership this is (the state key; may differ from `sender`).',
      resolve: (event) => ({ userId: event.stateKey ?? event.sender }),
    }),
    displayName: t.string({
      nullable: true,
      description: "The user's display name in this room.",
      resolve: (event) => stringIn(event.content, 'displayname'),
    }),
    avatarUrl: t.string({
      nullable: true,
      description: "The user's avatar in this room, an `mxc://` URI.",
      resolve: (event) => stringIn(event.content, 'avatar_url'),
    }),
    reason: t.string({
      nullable: true,
      description: 'Why the membership changed, when given (kick, ban, leave, invite).',
      resolve: (event) => stringIn(event.content, 'reason'),
    }),
    isDirect: t.boolean({
      description: 'Whether an invite marked the room as a direct chat (`is_direct`).',
      resolve: (event) => event.content['is_direct'] === true,
    }),
  }),
});

eventObject('m.room.name').implement({
  description: 'The room name (`m.room.name`).',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    name: t.string({
      nullable: true,
      description: 'The name as sent; absent or empty means the room has no name.',
      resolve: (event) => stringIn(event.content, 'name'),
    }),
  }),
});

eventObject('m.room.topic').implement({
  description:
    'The room topic (`m.room.topic`). Other representations (`m.topic`) stay in `content`.',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    topic: t.string({
      nullable: true,
      description: 'The topic in plain text; absent or empty means the room has no topic.',
      resolve: (event) => stringIn(event.content, 'topic'),
    }),
  }),
});

const RoomPredecessorRef = builder
  .objectRef<{ roomId: string; eventId: string | null }>('RoomPredecessor')
  .implement({
    description: 'The room an upgraded room replaces.',
    fields: (t) => ({
      roomId: t.exposeID('roomId', { description: 'The ID of the old room.' }),
      eventId: t.exposeID('eventId', {
        nullable: true,
        description:
          'The last known event of the old room (deprecated in the spec; may be absent).',
      }),
    }),
  });

eventObject('m.room.create').implement({
  description: 'The first event of a room (`m.room.create`).',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    roomVersion: t.string({
      description: 'The room version (`1` when the event does not say).',
      resolve: (event) => roomVersionOf(event.content) ?? '1',
    }),
    creator: t.field({
      type: UserRef,
      description:
        "Who created the room: the event's sender (from room version 11 on, content no longer names the creator), or `creator` in older rooms.",
      resolve: (event) => ({ userId: creatorOf(event) }),
    }),
    additionalCreators: t.field({
      type: [UserRef],
      description: 'Further users counted as creators (room version 12 on).',
      resolve: (event) =>
        stringsIn(event.content, 'additional_creators').map((userId) => ({ userId })),
    }),
    federate: t.boolean({
      description: 'Whether users on other servers may join (`m.federate`, default true).',
      resolve: (event) => event.content['m.federate'] !== false,
    }),
    roomType: t.string({
      nullable: true,
      description: 'The room type, e.g. `m.space`; `null` for an ordinary room.',
      resolve: (event) => stringIn(event.content, 'type'),
    }),
    predecessor: t.field({
      type: RoomPredecessorRef,
      nullable: true,
      description: 'The room this one replaces, when it was created by an upgrade.',
      resolve: (event) => {
        const predecessor = objectIn(event.content, 'predecessor');
        const roomId = predecessor && stringIn(predecessor, 'room_id');
        return predecessor && roomId
          ? { roomId, eventId: stringIn(predecessor, 'event_id') }
          : null;
      },
    }),
  }),
});

eventObject('m.room.power_levels').implement({
  description:
    'Power levels (`m.room.power_levels`). The level fields have the spec defaults filled in for keys the event leaves out; the maps are as sent.',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => {
    const level = (key: 'ban' | 'invite' | 'kick' | 'redact', description: string) =>
      t.int({ description, resolve: (event) => graphqlLevel(levelsOf(event)[key]) });
    return {
      ban: level('ban', 'The level needed to ban (default 50).'),
      invite: level('invite', 'The level needed to invite (default 0).'),
      kick: level('kick', 'The level needed to kick (default 50).'),
      redact: level('redact', "The level needed to redact others' events (default 50)."),
      eventsDefault: t.int({
        description: 'The level needed for message events not in `events` (default 0).',
        resolve: (event) => graphqlLevel(levelsOf(event).eventsDefault),
      }),
      stateDefault: t.int({
        description: 'The level needed for state events not in `events` (default 50).',
        resolve: (event) => graphqlLevel(levelsOf(event).stateDefault),
      }),
      usersDefault: t.int({
        description: 'The level of users not in `users` (default 0).',
        resolve: (event) => graphqlLevel(levelsOf(event).usersDefault),
      }),
      users: t.field({
        type: 'JSON',
        description: 'User ID → level, as sent.',
        resolve: (event) => objectIn(event.content, 'users') ?? {},
      }),
      events: t.field({
        type: 'JSON',
        description: 'Event type → level needed to send it, as sent.',
        resolve: (event) => objectIn(event.content, 'events') ?? {},
      }),
      notifications: t.field({
        type: 'JSON',
        description: 'Notification key (e.g. `room`) → level needed to trigger it, as sent.',
        resolve: (event) => objectIn(event.content, 'notifications') ?? {},
      }),
    };
  },
});

function levelsOf(event: ClientEvent): PowerLevels {
  return powerLevelsFromContent(event.content);
}

eventObject('m.room.join_rules').implement({
  description: 'Who may join the room (`m.room.join_rules`).',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    joinRule: t.field({
      type: JoinRuleEnum,
      nullable: true,
      description:
        'The join rule; `null` when the content lacks one or holds a value the spec does not define (see `joinRuleValue`).',
      resolve: (event) => knownValue(JOIN_RULES, stringIn(event.content, 'join_rule')),
    }),
    joinRuleValue: t.string({
      nullable: true,
      description: 'The join rule exactly as the content holds it.',
      resolve: (event) => stringIn(event.content, 'join_rule'),
    }),
  }),
});

eventObject('m.room.history_visibility').implement({
  description: 'Who may read the history (`m.room.history_visibility`).',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    historyVisibility: t.field({
      type: HistoryVisibilityEnum,
      nullable: true,
      description:
        'The history visibility; `null` when the content lacks one or holds a value the spec does not define (see `historyVisibilityValue`).',
      resolve: (event) =>
        knownValue(HISTORY_VISIBILITIES, stringIn(event.content, 'history_visibility')),
    }),
    historyVisibilityValue: t.string({
      nullable: true,
      description: 'The history visibility exactly as the content holds it.',
      resolve: (event) => stringIn(event.content, 'history_visibility'),
    }),
  }),
});

eventObject('m.room.canonical_alias').implement({
  description: "The room's published aliases (`m.room.canonical_alias`).",
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    alias: t.string({
      nullable: true,
      description: 'The canonical alias, e.g. `#room:example.org`; absent or empty means none.',
      resolve: (event) => stringIn(event.content, 'alias'),
    }),
    altAliases: t.stringList({
      description: 'Other aliases the room advertises.',
      resolve: (event) => stringsIn(event.content, 'alt_aliases'),
    }),
  }),
});

eventObject('m.room.avatar').implement({
  description: 'The room avatar (`m.room.avatar`).',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    url: t.string({
      nullable: true,
      description: 'The image, an `mxc://` URI; absent means the room has no avatar.',
      resolve: (event) => stringIn(event.content, 'url'),
    }),
  }),
});
