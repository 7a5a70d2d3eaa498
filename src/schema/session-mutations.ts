/**
 * Sessions: `createSession` (Matrix login) trades a user's password for an access token (the one
 * mutation that needs none), `deleteSession` (Matrix logout) invalidates the caller's token. The password goes only into the upstream
 * request body, which is never logged (see the log test in session-mutations.test.ts).
 */
import { type LoginResult, login, logout } from '../matrix/account.ts';
import { MatrixApiError } from '../matrix/errors.ts';
import { builder } from './builder.ts';
import { newDeviceFields } from './device-input.ts';
import { facadeError } from './errors.ts';
import { requireUserId } from './matrix-ids.ts';
import { requireMaxBytes, requireNonBlank } from './mutation-support.ts';

/** User IDs are at most 255 bytes (spec appendix, "User Identifiers"); so then is a localpart. */
const MAX_USER_BYTES = 255;

/** A full user ID (checked) or a bare localpart, trimmed. */
function requireLoginUser(value: string): string {
  const user = requireNonBlank(value, 'user');
  return user.startsWith('@')
    ? requireUserId(user, 'user')
    : requireMaxBytes(user, 'user', MAX_USER_BYTES);
}

/**
 * Wrong credentials are an authentication failure, not a refusal: the homeserver answers 403
 * (`M_FORBIDDEN`, or `M_USER_DEACTIVATED`), which the central mapping would call FORBIDDEN.
 * The error is built without `originalError`, since yoga masks a GraphQLError wrapping anything
 * but another GraphQLError; `extensions.matrix` keeps the homeserver's verdict.
 */
function loginFailure(error: unknown): unknown {
  if (error instanceof MatrixApiError && error.status === 403) {
    return facadeError('UNAUTHENTICATED', error.error || 'Wrong user or password.', {
      extensions: { matrix: { errcode: error.errcode, status: error.status } },
    });
  }
  return error;
}

builder.relayMutationField(
  'createSession',
  {
    description: 'Input of `createSession`.',
    inputFields: (t) => ({
      user: t.string({
        required: true,
        description: 'A full user ID (`@alice:example.org`) or just the localpart (`alice`).',
      }),
      password: t.string({ required: true, description: 'The user’s password. Never logged.' }),
      deviceName: t.string({
        required: false,
        description:
          'A display name for the new device, at most 100 characters (ignored when `deviceId` names an existing one).',
      }),
      deviceId: t.string({
        required: false,
        description:
          'Use this device ID instead of a new one: an existing device gets the new token (its previous one may stop working), an unknown ID becomes a new device.',
      }),
    }),
  },
  {
    description:
      "Creates a session: a Matrix login with a password (`POST /login`, `m.login.password`) that returns a new access token and device. Needs no token. Wrong credentials are UNAUTHENTICATED, with the homeserver's errcode under `extensions.matrix`.",
    resolve: async (_root, { input }, context): Promise<LoginResult> => {
      const user = requireLoginUser(input.user);
      if (input.password === '') {
        throw facadeError('BAD_USER_INPUT', 'password must not be empty.', {
          extensions: { field: 'password' },
        });
      }
      const device = newDeviceFields(input);
      try {
        return await login(context.session.anonymous, {
          user,
          password: input.password,
          ...device,
        });
      } catch (error) {
        throw loginFailure(error);
      }
    },
  },
  {
    outputFields: (t) => ({
      accessToken: t.exposeString('accessToken', {
        description:
          'The new access token: send it as `Authorization: Bearer <token>`. Keep it secret.',
      }),
      userId: t.exposeID('userId', { description: 'The full user ID logged in.' }),
      deviceId: t.exposeString('deviceId', { description: 'The device the token belongs to.' }),
    }),
  },
);

builder.relayMutationField(
  'deleteSession',
  {
    description:
      'Input of `deleteSession`: only `clientMutationId`, since the session is the caller’s.',
    inputFields: () => ({}),
  },
  {
    description:
      "Deletes the caller's session: a Matrix logout (`POST /logout`) that invalidates the access token the request carries and deletes its device. Later requests with that token are UNAUTHENTICATED; the user's other sessions are untouched.",
    resolve: async (_root, _args, context) => {
      await logout(context.session.viewer.client);
      context.session.invalidate();
      return { deleted: true };
    },
  },
  {
    outputFields: (t) => ({
      deleted: t.exposeBoolean('deleted', {
        description: 'Always `true`: a session that could not be deleted is an error instead.',
      }),
    }),
  },
);
