/**
 * User-interactive authentication (UIA, spec "User-Interactive Authentication API"): a mutation
 * that needs it returns either its payload or `AuthRequired` (the homeserver's 401 with `flows`),
 * and takes an `auth` input to complete a stage on the next call. Other refusals keep their
 * meaning: a stage that failed (a wrong password) is FORBIDDEN with the homeserver's errcode.
 */
import type { GraphQLError } from 'graphql';
import type { UiaAuth } from '../matrix/account.ts';
import { MatrixApiError, MatrixHttpError } from '../matrix/errors.ts';
import { builder, type Context } from './builder.ts';
import { facadeError } from './errors.ts';

/** The homeserver's 401 asking for (more) authentication, as `AuthRequired` shows it. */
export interface AuthRequiredShape {
  readonly kind: 'AuthRequired';
  session: string | null;
  /** Each flow: its stage types, in order. */
  flows: string[][];
  completed: string[];
  params: Record<string, unknown>;
  clientMutationId: string | null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item) => typeof item === 'string') : [];
}

/**
 * The UIA challenge in a 401 body (`auth_response.yaml`: `flows` required), or `null` when the
 * body is no such challenge. Malformed entries are dropped rather than trusted.
 */
export function parseAuthResponse(
  body: Readonly<Record<string, unknown>>,
): Omit<AuthRequiredShape, 'kind' | 'clientMutationId'> | null {
  const flows = body['flows'];
  if (!Array.isArray(flows)) {
    return null;
  }
  const session = body['session'];
  const params = body['params'];
  return {
    session: typeof session === 'string' ? session : null,
    flows: flows.filter(isObject).map((flow) => strings(flow['stages'])),
    completed: strings(body['completed']),
    params: isObject(params) ? params : {},
  };
}

/**
 * What a failed UIA call means to the client: `AuthRequired` for a 401 asking for
 * authentication; a GraphQL error for a 401 whose stage failed (it carries an errcode: a wrong
 * password is `M_FORBIDDEN`, FORBIDDEN here, not UNAUTHENTICATED, as the token itself is fine);
 * `null` for anything else, which the central mapping handles.
 */
export function uiaOutcome(
  error: unknown,
  clientMutationId: string | null,
): AuthRequiredShape | GraphQLError | null {
  if (error instanceof MatrixHttpError && error.status === 401 && error.body !== null) {
    const challenge = parseAuthResponse(error.body);
    return challenge === null ? null : { kind: 'AuthRequired', ...challenge, clientMutationId };
  }
  if (
    error instanceof MatrixApiError &&
    error.status === 401 &&
    Array.isArray(error.body['flows'])
  ) {
    // Built without `originalError`: yoga masks a GraphQLError wrapping anything else.
    return facadeError(
      error.errcode === 'M_FORBIDDEN' ? 'FORBIDDEN' : 'BAD_USER_INPUT',
      error.error || `The homeserver refused the authentication (${error.errcode}).`,
      { extensions: { matrix: { errcode: error.errcode, status: error.status } } },
    );
  }
  return null;
}

/**
 * Runs a UIA call: its payload, or `AuthRequired` when the homeserver asks for authentication.
 */
export async function withUia<T>(
  clientMutationId: string | null,
  run: () => Promise<T>,
): Promise<T | AuthRequiredShape> {
  try {
    return await run();
  } catch (error) {
    const outcome = uiaOutcome(error, clientMutationId);
    if (outcome === null) {
      throw error;
    }
    if (outcome instanceof Error) {
      throw outcome;
    }
    return outcome;
  }
}

export function isAuthRequired(value: object): value is AuthRequiredShape {
  return 'kind' in value && value.kind === 'AuthRequired';
}

const AuthFlow = builder.objectRef<string[]>('AuthFlow').implement({
  description: 'One way to authenticate: stages to complete in order.',
  fields: (t) => ({
    stages: t.stringList({
      description: 'The stage types, in the order to complete them (e.g. `m.login.password`).',
      resolve: (stages) => stages,
    }),
  }),
});

export const AuthRequiredRef = builder.objectRef<AuthRequiredShape>('AuthRequired').implement({
  description:
    'The homeserver asks for (more) user-interactive authentication before it does what the mutation asked: complete one stage of one of `flows`, sending it as the input’s `auth` with this `session`, then call the mutation again the same way. Nothing was changed yet.',
  fields: (t) => ({
    session: t.exposeString('session', {
      nullable: true,
      description: 'The UIA session: send it back as `auth.session` on every next call.',
    }),
    flows: t.field({
      type: [AuthFlow],
      description: 'The ways to authenticate the homeserver accepts; completing any one is enough.',
      resolve: (value) => value.flows,
    }),
    completed: t.exposeStringList('completed', {
      description: 'The stages of this session already completed.',
    }),
    params: t.field({
      type: 'JSON',
      description:
        'What the client needs for each stage, keyed by stage type (e.g. `m.login.terms`’s policies); `{}` when none.',
      resolve: (value) => value.params,
    }),
    clientMutationId: t.exposeID('clientMutationId', {
      nullable: true,
      description: 'The input’s `clientMutationId`, unchanged; `null` when none was given.',
    }),
  }),
});

export const AuthInput = builder.inputType('AuthInput', {
  description:
    'One stage of user-interactive authentication (spec `auth_data.yaml`): its `type`, the `session` from `AuthRequired`, and the fields the stage needs.',
  fields: (t) => ({
    type: t.string({
      required: true,
      description: 'The stage type, one of `AuthRequired.flows`’ stages, e.g. `m.login.password`.',
    }),
    session: t.string({
      required: false,
      description: 'The `session` of the `AuthRequired` answer; omit it on a first call.',
    }),
    password: t.string({
      required: false,
      description: '`m.login.password`: the user’s current password. Never logged.',
    }),
    user: t.string({
      required: false,
      description:
        '`m.login.password`: who authenticates (a user ID or localpart); the viewer when omitted.',
    }),
    token: t.string({
      required: false,
      description: 'Token stages (e.g. `m.login.registration_token`): the token. Never logged.',
    }),
  }),
});

/** What `AuthInput` carries, as Pothos hands it to a resolver. */
export interface AuthInputShape {
  type: string;
  session?: string | null | undefined;
  password?: string | null | undefined;
  user?: string | null | undefined;
  token?: string | null | undefined;
}

/** The `auth` object to send for `input`; the viewer is the `m.login.password` user by default. */
export function toUiaAuth(input: AuthInputShape, context: Context): Promise<UiaAuth> {
  return buildUiaAuth(input, async () => (await context.session.viewer.whoami()).userId);
}

/**
 * The `auth` object to send for `input`. `defaultUser` names the `m.login.password` user when
 * `input.user` is absent; `null` adds no identifier then, for calls made by nobody signed in
 * (`register`), which must not look up a viewer.
 */
export async function buildUiaAuth(
  input: AuthInputShape,
  defaultUser: (() => Promise<string>) | null,
): Promise<UiaAuth> {
  const auth: UiaAuth = { type: input.type };
  if (input.session != null) {
    auth.session = input.session;
  }
  if (input.password != null) {
    auth['password'] = input.password;
  }
  if (input.token != null) {
    auth['token'] = input.token;
  }
  if (input.type === 'm.login.password') {
    const user = input.user ?? (defaultUser === null ? null : await defaultUser());
    if (user !== null) {
      auth['identifier'] = { type: 'm.id.user', user };
    }
  }
  return auth;
}
