/**
 * The Debian packages the demo and the tests need on this machine (debootstrap to build the
 * Synapse chroot, chromium for the browser test), installed on first use so that the README's
 * commands do all the set-up themselves. As root, a missing package is installed with apt-get;
 * otherwise a {@link SetupError} says exactly what to run.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SetupError } from './setup-error.ts';

export interface DebianPackage {
  /** The package's name, as apt-get takes it. */
  readonly name: string;
  /** A command the package installs: the package counts as present when it is on `PATH`. */
  readonly command: string;
}

export interface EnsurePackagesOptions {
  /**
   * Where progress lines go (an install can take a minute).
   * @default a line on stderr
   */
  log?: (line: string) => void;
}

/**
 * Makes sure each package's command is on `PATH`, installing the packages that lack it (a string
 * names a package whose command has the same name: `debootstrap`, `chromium`, `redis-server`).
 * Nothing runs when every command is there. Throws a {@link SetupError} when a package is missing
 * and this process cannot install it (not root, not Debian) or apt-get fails (no package mirror).
 */
export async function ensureDebianPackages(
  packages: readonly (string | DebianPackage)[],
  options: EnsurePackagesOptions = {},
): Promise<void> {
  const log =
    options.log ?? ((line: string) => process.stderr.write(`[system-packages] ${line}\n`));
  const missing = packages
    .map((entry) => (typeof entry === 'string' ? { name: entry, command: entry } : entry))
    .filter((entry) => findCommand(entry.command) === null);
  if (missing.length === 0) {
    return;
  }
  const names = missing.map((entry) => entry.name).join(' ');
  const what = `${missing.length === 1 ? 'the Debian package' : 'the Debian packages'} ${names} (${missing
    .map((entry) => `\`${entry.command}\``)
    .join(', ')} not found on PATH)`;
  if (!existsSync('/usr/bin/apt-get')) {
    throw new SetupError(
      `This needs ${what}, and this machine has no apt-get: install them with its package manager, then run this again.`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new SetupError(
      `This needs ${what}. Install as root, then run this again:\n  apt-get update && apt-get install -y ${names}`,
    );
  }
  log(`installing ${names} with apt-get ...`);
  const started = performance.now();
  await updatePackageLists();
  await aptGet(['install', '-y', '-q', ...missing.map((entry) => entry.name)]);
  const stillMissing = missing.filter((entry) => findCommand(entry.command) === null);
  if (stillMissing.length > 0) {
    throw new SetupError(
      `apt-get installed ${names}, yet ${stillMissing.map((entry) => `\`${entry.command}\``).join(', ')} is not on PATH (${process.env['PATH'] ?? ''}).`,
    );
  }
  log(`installed ${names} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** The full path of `command` on `PATH` (as `command -v` finds it), or `null`. */
export function findCommand(command: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') {
      continue;
    }
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return null;
}

// One `apt-get update` per process, however many packages are installed after it.
let packageLists: Promise<void> | undefined;
function updatePackageLists(): Promise<void> {
  packageLists ??= aptGet(['update', '-q']);
  return packageLists;
}

/** How much of apt-get's output a failure shows: its last lines say what went wrong. */
const TAIL_LINES = 15;

/**
 * Runs apt-get without questions, its output kept for the error message. Two runs at once (the
 * test projects' set-ups) wait for each other's lock instead of failing on it.
 */
function aptGet(args: readonly string[]): Promise<void> {
  const argv = ['-o', 'DPkg::Lock::Timeout=600', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', argv, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      // The tail is all a failure shows; a long install need not stay in memory.
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => reject(new SetupError(`could not run apt-get: ${error.message}`)));
    child.on('close', (code) => {
      if (code === 0) {
        resolve();
        return;
      }
      const tail = output.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
      reject(
        new SetupError(
          `\`apt-get ${args.join(' ')}\` failed (exit ${code}); is a Debian package mirror reachable? Its last lines:\n${tail}`,
        ),
      );
    });
  });
}
