/** Users: the `User` node, `user(id:)`, and profile fields shared with the viewer. */

import type { Profile } from '../matrix/account.ts';
import { absentAsNull } from '../matrix/policy.ts';
import { builder, type Context } from './builder.ts';
import { requireUserId } from './matrix-ids.ts';

export interface UserShape {
  userId: string;
}

/**
 * The user's global profile; `null` when the homeserver knows no profile for them (Synapse
 * answers 404 with `M_UNKNOWN` or `M_NOT_FOUND` for users that do not exist).
 */
export function profileOf(context: Context, userId: string): Promise<Profile | null> {
  return absentAsNull(context.session.loaders.profile.load(userId));
}

export const UserRef = builder.objectRef<UserShape>('User');

builder.node(UserRef, {
  description: 'A Matrix user. Its ID is the user ID, e.g. `@alice:example.org`.',
  id: { resolve: (user) => user.userId },
  // See Room's isTypeOf: a User value has `userId` and never a room's `listing`.
  isTypeOf: (value) =>
    typeof value === 'object' && value !== null && 'userId' in value && !('listing' in value),
  loadOne: (id, context) => loadUser(context, id),
  fields: (t) => ({
    displayName: t.string({
      nullable: true,
      description: 'The global display name (a room may show another: see `RoomMember`).',
      resolve: async (user, _args, context) =>
        (await profileOf(context, user.userId))?.displayName ?? null,
    }),
    avatarUrl: t.string({
      nullable: true,
      description: 'The global avatar, an `mxc://` URI.',
      resolve: async (user, _args, context) =>
        (await profileOf(context, user.userId))?.avatarUrl ?? null,
    }),
  }),
});

/** The user, or `null` when the homeserver has no profile for that ID. */
async function loadUser(context: Context, id: string): Promise<UserShape | null> {
  const userId = requireUserId(id, 'id');
  return (await profileOf(context, userId)) === null ? null : { userId };
}

builder.queryField('user', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'A user by ID; `null` when the homeserver knows no such user.',
    args: {
      id: t.arg.id({ required: true, description: 'A user ID, e.g. `@alice:example.org`.' }),
    },
    resolve: (_root, args, context) => loadUser(context, String(args.id)),
  }),
);
