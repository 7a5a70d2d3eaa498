/** The caller: `viewer` and its type. */
import { getThreepids, type Threepid, type Whoami } from '../matrix/account.ts';
import { type Device, listDevices } from '../matrix/devices.ts';
import { builder } from './builder.ts';
import { UserRef } from './user.ts';

const DeviceRef = builder.objectRef<Device>('UserDevice').implement({
  description:
    'One of the viewer’s devices: a session (access token) of their account, as `GET /devices` lists it.',
  fields: (t) => ({
    deviceId: t.exposeString('deviceId', {
      description: 'The device ID, unique among the user’s devices (`deleteDevice` takes it).',
    }),
    displayName: t.exposeString('displayName', {
      nullable: true,
      description: 'The name the device was given (e.g. at `createSession`); `null` when none.',
    }),
    lastSeenIp: t.exposeString('lastSeenIp', {
      nullable: true,
      description:
        'The IP address the device was last seen from, as the homeserver recorded it; `null` when unknown. Only the account’s owner sees it (it is personal data: do not share or log it).',
    }),
    lastSeenAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the device was last seen; `null` when unknown.',
      resolve: (device) => (device.lastSeenTs === null ? null : new Date(device.lastSeenTs)),
    }),
  }),
});

const ThirdPartyIdentifierRef = builder.objectRef<Threepid>('ThirdPartyIdentifier').implement({
  description:
    'A third-party identifier (an email address or phone number) bound to the viewer’s account, as `GET /account/3pid` lists it.',
  fields: (t) => ({
    medium: t.exposeString('medium', {
      description: 'The kind of identifier: `email` or `msisdn` (a phone number).',
    }),
    address: t.exposeString('address', {
      description: 'The address itself (phone numbers in international form, without `+`).',
    }),
    validatedAt: t.field({
      type: 'DateTime',
      description: 'When the identifier was validated.',
      resolve: (threepid) => new Date(threepid.validatedAt),
    }),
    addedAt: t.field({
      type: 'DateTime',
      description: 'When the identifier was bound to the account.',
      resolve: (threepid) => new Date(threepid.addedAt),
    }),
  }),
});

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
    devices: t.field({
      type: [DeviceRef],
      description:
        'Every device (session) of the viewer’s account, the current one included (`GET /devices`). One upstream call.',
      resolve: (_viewer, _args, context) => listDevices(context.session.viewer.client),
    }),
    threepids: t.field({
      type: [ThirdPartyIdentifierRef],
      description:
        'The email addresses and phone numbers bound to the viewer’s account (`GET /account/3pid`); empty when none. One upstream call.',
      resolve: (_viewer, _args, context) => getThreepids(context.session.viewer.client),
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
