/** Creating rooms: `createRoom` (every option of create_room.yaml) and `createDirectRoom`. */
import { getAccountData, setAccountData } from '../matrix/account.ts';
import { type CreateRoomOptions, createRoom } from '../matrix/rooms.ts';
import { findDirectRoom } from '../room/direct-rooms.ts';
import { builder } from './builder.ts';
import { facadeError } from './errors.ts';
import { requireUserId } from './matrix-ids.ts';
import {
  MAX_BODY_BYTES,
  MAX_ROOM_NAME_BYTES,
  requireMaxBytes,
  roomPayloadFields,
} from './mutation-support.ts';
import { RoomRef } from './room.ts';

const RoomPresetEnum = builder.enumType('RoomPreset', {
  description: 'Default state for a new room (`create_room.yaml` `preset`).',
  values: {
    PRIVATE_CHAT: { value: 'private_chat', description: 'Invite only; history shared.' },
    TRUSTED_PRIVATE_CHAT: {
      value: 'trusted_private_chat',
      description: 'Invite only; invitees get the creator’s power level.',
    },
    PUBLIC_CHAT: { value: 'public_chat', description: 'Anyone may join; no guests.' },
  } as const,
});

const RoomVisibilityEnum = builder.enumType('RoomVisibility', {
  description: 'Whether the room is listed in the public room directory.',
  values: {
    PUBLIC: { value: 'public', description: 'Listed in the public room directory.' },
    PRIVATE: { value: 'private', description: 'Not listed (the default).' },
  } as const,
});

const InitialStateEventInput = builder.inputType('InitialStateEventInput', {
  description: 'A state event to set in the new room (`initial_state`).',
  fields: (t) => ({
    type: t.string({ required: true, description: 'The event type, e.g. `m.room.guest_access`.' }),
    stateKey: t.string({
      required: false,
      defaultValue: '',
      description: 'The state key (default empty, as most room state has).',
    }),
    content: t.field({ type: 'JSON', required: true, description: 'The event content.' }),
  }),
});

const ThirdPartyInviteInput = builder.inputType('ThirdPartyInviteInput', {
  description: 'A third-party identifier to invite (`invite_3pid`); needs an identity server.',
  fields: (t) => ({
    idServer: t.string({
      required: true,
      description: 'The identity server to look the address up on (host name).',
    }),
    idAccessToken: t.string({
      required: true,
      description: 'An access token the identity server issued to the viewer.',
    }),
    medium: t.string({ required: true, description: 'e.g. `email`.' }),
    address: t.string({ required: true, description: 'The address, e.g. an email address.' }),
  }),
});

/** An alias local part: what goes between `#` and `:server`. */
function requireAliasLocalpart(value: string): string {
  if (!/^[^\s:#]+$/u.test(value) || Buffer.byteLength(value) > 200) {
    throw facadeError(
      'BAD_USER_INPUT',
      'roomAliasName must be the local part of an alias only: no spaces, ":" or "#" (e.g. "lobby" for #lobby:example.org).',
      { extensions: { field: 'roomAliasName' } },
    );
  }
  return value;
}

builder.relayMutationField(
  'createRoom',
  {
    inputFields: (t) => ({
      name: t.string({
        required: false,
        description: `The room name (\`m.room.name\`), at most ${MAX_ROOM_NAME_BYTES} bytes.`,
      }),
      topic: t.string({
        required: false,
        description: `The room topic (\`m.room.topic\`), at most ${MAX_BODY_BYTES} bytes.`,
      }),
      preset: t.field({
        type: RoomPresetEnum,
        required: false,
        description:
          'Default join rule, history visibility and power levels (the homeserver picks one by `visibility` when absent).',
      }),
      visibility: t.field({
        type: RoomVisibilityEnum,
        required: false,
        description: 'PUBLIC lists the room in the public directory (default PRIVATE).',
      }),
      roomAliasName: t.string({
        required: false,
        description: 'The local part of an alias to create: "lobby" makes #lobby:<server>.',
      }),
      invite: t.idList({ required: false, description: 'User IDs to invite.' }),
      invite3pid: t.field({
        type: [ThirdPartyInviteInput],
        required: false,
        description: 'People to invite by a third-party identifier, e.g. an email address.',
      }),
      isDirect: t.boolean({
        required: false,
        description: 'Marks the invites as direct-message invites (see also createDirectRoom).',
      }),
      initialState: t.field({
        type: [InitialStateEventInput],
        required: false,
        description:
          'State events to set in the new room; they override the preset’s, while `name` and `topic` override them.',
      }),
      roomVersion: t.string({
        required: false,
        description: 'The room version, e.g. `11` (the homeserver’s default when absent).',
      }),
      creationContent: t.field({
        type: 'JSON',
        required: false,
        description: 'Extra `m.room.create` content, e.g. `{"m.federate": false}`.',
      }),
      powerLevelContentOverride: t.field({
        type: 'JSON',
        required: false,
        description: 'Merged over the default `m.room.power_levels` content.',
      }),
    }),
  },
  {
    description:
      'Creates a room. The payload’s room already shows the name, topic, alias and members asked for.',
    resolve: async (_root, { input }, context) => {
      const options: CreateRoomOptions = {};
      if (input.name != null) {
        options.name = requireMaxBytes(input.name, 'name', MAX_ROOM_NAME_BYTES);
      }
      if (input.topic != null) {
        options.topic = requireMaxBytes(input.topic, 'topic', MAX_BODY_BYTES);
      }
      if (input.preset != null) {
        options.preset = input.preset;
      }
      if (input.visibility != null) {
        options.visibility = input.visibility;
      }
      if (input.roomAliasName != null) {
        options.roomAliasName = requireAliasLocalpart(input.roomAliasName);
      }
      if (input.invite != null) {
        options.invite = input.invite.map((userId, index) =>
          requireUserId(String(userId), `invite[${index}]`),
        );
      }
      if (input.invite3pid != null) {
        options.invite3pid = input.invite3pid;
      }
      if (input.isDirect != null) {
        options.isDirect = input.isDirect;
      }
      if (input.initialState != null) {
        options.initialState = input.initialState.map((event) => ({
          type: event.type,
          stateKey: event.stateKey ?? '',
          content: event.content,
        }));
      }
      if (input.roomVersion != null) {
        options.roomVersion = input.roomVersion;
      }
      if (input.creationContent != null) {
        options.creationContent = input.creationContent;
      }
      if (input.powerLevelContentOverride != null) {
        options.powerLevelContentOverride = input.powerLevelContentOverride;
      }
      const { roomId } = await createRoom(context.session.viewer.client, options);
      context.session.invalidate();
      return { roomId };
    },
  },
  { outputFields: roomPayloadFields },
);

builder.relayMutationField(
  'createDirectRoom',
  {
    inputFields: (t) => ({
      userId: t.id({ required: true, description: 'The user to talk to.' }),
    }),
  },
  {
    description:
      "The direct-message room with a user: the existing one when the viewer's `m.direct` lists a room the viewer is still in, else a new `trusted_private_chat` room (invite marked direct) that is then recorded in `m.direct`.",
    resolve: async (_root, { input }, context) => {
      const userId = requireUserId(String(input.userId), 'userId');
      const { client } = context.session.viewer;
      const viewer = await context.session.viewer.whoami();
      if (userId === viewer.userId) {
        throw facadeError('BAD_USER_INPUT', 'userId: a direct room needs another user.', {
          extensions: { field: 'userId' },
        });
      }
      const list = await context.session.loaders.roomList(false);
      const existing = findDirectRoom(list.direct, userId, list.rooms);
      if (existing !== null) {
        return { roomId: existing, created: false };
      }
      const { roomId } = await createRoom(client, {
        preset: 'trusted_private_chat',
        isDirect: true,
        invite: [userId],
      });
      // Read m.direct fresh right before writing it: the room list may be older, and the event
      // replaces the whole map.
      const direct = (await getAccountData(client, viewer.userId, 'm.direct')) ?? {};
      const rooms = direct[userId];
      await setAccountData(client, viewer.userId, 'm.direct', {
        ...direct,
        [userId]: [...(Array.isArray(rooms) ? rooms : []), roomId],
      });
      context.session.invalidate();
      return { roomId, created: true };
    },
  },
  {
    outputFields: (t) => ({
      room: t.field({
        type: RoomRef,
        description: 'The direct-message room.',
        resolve: (payload) => ({ roomId: payload.roomId, listing: null }),
      }),
      created: t.exposeBoolean('created', {
        description: 'Whether the room was made now (false: it already existed).',
      }),
    }),
  },
);
