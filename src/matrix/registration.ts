/**
 * Account registration (`registration.yaml`): `POST /register` for a `user` account under
 * user-interactive authentication, and `GET /register/available` to check a username first.
 * Both need no access token; send them with an anonymous client. The password goes only into the
 * request body, which is never logged.
 */
import { type LoginResult, loginResultFrom, type UiaAuth } from './account.ts';
import { MatrixApiError } from './errors.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import type { WireLoginResponse } from './wire-types.ts';

export interface Registration {
  /** The localpart wanted; the homeserver generates one when absent. */
  username?: string;
  password: string;
  /** Reuse this device ID instead of a generated one. */
  deviceId?: string;
  initialDeviceDisplayName?: string;
  /** The UIA stage to complete; absent on a first call, which learns the flows. */
  auth?: UiaAuth;
}

/**
 * `POST /register?kind=user`. Without `auth` (or with stages still missing) the homeserver
 * answers 401 with the UIA flows; a taken, invalid or refused username is 400 (`M_USER_IN_USE`,
 * `M_INVALID_USERNAME`, `M_EXCLUSIVE`), a password the homeserver's policy refuses 400
 * `M_WEAK_PASSWORD` (Synapse 1.160: its own `M_PASSWORD_TOO_SHORT` and kin), closed registration
 * 403 `M_FORBIDDEN`. Synapse checks username and password before the UIA stages. Logs the new user in: the result
 * carries the new device's access token.
 */
export async function register(
  client: MatrixClient,
  registration: Registration,
  options?: CallOptions,
): Promise<LoginResult> {
  const body = await client.send<WireLoginResponse>(
    {
      method: 'POST',
      path: clientPath`/register`,
      query: { kind: 'user' },
      anonymous: true,
      body: {
        username: registration.username,
        password: registration.password,
        device_id: registration.deviceId,
        initial_device_display_name: registration.initialDeviceDisplayName,
        inhibit_login: false,
        ...(registration.auth === undefined ? {} : { auth: registration.auth }),
      },
    },
    options,
  );
  return loginResultFrom(body);
}

/**
 * `GET /register/available`: whether `username` is free now (it is not reserved). A taken one is
 * 400 `M_USER_IN_USE`, hence `false`; any other refusal (`M_INVALID_USERNAME`, `M_EXCLUSIVE`,
 * closed registration) propagates, since it says more than "taken".
 */
export async function usernameAvailable(
  client: MatrixClient,
  username: string,
  options?: CallOptions,
): Promise<boolean> {
  try {
    const body = await client.send<{ available?: boolean }>(
      {
        method: 'GET',
        path: clientPath`/register/available`,
        query: { username },
        anonymous: true,
      },
      options,
    );
    // The spec: "This should always be `true` when the server replies with 200 OK."
    return body.available !== false;
  } catch (error) {
    if (error instanceof MatrixApiError && error.errcode === 'M_USER_IN_USE') {
      return false;
    }
    throw error;
  }
}
