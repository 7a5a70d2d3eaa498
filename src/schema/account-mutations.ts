/**
 * The account and its devices under user-interactive authentication: `changePassword`
 * (`POST /account/password`) and `deleteDevice` (`DELETE /devices/{deviceId}`). Each returns its
 * payload or `AuthRequired` (src/schema/uia.ts). Passwords go only into upstream request bodies,
 * which are never logged.
 */
import { changePassword } from '../matrix/account.ts';
import { deleteDevice } from '../matrix/devices.ts';
import { builder } from './builder.ts';
import { MAX_DEVICE_ID_BYTES } from './device-input.ts';
import { facadeError } from './errors.ts';
import { requireMaxBytes, requireNonBlank } from './mutation-support.ts';
import { AuthInput, AuthRequiredRef, isAuthRequired, toUiaAuth, withUia } from './uia.ts';

/** The schema's types, as Pothos tracks them. */
type FacadeTypes =
  typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;

/** Longest new password, in bytes: far above any real one, well below the request size limit. */
const MAX_PASSWORD_BYTES = 1024;

const CLIENT_MUTATION_ID_DESCRIPTION =
  'Any value the client picks, returned unchanged as the payload’s (or `AuthRequired`’s) `clientMutationId`. It does nothing else.';

interface ChangePasswordShape {
  readonly kind: 'ChangePasswordPayload';
  clientMutationId: string | null;
}

interface DeleteDeviceShape {
  readonly kind: 'DeleteDevicePayload';
  deviceId: string;
  clientMutationId: string | null;
}

const ChangePasswordPayload = builder
  .objectRef<ChangePasswordShape>('ChangePasswordPayload')
  .implement({
    description: 'What `changePassword` did: the password is changed.',
    fields: (t) => ({
      changed: t.boolean({
        description: 'Always `true`: a password that could not be changed is an error instead.',
        resolve: () => true,
      }),
      clientMutationId: t.exposeID('clientMutationId', {
        nullable: true,
        description: 'The input’s `clientMutationId`, unchanged; `null` when none was given.',
      }),
    }),
  });

const DeleteDevicePayload = builder.objectRef<DeleteDeviceShape>('DeleteDevicePayload').implement({
  description: 'What `deleteDevice` did: the device is gone and its access token no longer works.',
  fields: (t) => ({
    deletedDeviceId: t.exposeString('deviceId', { description: 'The device deleted.' }),
    clientMutationId: t.exposeID('clientMutationId', {
      nullable: true,
      description: 'The input’s `clientMutationId`, unchanged; `null` when none was given.',
    }),
  }),
});

const ChangePasswordResult = builder.unionType('ChangePasswordResult', {
  description: '`changePassword`’s answer: done, or more authentication needed first.',
  types: [ChangePasswordPayload, AuthRequiredRef],
  resolveType: (value) => (isAuthRequired(value) ? AuthRequiredRef : ChangePasswordPayload),
});

const DeleteDeviceResult = builder.unionType('DeleteDeviceResult', {
  description: '`deleteDevice`’s answer: done, or more authentication needed first.',
  types: [DeleteDevicePayload, AuthRequiredRef],
  resolveType: (value) => (isAuthRequired(value) ? AuthRequiredRef : DeleteDevicePayload),
});

/** The fields every input of a mutation behind user-interactive authentication ends with. */
function authenticatedInputFields(
  t: PothosSchemaTypes.InputFieldBuilder<FacadeTypes, 'InputObject'>,
) {
  return {
    auth: t.field({
      type: AuthInput,
      required: false,
      description:
        'A stage of user-interactive authentication (`m.login.password` with the current password); omit it on the first call to learn the flows.',
    }),
    clientMutationId: t.id({ required: false, description: CLIENT_MUTATION_ID_DESCRIPTION }),
  };
}

const ChangePasswordInput = builder.inputType('ChangePasswordInput', {
  description: 'Input of `changePassword`.',
  fields: (t) => ({
    newPassword: t.string({ required: true, description: 'The new password. Never logged.' }),
    logoutDevices: t.boolean({
      required: false,
      defaultValue: true,
      description:
        'Whether the user’s other sessions (access tokens and their devices) are deleted once the password is changed; the caller’s own stays. `true` by default, as in Matrix.',
    }),
    ...authenticatedInputFields(t),
  }),
});

const DeleteDeviceInput = builder.inputType('DeleteDeviceInput', {
  description: 'Input of `deleteDevice`.',
  fields: (t) => ({
    deviceId: t.string({ required: true, description: 'The device to delete (`viewer.devices`).' }),
    ...authenticatedInputFields(t),
  }),
});

builder.mutationField('changePassword', (t) =>
  t.field({
    type: ChangePasswordResult,
    nullable: true,
    description:
      "Changes the viewer's password (`POST /account/password`), under user-interactive authentication: without `auth` (or with stages still missing) the answer is `AuthRequired`. A wrong current password is FORBIDDEN (`M_FORBIDDEN`).",
    args: { input: t.arg({ type: ChangePasswordInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      if (input.newPassword === '') {
        throw facadeError('BAD_USER_INPUT', 'newPassword must not be empty.', {
          extensions: { field: 'newPassword' },
        });
      }
      const newPassword = requireMaxBytes(input.newPassword, 'newPassword', MAX_PASSWORD_BYTES);
      const clientMutationId =
        input.clientMutationId == null ? null : String(input.clientMutationId);
      const auth = input.auth == null ? undefined : await toUiaAuth(input.auth, context);
      const client = context.session.viewer.client;
      return withUia(clientMutationId, async (): Promise<ChangePasswordShape> => {
        await changePassword(client, {
          newPassword,
          logoutDevices: input.logoutDevices ?? true,
          auth,
        });
        return { kind: 'ChangePasswordPayload', clientMutationId };
      });
    },
  }),
);

builder.mutationField('deleteDevice', (t) =>
  t.field({
    type: DeleteDeviceResult,
    nullable: true,
    description:
      "Deletes one of the viewer's devices (`DELETE /devices/{deviceId}`), which ends its session: its access token is UNAUTHENTICATED from then on. Under user-interactive authentication: without `auth` (or with stages still missing) the answer is `AuthRequired`. To end the caller's own session, `deleteSession` needs no password.",
    args: { input: t.arg({ type: DeleteDeviceInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const deviceId = requireMaxBytes(
        requireNonBlank(input.deviceId, 'deviceId'),
        'deviceId',
        MAX_DEVICE_ID_BYTES,
      );
      const clientMutationId =
        input.clientMutationId == null ? null : String(input.clientMutationId);
      const auth = input.auth == null ? undefined : await toUiaAuth(input.auth, context);
      const client = context.session.viewer.client;
      const result = await withUia(clientMutationId, async (): Promise<DeleteDeviceShape> => {
        await deleteDevice(client, deviceId, auth);
        return { kind: 'DeleteDevicePayload', deviceId, clientMutationId };
      });
      if (!isAuthRequired(result)) {
        context.session.invalidate();
      }
      return result;
    },
  }),
);
