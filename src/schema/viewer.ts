/** The caller: `viewer` and its type. */
import type { Whoami } from '../matrix/account.ts';
import { builder } from './builder.ts';
import { UserRef } from './user.ts';

const Viewer = builder.objectRef<Whoami>('Viewer').implement({
  description:
    'The user whose access token made the request, and the session of that token. Profile fields are on `user`.',
  fields: (t) => ({
    userId: t.exposeID('userId', { description: 'The Matrix user ID, e.g. `@alice:example.org`.' }),
    user: t.field({
      type: UserRef,
      description: 'The viewer as a `User` (display name, avatar).',
      resolve: (viewer) => ({ userId: viewer.userId }),
    }),
    deviceId: t.exposeString('deviceId', {
      nullable: true,
      description: 'The device the access token belongs to (absent for application services).',
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
