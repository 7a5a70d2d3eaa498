/**
 * Starts one real Synapse for the integration tests and stops it afterwards, provisioning it first
 * when needed (as root, installing debootstrap when it is missing). With MATRIX_HOMESERVER_URL and
 * MATRIX_REGISTRATION_SHARED_SECRET set, uses that homeserver instead.
 */
import type { TestProject } from 'vitest/node';
import { describeSetupFailure, SetupError } from '../../scripts/setup-error.ts';
import {
  provisionSynapse,
  type RunningSynapse,
  startSynapse,
} from '../../scripts/synapse/homeserver.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    homeserver: {
      url: string;
      registrationSharedSecret: string;
      serverName: string;
      /** Started by this run from the local chroot (false: a homeserver named in the environment). */
      local: boolean;
    };
  }
}

const howToUseExisting =
  'To run the tests against an existing homeserver instead, set MATRIX_HOMESERVER_URL and ' +
  'MATRIX_REGISTRATION_SHARED_SECRET (its registration_shared_secret) and MATRIX_SERVER_NAME.';

let synapse: RunningSynapse | undefined;

export async function setup(project: TestProject): Promise<void> {
  const url = process.env['MATRIX_HOMESERVER_URL'];
  const secret = process.env['MATRIX_REGISTRATION_SHARED_SECRET'];
  if (url && secret) {
    project.provide('homeserver', {
      url,
      registrationSharedSecret: secret,
      serverName: process.env['MATRIX_SERVER_NAME'] ?? new URL(url).hostname,
      local: false,
    });
    return;
  }
  try {
    await provisionSynapse();
    synapse = await startSynapse();
  } catch (error) {
    throw new SetupError(
      `The ${project.name} tests need a real Synapse and could not start one.\n${describeSetupFailure(error)}\n${howToUseExisting}`,
    );
  }
  project.provide('homeserver', {
    url: synapse.url,
    registrationSharedSecret: synapse.registrationSharedSecret,
    serverName: synapse.serverName,
    local: true,
  });
}

export async function teardown(): Promise<void> {
  await synapse?.stop();
}
