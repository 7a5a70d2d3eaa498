/**
 * What an integration test needs from the homeserver the global setup started: its address, fresh
 * users, and upstream clients acting as them.
 */
import { inject, type ProvidedContext } from 'vitest';
import { type RegisteredUser, registerUser } from '../../scripts/synapse/register.ts';
import { Upstream, type UpstreamOptions } from '../../src/matrix/http.ts';
import type { MatrixClient } from '../../src/matrix/matrix-client.ts';

export type { RegisteredUser };

/** The homeserver under test. */
export function homeserver(): ProvidedContext['homeserver'] {
  return inject('homeserver');
}

/** Registers a new user with a unique localpart starting with `prefix`. */
export function newUser(
  prefix = 'user',
  options: { admin?: boolean } = {},
): Promise<RegisteredUser> {
  const { url, registrationSharedSecret } = homeserver();
  return registerUser(url, registrationSharedSecret, { prefix, ...options });
}

/** An upstream to the homeserver under test (or to `homeserverUrl`, e.g. a fault proxy). */
export function newUpstream(options: Partial<UpstreamOptions> = {}): Upstream & AsyncDisposable {
  const upstream = new Upstream({ homeserverUrl: homeserver().url, ...options });
  return Object.assign(upstream, { [Symbol.asyncDispose]: () => upstream.close() });
}

/** Registers a user and returns a client acting as them. */
export async function newUserClient(
  upstream: Upstream,
  prefix = 'user',
): Promise<{ user: RegisteredUser; client: MatrixClient }> {
  const user = await newUser(prefix);
  return { user, client: upstream.client(user.accessToken) };
}
