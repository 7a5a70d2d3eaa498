/**
 * Who the caller is and what is theirs: whoami, login/logout, profile, account data.
 * (`whoami.yaml`, `login.yaml`, `logout.yaml`, `profile.yaml`, `account-data.yaml`)
 */

import type { JsonObject } from './events.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';
import { absentAsNull } from './policy.ts';
import type { WireLoginResponse } from './wire-types.ts';

export interface Whoami {
  userId: string;
  /** Absent for application-service tokens. */
  deviceId: string | null;
  isGuest: boolean;
}

export async function whoami(client: MatrixClient, options?: CallOptions): Promise<Whoami> {
  const body = await client.send<{ user_id: string; device_id?: string; is_guest?: boolean }>(
    { method: 'GET', path: clientPath`/account/whoami`, touchesRooms: false },
    options,
  );
  if (client.accessToken !== null) {
    client.upstream.acceptedTokens.identified(client.accessToken, body.user_id);
  }
  return {
    userId: body.user_id,
    deviceId: body.device_id ?? null,
    isGuest: body.is_guest ?? false,
  };
}

export interface PasswordLogin {
  /** A full user ID (`@alice:example.org`) or just the localpart (`alice`). */
  user: string;
  password: string;
  /** Reuse an existing device instead of creating a new one. */
  deviceId?: string;
  initialDeviceDisplayName?: string;
}

export interface LoginResult {
  userId: string;
  accessToken: string;
  deviceId: string;
  /** Set when the homeserver issues expiring tokens. */
  expiresInMs: number | null;
}

/** `m.login.password` with an `m.id.user` identifier. Send it with an anonymous client. */
export async function login(
  client: MatrixClient,
  credentials: PasswordLogin,
  options?: CallOptions,
): Promise<LoginResult> {
  const body = await client.send<WireLoginResponse>(
    {
      method: 'POST',
      path: clientPath`/login`,
      anonymous: true,
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: credentials.user },
        password: credentials.password,
        device_id: credentials.deviceId,
        initial_device_display_name: credentials.initialDeviceDisplayName,
      },
    },
    options,
  );
  return loginResultFrom(body);
}

/** The new session in a login (or registration) answer. */
export function loginResultFrom(body: WireLoginResponse): LoginResult {
  return {
    userId: body.user_id,
    accessToken: body.access_token,
    deviceId: body.device_id,
    expiresInMs: body.expires_in_ms ?? null,
  };
}

/** Invalidates the client's access token (and deletes its device). */
export async function logout(client: MatrixClient, options?: CallOptions): Promise<void> {
  await client.send({ method: 'POST', path: clientPath`/logout`, body: {} }, options);
  // Gone now: its next request checks it before running calls side by side.
  if (client.accessToken !== null) {
    client.upstream.acceptedTokens.refused(client.accessToken);
  }
}

export interface Profile {
  displayName: string | null;
  avatarUrl: string | null;
}

export async function getProfile(
  client: MatrixClient,
  userId: string,
  options?: CallOptions,
): Promise<Profile> {
  const body = await client.send<{ displayname?: string | null; avatar_url?: string | null }>(
    { method: 'GET', path: clientPath`/profile/${userId}` },
    options,
  );
  return { displayName: body.displayname ?? null, avatarUrl: body.avatar_url ?? null };
}

export async function setDisplayName(
  client: MatrixClient,
  userId: string,
  displayName: string,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    {
      method: 'PUT',
      path: clientPath`/profile/${userId}/displayname`,
      body: { displayname: displayName },
    },
    options,
  );
}

/** `avatarUrl` must be an `mxc://` URI. */
export async function setAvatarUrl(
  client: MatrixClient,
  userId: string,
  avatarUrl: string,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    {
      method: 'PUT',
      path: clientPath`/profile/${userId}/avatar_url`,
      body: { avatar_url: avatarUrl },
    },
    options,
  );
}

/**
 * Removes one field of the caller's profile (`DELETE /profile/{userId}/{keyName}`, spec v1.16),
 * e.g. `displayname` or `avatar_url`.
 */
export async function deleteProfileField(
  client: MatrixClient,
  userId: string,
  keyName: string,
  options?: CallOptions,
): Promise<void> {
  await client.send({ method: 'DELETE', path: clientPath`/profile/${userId}/${keyName}` }, options);
}

/** Global account data of `type` (e.g. `m.direct`); `null` when the user has none of that type. */
export function getAccountData(
  client: MatrixClient,
  userId: string,
  type: string,
  options?: CallOptions,
): Promise<JsonObject | null> {
  return absentAsNull(
    client.send<JsonObject>(
      { method: 'GET', path: clientPath`/user/${userId}/account_data/${type}` },
      options,
    ),
  );
}

/** Room account data of `type` (e.g. `m.fully_read`); `null` when the user has none there. */
export function getRoomAccountData(
  client: MatrixClient,
  userId: string,
  roomId: string,
  type: string,
  options?: CallOptions,
): Promise<JsonObject | null> {
  return absentAsNull(
    client.send<JsonObject>(
      { method: 'GET', path: clientPath`/user/${userId}/rooms/${roomId}/account_data/${type}` },
      options,
    ),
  );
}

export async function setAccountData(
  client: MatrixClient,
  userId: string,
  type: string,
  content: JsonObject,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    { method: 'PUT', path: clientPath`/user/${userId}/account_data/${type}`, body: content },
    options,
  );
}

/**
 * The `auth` object of a request under user-interactive authentication (`auth_data.yaml`): the
 * stage `type`, the `session` the homeserver gave, and the stage's own keys.
 */
export interface UiaAuth {
  type?: string;
  session?: string;
  [key: string]: unknown;
}

/**
 * `POST /account/password`. Without `auth` (or with an incomplete one) the homeserver answers 401
 * with the UIA flows. `logoutDevices` (spec default `true`) also revokes the user's other tokens.
 */
export async function changePassword(
  client: MatrixClient,
  request: { newPassword: string; logoutDevices: boolean; auth: UiaAuth | undefined },
  options?: CallOptions,
): Promise<void> {
  await client.send(
    {
      method: 'POST',
      path: clientPath`/account/password`,
      body: {
        new_password: request.newPassword,
        logout_devices: request.logoutDevices,
        ...(request.auth === undefined ? {} : { auth: request.auth }),
      },
    },
    options,
  );
}

/** A third-party identifier bound to the account (`GET /account/3pid`). */
export interface Threepid {
  /** `email` or `msisdn`. */
  medium: string;
  address: string;
  /** Milliseconds since the epoch. */
  validatedAt: number;
  addedAt: number;
}

export async function getThreepids(
  client: MatrixClient,
  options?: CallOptions,
): Promise<Threepid[]> {
  const body = await client.send<{
    threepids?: { medium: string; address: string; validated_at: number; added_at: number }[];
  }>({ method: 'GET', path: clientPath`/account/3pid` }, options);
  return (body.threepids ?? []).map((threepid) => ({
    medium: threepid.medium,
    address: threepid.address,
    validatedAt: threepid.validated_at,
    addedAt: threepid.added_at,
  }));
}
