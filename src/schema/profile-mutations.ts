/**
 * The viewer's global profile: setDisplayName and setAvatarUrl (`profile.yaml`). The homeserver
 * copies the change into the viewer's member event in every room they are joined to.
 */
import { deleteProfileField, setAvatarUrl, setDisplayName } from '../matrix/account.ts';
import { builder, type Context } from './builder.ts';
import { requireMaxBytes, requireMxcUri, valueOrClear } from './mutation-support.ts';
import { UserRef } from './user.ts';

/** The longest display name the facade forwards, in bytes (Synapse's profile limit, 256). */
export const MAX_PROFILE_DISPLAY_NAME_BYTES = 256;
/** The longest avatar URL the facade forwards, in bytes (Synapse's limit, 1000). */
export const MAX_AVATAR_URL_BYTES = 1000;

/** How the value fields say the clearing rule (docs/schema.md, "Clearing values"). */
const CLEARS = '`null`, omitted, or a blank string removes it from the profile';

interface ProfilePayloadShape {
  userId: string;
}

/**
 * Sets (`PUT /profile/{userId}/{keyName}`) or removes (`DELETE`, spec v1.16) one profile field of
 * the viewer, then drops the request's caches so the payload's `user` reads the new profile.
 */
async function writeProfile(
  context: Context,
  keyName: 'displayname' | 'avatar_url',
  value: string | null,
): Promise<ProfilePayloadShape> {
  const client = context.session.viewer.client;
  const { userId } = await context.session.viewer.whoami();
  if (value === null) {
    await deleteProfileField(client, userId, keyName);
  } else if (keyName === 'displayname') {
    await setDisplayName(client, userId, value);
  } else {
    await setAvatarUrl(client, userId, value);
  }
  context.session.invalidate();
  return { userId };
}

const profilePayload = {
  outputFields: (
    t: PothosSchemaTypes.ObjectFieldBuilder<
      typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never,
      ProfilePayloadShape
    >,
  ) => ({
    user: t.field({
      type: UserRef,
      description: 'The viewer, with the profile as it is now.',
      resolve: (payload) => ({ userId: payload.userId }),
    }),
  }),
};

builder.relayMutationField(
  'setDisplayName',
  {
    inputFields: (t) => ({
      displayName: t.string({
        required: false,
        description: `The new global display name, trimmed, at most ${MAX_PROFILE_DISPLAY_NAME_BYTES} bytes. ${CLEARS} (clients then show the user ID).`,
      }),
    }),
  },
  {
    description: `Sets or removes the viewer's global display name. The homeserver also updates the viewer's member event (\`displayname\`) in every room they are joined to, shortly after. For one room only, use \`setRoomDisplayName\`. ${CLEARS}.`,
    resolve: (_root, { input }, context) => {
      const displayName = requireMaxBytes(
        valueOrClear(input.displayName)?.trim() ?? null,
        'displayName',
        MAX_PROFILE_DISPLAY_NAME_BYTES,
      );
      return writeProfile(context, 'displayname', displayName);
    },
  },
  profilePayload,
);

builder.relayMutationField(
  'setAvatarUrl',
  {
    inputFields: (t) => ({
      url: t.string({
        required: false,
        description: `The new global avatar, an \`mxc://\` URI (upload the image to the media repository first), at most ${MAX_AVATAR_URL_BYTES} bytes. ${CLEARS}.`,
      }),
    }),
  },
  {
    description: `Sets or removes the viewer's global avatar. The homeserver also updates the viewer's member event (\`avatar_url\`) in every room they are joined to, shortly after. ${CLEARS}.`,
    resolve: (_root, { input }, context) => {
      const given = valueOrClear(input.url);
      const url =
        given === null
          ? null
          : requireMxcUri(requireMaxBytes(given, 'url', MAX_AVATAR_URL_BYTES), 'url');
      return writeProfile(context, 'avatar_url', url);
    },
  },
  profilePayload,
);
