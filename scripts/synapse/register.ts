/**
 * Registers users through Synapse's shared-secret registration API
 * (`/_synapse/admin/v1/register`): GET a nonce, then POST the user with an HMAC-SHA1 over nonce,
 * user, password and admin flag, keyed by the homeserver's `registration_shared_secret`.
 */
import { createHmac, randomBytes } from 'node:crypto';

export interface RegisteredUser {
  userId: string;
  localpart: string;
  password: string;
  accessToken: string;
  deviceId: string;
}

export interface RegisterOptions {
  /** Localpart of the new user; a unique one is made from `prefix` when absent. */
  localpart?: string;
  /** @default 'user' */
  prefix?: string;
  /** @default a random password */
  password?: string;
  /** @default false */
  admin?: boolean;
}

/** A localpart unique to this run, so that tests never meet each other's users. */
export function uniqueLocalpart(prefix = 'user'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function registerUser(
  homeserverUrl: string,
  sharedSecret: string,
  options: RegisterOptions = {},
): Promise<RegisteredUser> {
  const localpart = options.localpart ?? uniqueLocalpart(options.prefix);
  const password = options.password ?? randomBytes(12).toString('hex');
  const admin = options.admin ?? false;
  const endpoint = `${homeserverUrl}/_synapse/admin/v1/register`;

  const nonceResponse = await fetch(endpoint);
  if (!nonceResponse.ok) {
    throw new Error(
      `registration nonce: HTTP ${nonceResponse.status} ${await nonceResponse.text()}`,
    );
  }
  const { nonce } = (await nonceResponse.json()) as { nonce: string };
  const mac = createHmac('sha1', sharedSecret)
    .update([nonce, localpart, password, admin ? 'admin' : 'notadmin'].join('\0'))
    .digest('hex');

  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nonce, username: localpart, password, admin, mac }),
  });
  if (!response.ok) {
    throw new Error(`registering ${localpart}: HTTP ${response.status} ${await response.text()}`);
  }
  const body = (await response.json()) as {
    user_id: string;
    access_token: string;
    device_id: string;
  };
  return {
    userId: body.user_id,
    localpart,
    password,
    accessToken: body.access_token,
    deviceId: body.device_id,
  };
}
