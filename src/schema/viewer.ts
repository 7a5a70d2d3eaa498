/** The caller: `viewer` and its type. */
import { type Whoami, whoami } from '../matrix/account.ts';
import { builder } from './builder.ts';
import { viewerClient } from './errors.ts';

const Viewer = builder.objectRef<Whoami>('Viewer').implement({
  description: 'The user whose access token made the request.',
  fields: (t) => ({
    userId: t.exposeID('userId', { description: 'The Matrix user ID, e.g. `@alice:example.org`.' }),
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
    resolve: (_root, _args, context) => whoami(viewerClient(context)),
  }),
);
