/**
 * Room events: the RoomEvent and StateEvent interfaces and their typed implementations. Every one
 * of them resolves from the upstream `ClientEvent` as it is, so any field that returns events
 * declares `RoomEventRef` or `StateEventRef` and returns `ClientEvent`s; `resolveType` picks the
 * object type from the event's type and state key. Field shapes follow
 * `matrix-spec/event-schemas/schema/<type>.yaml`; content fields are nullable wherever the
 * content may lack them (redaction strips most keys, and senders can send anything).
 */
import type { ClientEvent } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { objectIn, stringIn, stringsIn } from '../room/content.ts';
import { membershipIn } from '../room/membership.ts';
import {
  creatorOf,
  type PowerLevels,
  powerLevelsFromContent,
  roomVersionOf,
} from '../room/power-levels.ts';
import { builder } from './builder.ts';
import { graphqlLevel } from './power-levels.ts';
import { UserRef } from './user.ts';

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

/** Any event of a room's timeline or state. */
export const RoomEventRef = builder.interfaceRef<ClientEvent>('RoomEvent');
/** An event with a state key: part of the room's state (or a past version of it). */
export const StateEventRef = builder.interfaceRef<ClientEvent>('StateEvent');

/**
 * The GraphQL object type for an event: the typed one when the type is known and the event is a
 * state event exactly when its type is (`m.room.name` without a state key is not a room name), else
 * `OtherRoomEvent` or `OtherStateEvent`.
 */
export function eventObjectType(event: ClientEvent): string {
  const typed = TYPED_EVENTS.get(event.type);
  const isState = event.stateKey !== null;
  if (typed && typed.state === isState) {
    return typed.name;
  }
  return isState ? 'OtherStateEvent' : 'OtherRoomEvent';
}

RoomEventRef.implement({
  description:
    'An event in a room: a message, a state change, or any other type. Concrete types exist for the common `m.room.*` types; others are `OtherRoomEvent` or `OtherStateEvent`, with `content` as sent.',
  resolveType: (event) => eventObjectType(event),
  fields: (t) => ({
    id: t.exposeID('eventId', { description: 'The event ID, e.g. `$abc…`.' }),
    roomId: t.id({
      description: 'The room the event belongs to.',
      resolve: (event) => {
        if (event.roomId === null) {
          // Every path that hands events to the schema knows their room (see matrix/events.ts).
          throw new Error(`event ${event.eventId} reached the schema without its room ID`);
        }
        return event.roomId;
      },
    }),
    type: t.exposeString('type', { description: 'The event type, e.g. `m.room.message`.' }),
    sender: t.field({
      type: UserRef,
      description: 'Who sent the event.',
      resolve: (event) => ({ userId: event.sender }),
    }),
    originServerTs: t.field({
      type: 'DateTime',
      description: "When the sender's homeserver received the event.",
      resolve: (event) => new Date(event.originServerTs),
    }),
    content: t.field({
      type: 'JSON',
      description: "The event content exactly as sent: its keys are the event type's own.",
      resolve: (event) => event.content,
    }),
    redacted: t.boolean({
      description: 'Whether the event was redacted (its content then holds only the kept keys).',
      resolve: (event) => event.unsigned.redactedBecause !== null,
    }),
  }),
});

StateEventRef.implement({
  description: 'A state event: the room state under (`type`, `stateKey`) from this event on.',
  interfaces: [RoomEventRef],
  resolveType: (event) => eventObjectType(event),
  fields: (t) => ({
    stateKey: t.string({
      description: 'The state key; often the empty string, a user ID for `m.room.member`.',
      // Only events with a state key resolve to a StateEvent type (see eventObjectType).
      resolve: (event) => event.stateKey ?? '',
    }),
    prevContent: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The content this event replaced, when the homeserver includes it.',
      resolve: (event) => event.unsigned.prevContent,
    }),
  }),
});

/** Event type → its object type, and whether the spec defines it as a state event type. */
const TYPED_EVENTS = new Map<string, { name: string; state: boolean }>();

/** A typed event object for `type`; `state` says whether it is a state event type. */
function eventObject(name: string, type: string, state: boolean) {
  TYPED_EVENTS.set(type, { name, state });
  return builder.objectRef<ClientEvent>(name);
}

eventObject('MessageEvent', 'm.room.message', false).implement({
  description:
    'A message (`m.room.message`). `body` is the plain-text fallback every message type carries; the fields are `null` when the content lacks them, e.g. after redaction.',
  interfaces: [RoomEventRef],
  fields: (t) => ({
    msgtype: t.string({
      nullable: true,
      description: 'The kind of message: `m.text`, `m.notice`, `m.emote`, `m.image`, `m.file`…',
      resolve: (event) => stringIn(event.content, 'msgtype'),
    }),
    body: t.string({
      nullable: true,
      description: 'The text of the message (for media, a description or the file name).',
      resolve: (event) => stringIn(event.content, 'body'),
    }),
    format: t.string({
      nullable: true,
      description: 'The format of `formattedBody`; `org.matrix.custom.html` is the one in use.',
      resolve: (event) => stringIn(event.content, 'format'),
    }),
    formattedBody: t.string({
      nullable: true,
      description: 'The message in `format` (HTML), when the sender provided one.',
      resolve: (event) => stringIn(event.content, 'formatted_body'),
    }),
  }),
});

eventObject('MemberEvent', 'm.room.member', true).implement({
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

eventObject('RoomNameEvent', 'm.room.name', true).implement({
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

eventObject('RoomTopicEvent', 'm.room.topic', true).implement({
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

eventObject('RoomCreateEvent', 'm.room.create', true).implement({
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

eventObject('PowerLevelsEvent', 'm.room.power_levels', true).implement({
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

eventObject('JoinRulesEvent', 'm.room.join_rules', true).implement({
  description: 'Who may join the room (`m.room.join_rules`).',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    joinRule: t.string({
      nullable: true,
      description: '`public`, `invite`, `knock`, `restricted`, `knock_restricted` or `private`.',
      resolve: (event) => stringIn(event.content, 'join_rule'),
    }),
  }),
});

eventObject('HistoryVisibilityEvent', 'm.room.history_visibility', true).implement({
  description: 'Who may read the history (`m.room.history_visibility`).',
  interfaces: [StateEventRef, RoomEventRef],
  fields: (t) => ({
    historyVisibility: t.string({
      nullable: true,
      description: '`invited`, `joined`, `shared` or `world_readable`.',
      resolve: (event) => stringIn(event.content, 'history_visibility'),
    }),
  }),
});

eventObject('CanonicalAliasEvent', 'm.room.canonical_alias', true).implement({
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

eventObject('RoomAvatarEvent', 'm.room.avatar', true).implement({
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

eventObject('RedactionEvent', 'm.room.redaction', false).implement({
  description: 'The redaction of another event (`m.room.redaction`).',
  interfaces: [RoomEventRef],
  fields: (t) => ({
    redacts: t.id({
      nullable: true,
      description:
        'The ID of the redacted event (in content from room version 11 on, at the top level before).',
      resolve: (event) => stringIn(event.content, 'redacts') ?? event.redacts,
    }),
    reason: t.string({
      nullable: true,
      description: 'Why the event was redacted, when given.',
      resolve: (event) => stringIn(event.content, 'reason'),
    }),
  }),
});

builder.objectRef<ClientEvent>('OtherRoomEvent').implement({
  description: 'A non-state event of a type without a type of its own here: read `content`.',
  interfaces: [RoomEventRef],
});

builder.objectRef<ClientEvent>('OtherStateEvent').implement({
  description: 'A state event of a type without a type of its own here: read `content`.',
  interfaces: [StateEventRef, RoomEventRef],
});
