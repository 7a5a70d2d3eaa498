/**
 * The browser tests drive Debian's Chromium: installed here when it is missing (as root, through
 * the same mechanism as the demo's debootstrap; otherwise the message says what to run).
 */
import { describeSetupFailure, SetupError } from '../../scripts/setup-error.ts';
import { ensureDebianPackages } from '../../scripts/system-packages.ts';

export async function setup(): Promise<void> {
  try {
    await ensureDebianPackages(['chromium']);
  } catch (error) {
    throw new SetupError(`The browser tests need Chromium.\n${describeSetupFailure(error)}`);
  }
}
