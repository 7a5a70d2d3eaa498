/** The caller: `viewer` and its type. */
import type { Whoami } from '../matrix/account.ts';
import { builder } from './builder.ts';
import { profileOf } from './user.ts';

const Viewer = builder.objectRef<Whoami>('Viewer').implement({
  description: 'The user whose access token made the request.',
  fields: (t) => ({
    userId: t.exposeID('userId', { description: 'The Matrix user ID, e.g. `@alice:example.org`.' }),
    deviceId: t.exposeString('deviceId', {
      nullable: true,
      description: 'The device the access token belongs to (absent for application services).',
    }),
    displayName: t.string({
      nullable: true,
      description: 'The global display name.',
      resolve: async (viewer, _args, context) =>
        (await profileOf(context, viewer.userId))?.displayName ?? null,
    }),
    avatarUrl: t.string({
      nullable: true,
      description: 'The global avatar, an `mxc://` URI.',
      resolve: async (viewer, _args, context) =>
        (await profileOf(context, viewer.userId))?.avatarUrl ?? null,
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    description: 'The user making the request. Requires an access token.',
    resolve: (_root, _args, context) => context.session.viewer.whoami(),
  }),
);
