/**
 * Account registration: `register` (`POST /register`) creates a user under user-interactive
 * authentication and signs it in, and `usernameAvailable` (`GET /register/available`) checks a
 * name first. Both need no access token, as `createSession`. Usernames are checked against the
 * spec's grammar before any upstream call; what only the homeserver knows (a taken name, its own
 * rules such as Synapse's refusal of a leading `_`, its password policy) comes back with its
 * errcode. Passwords and tokens go only into upstream request bodies, which are never logged.
 */
import type { LoginResult } from '../matrix/account.ts';
import { register, usernameAvailable } from '../matrix/registration.ts';
import { builder } from './builder.ts';
import { newDeviceFields } from './device-input.ts';
import { facadeError } from './errors.ts';
import { requireMaxBytes } from './mutation-support.ts';
import { AuthInput, AuthRequiredRef, buildUiaAuth, isAuthRequired, withUia } from './uia.ts';

/**
 * The localpart grammar for new users (spec appendix, "User Identifiers"): lower-case letters,
 * digits and `._=-/+`. Older IDs may hold more, but no homeserver may register them any more.
 */
const NEW_LOCALPART = /^[a-z0-9._=\-/+]+$/;
/**
 * Longest localpart, in bytes: a user ID is at most 255 bytes, and `@`, `:` and a server name of
 * at least one character take 3 of them. The homeserver, which knows its name, checks the rest
 * (Synapse: 400 `M_INVALID_USERNAME`).
 */
const MAX_LOCALPART_BYTES = 252;
/** Longest password, in bytes (as `changePassword`). */
const MAX_PASSWORD_BYTES = 1024;

/** A localpart a new user may have, or BAD_USER_INPUT naming `field`; never trimmed. */
export function requireNewLocalpart(value: string, field: string): string {
  if (value.startsWith('@')) {
    throw facadeError(
      'BAD_USER_INPUT',
      `${field} must be the bare localpart (alice), not a user ID (@alice:example.org).`,
      { extensions: { field } },
    );
  }
  if (!NEW_LOCALPART.test(value)) {
    throw facadeError(
      'BAD_USER_INPUT',
      `${field} may only contain lower-case letters, digits and ._=-/+ (at least one).`,
      { extensions: { field } },
    );
  }
  return requireMaxBytes(value, field, MAX_LOCALPART_BYTES);
}

interface RegisterShape extends LoginResult {
  readonly kind: 'RegisterPayload';
  clientMutationId: string | null;
}

const RegisterPayload = builder.objectRef<RegisterShape>('RegisterPayload').implement({
  description: 'What `register` did: the account exists and is signed in on a new device.',
  fields: (t) => ({
    userId: t.exposeID('userId', {
      description:
        'The full user ID registered. Its localpart may differ from the `username` asked for (the homeserver may map it).',
    }),
    accessToken: t.exposeString('accessToken', {
      description:
        'The new account’s access token: send it as `Authorization: Bearer <token>`. Keep it secret.',
    }),
    deviceId: t.exposeString('deviceId', { description: 'The device the token belongs to.' }),
    clientMutationId: t.exposeID('clientMutationId', {
      nullable: true,
      description: 'The input’s `clientMutationId`, unchanged; `null` when none was given.',
    }),
  }),
});

const RegisterResult = builder.unionType('RegisterResult', {
  description: '`register`’s answer: the new account, or more authentication needed first.',
  types: [RegisterPayload, AuthRequiredRef],
  resolveType: (value) => (isAuthRequired(value) ? AuthRequiredRef : RegisterPayload),
});

const RegisterInput = builder.inputType('RegisterInput', {
  description: 'Input of `register`. Send the same fields on every call of one registration.',
  fields: (t) => ({
    username: t.string({
      required: false,
      description:
        'The localpart wanted, bare (`alice`, not `@alice:example.org`): lower-case letters, digits and `._=-/+`. The homeserver picks one when absent, and may refuse more (Synapse: a leading `_`) with `M_INVALID_USERNAME`.',
    }),
    password: t.string({
      required: true,
      description:
        'The new account’s password, at most 1024 bytes; the homeserver’s policy may refuse it (`M_WEAK_PASSWORD`, or Synapse’s own codes such as `M_PASSWORD_TOO_SHORT`). Never logged.',
    }),
    deviceName: t.string({
      required: false,
      description: 'A display name for the new device, at most 100 characters.',
    }),
    deviceId: t.string({
      required: false,
      description: 'Use this device ID instead of a generated one, at most 255 bytes.',
    }),
    auth: t.field({
      type: AuthInput,
      required: false,
      description:
        'A stage of user-interactive authentication (e.g. `m.login.registration_token` with `token`, `m.login.dummy`); omit it on the first call to learn the flows.',
    }),
    clientMutationId: t.id({
      required: false,
      description:
        'Any value the client picks, returned unchanged as the payload’s (or `AuthRequired`’s) `clientMutationId`. It does nothing else.',
    }),
  }),
});

/** A non-empty password of at most {@link MAX_PASSWORD_BYTES}; the message never quotes it. */
function requirePassword(value: string): string {
  if (value === '') {
    throw facadeError('BAD_USER_INPUT', 'password must not be empty.', {
      extensions: { field: 'password' },
    });
  }
  return requireMaxBytes(value, 'password', MAX_PASSWORD_BYTES);
}

builder.mutationField('register', (t) =>
  t.field({
    type: RegisterResult,
    nullable: true,
    description:
      "Registers a new account (`POST /register`, kind `user`) and signs it in: the payload carries the new access token. Needs no token. Under user-interactive authentication: without `auth` (or with stages still missing) the answer is `AuthRequired`; a stage the homeserver refuses (a wrong registration token: `M_UNAUTHORIZED`) is an error with the homeserver's errcode, after which the same `session` may be tried again. A taken username (`M_USER_IN_USE`), one the homeserver refuses (`M_INVALID_USERNAME`) and a password its policy refuses are BAD_USER_INPUT, with the homeserver's errcode and status under `extensions.matrix`; closed registration is FORBIDDEN (`M_FORBIDDEN`).",
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const username =
        input.username == null ? undefined : requireNewLocalpart(input.username, 'username');
      const password = requirePassword(input.password);
      const device = newDeviceFields(input);
      const clientMutationId =
        input.clientMutationId == null ? null : String(input.clientMutationId);
      // Nobody is signed in: an `m.login.password` stage without `user` names no one.
      const auth = input.auth == null ? undefined : await buildUiaAuth(input.auth, null);
      return withUia(clientMutationId, async (): Promise<RegisterShape> => {
        const result = await register(context.session.anonymous, {
          ...(username === undefined ? {} : { username }),
          password,
          ...device,
          ...(auth === undefined ? {} : { auth }),
        });
        return { kind: 'RegisterPayload', ...result, clientMutationId };
      });
    },
  }),
);

builder.queryField('usernameAvailable', (t) =>
  t.boolean({
    description:
      'Whether `username` (a bare localpart, checked as `register`’s) is free on the homeserver now (`GET /register/available`); it is not reserved, so `register` may still find it taken. Needs no token. A name the homeserver refuses for other reasons is BAD_USER_INPUT with its errcode (`M_INVALID_USERNAME`, `M_EXCLUSIVE`); closed registration is FORBIDDEN.',
    args: {
      username: t.arg.string({
        required: true,
        description: 'The localpart to check, bare (`alice`, not `@alice:example.org`).',
      }),
    },
    resolve: (_root, { username }, context) =>
      usernameAvailable(context.session.anonymous, requireNewLocalpart(username, 'username')),
  }),
);
