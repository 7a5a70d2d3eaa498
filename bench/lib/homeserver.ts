/**
 * The homeserver a bench runs against: the one named by MATRIX_HOMESERVER_URL and
 * MATRIX_REGISTRATION_SHARED_SECRET, else a fresh local Synapse from the project's chroot
 * (provisioned first when needed), stopped when disposed.
 */
import { provisionSynapse, startSynapse } from '../../scripts/synapse/homeserver.ts';

export interface BenchHomeserver extends AsyncDisposable {
  readonly url: string;
  /** Its `registration_shared_secret`, for registering the bench's users. */
  readonly sharedSecret: string;
}

export async function benchHomeserver(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<BenchHomeserver> {
  const url = env['MATRIX_HOMESERVER_URL'];
  const sharedSecret = env['MATRIX_REGISTRATION_SHARED_SECRET'];
  if (url && sharedSecret) {
    return { url, sharedSecret, [Symbol.asyncDispose]: async () => {} };
  }
  await provisionSynapse();
  const synapse = await startSynapse();
  return {
    url: synapse.url,
    sharedSecret: synapse.registrationSharedSecret,
    [Symbol.asyncDispose]: () => synapse.stop(),
  };
}
