/**
 * Room events: the RoomEvent and StateEvent interfaces, the message and redaction events and the
 * fallbacks for other types (the typed state events are in state-events.ts). Every event type
 * resolves from the upstream `ClientEvent` as it is, so any field that returns events
 * declares `RoomEventRef` or `StateEventRef` and returns `ClientEvent`s; `resolveType` picks the
 * object type from the event's type and state key. Field shapes follow
 * `matrix-spec/event-schemas/schema/<type>.yaml`; content fields are nullable wherever the
 * content may lack them (redaction strips most keys, and senders can send anything).
 */
import type { ClientEvent } from '../matrix/events.ts';
import type { MembershipState } from '../matrix/room-state.ts';
import { stringIn } from '../room/content.ts';
import { builder } from './builder.ts';
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

/**
 * The event types with an object type of their own, and whether the spec defines each as a state
 * event type. Implemented here (messages, redactions) and in state-events.ts.
 */
const TYPED_EVENT_TYPES = {
  'm.room.message': { name: 'MessageEvent', state: false },
  'm.room.redaction': { name: 'RedactionEvent', state: false },
  'm.room.member': { name: 'MemberEvent', state: true },
  'm.room.name': { name: 'RoomNameEvent', state: true },
  'm.room.topic': { name: 'RoomTopicEvent', state: true },
  'm.room.create': { name: 'RoomCreateEvent', state: true },
  'm.room.power_levels': { name: 'PowerLevelsEvent', state: true },
  'm.room.join_rules': { name: 'JoinRulesEvent', state: true },
  'm.room.history_visibility': { name: 'HistoryVisibilityEvent', state: true },
  'm.room.canonical_alias': { name: 'CanonicalAliasEvent', state: true },
  'm.room.avatar': { name: 'RoomAvatarEvent', state: true },
} as const;

const TYPED_EVENTS: ReadonlyMap<string, { name: string; state: boolean }> = new Map(
  Object.entries(TYPED_EVENT_TYPES),
);

/** The object type of the events of `type`, to implement. */
export function eventObject(type: keyof typeof TYPED_EVENT_TYPES) {
  return builder.objectRef<ClientEvent>(TYPED_EVENT_TYPES[type].name);
}

eventObject('m.room.message').implement({
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

eventObject('m.room.redaction').implement({
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
