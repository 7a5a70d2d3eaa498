/**
 * Runs a real Synapse from the provisioned Debian sid chroot (see provision.sh), for the tests, the
 * demo and the benchmarks: one fresh data directory per instance, loopback only, stopped by PID.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  pollUntilReady,
  type ServerProcess,
  spawnWithLog,
  startOnFreePort,
  startServer,
} from '../child-process.ts';
import { SetupError } from '../setup-error.ts';
import { ensureDebianPackages } from '../system-packages.ts';

const provisionScript = resolve(import.meta.dirname, 'provision.sh');

/** The server name of every homeserver started here: user IDs look like `@alice:localhost`. */
export const SERVER_NAME = 'localhost';

/** The server's name in error messages. */
const NAME = 'Synapse';

export interface SynapseOptions {
  /**
   * The loopback port to listen on; a free one is picked when absent.
   * @default a free port
   */
  port?: number;
  /**
   * Keep Synapse's stock rate limits instead of the relaxed test limits (for 429 tests).
   * @default false
   */
  stockRateLimits?: boolean;
  /**
   * Where the chroot lives.
   * @default $SYNAPSE_CHROOT_DIR, else ~/.cache/matrix-graphql/synapse-sid
   */
  chrootDir?: string;
  /**
   * How long to wait for `/_matrix/client/versions` to answer after the start.
   * @default 60000
   */
  readyTimeoutMs?: number;
  /**
   * Keep the data directory (database, media, log) after `stop()`.
   * @default false: removed, so that test runs leave nothing behind
   */
  keepDataDir?: boolean;
  /**
   * Open registration through `POST /register`: `'token'` asks for a registration token
   * (`m.login.registration_token`, tokens made with the admin API), `'dummy'` for nothing
   * (`m.login.dummy`). Either also turns on a password policy (at least 10 characters), so that
   * weak passwords are refused: Synapse 1.160 answers 400 with its own `M_PASSWORD_TOO_SHORT`,
   * not the spec's `M_WEAK_PASSWORD`.
   * @default registration disabled (users come from shared-secret registration only)
   */
  registration?: 'token' | 'dummy';
}

export interface RunningSynapse extends AsyncDisposable {
  /** Base URL of the client API, e.g. `http://127.0.0.1:38211`. */
  readonly url: string;
  readonly serverName: string;
  /** The secret for `/_synapse/admin/v1/register`. */
  readonly registrationSharedSecret: string;
  /** The PID of the Synapse process running now (a new one after {@link restart}). */
  readonly pid: number;
  /** This instance's own data directory; Synapse's output goes to `synapse.log` in it. */
  readonly dataDir: string;
  /**
   * Stops this Synapse and starts it again on the same port with the same data directory and
   * configuration, resolving once its client API answers: users, rooms and access tokens survive,
   * as after a real server restart. In between, connections are refused.
   */
  restart(): Promise<void>;
  /**
   * Stops this Synapse (SIGTERM, then SIGKILL after 10 s), waits for it to exit and removes its
   * data directory unless `keepDataDir` was set.
   */
  stop(): Promise<void>;
}

/** The chroot location, as provision.sh computes it. */
export function defaultChrootDir(): string {
  const env = process.env;
  if (env['SYNAPSE_CHROOT_DIR']) {
    return env['SYNAPSE_CHROOT_DIR'];
  }
  const cache = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(cache, 'matrix-graphql', 'synapse-sid');
}

/**
 * Builds the chroot if it is not there yet (about 90 s cold, nothing when cached), installing
 * debootstrap first when it is missing. Throws a {@link SetupError} with the explanation when it
 * cannot (not root, no package mirror, a failed step); the script's own progress goes to stderr.
 */
export async function provisionSynapse(chrootDir = defaultChrootDir()): Promise<void> {
  if (!existsSync(join(chrootDir, '.provisioned'))) {
    requireRoot(
      `Building the local Synapse (a Debian sid chroot at ${chrootDir}, about 90 s once)`,
    );
    await ensureDebianPackages(['debootstrap']);
  }
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn('bash', [provisionScript], {
      env: { ...process.env, SYNAPSE_CHROOT_DIR: chrootDir },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    // The script's output is shown as it comes; its closing "error: …" line (see `die` there) is
    // kept for the one message the caller prints.
    let failure: string | undefined;
    let pending = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const error = /^\[provision-synapse\] error: (.*)$/.exec(line);
        if (error) {
          failure = error[1];
        } else {
          process.stderr.write(`${line}\n`);
        }
      }
    });
    child.on('error', (error) =>
      reject(new SetupError(`could not run ${provisionScript}: ${error.message}`)),
    );
    child.on('close', (code) => {
      if (pending !== '') {
        process.stderr.write(`${pending}\n`);
      }
      if (code === 0) {
        resolvePromise();
      } else {
        reject(
          new SetupError(
            `Provisioning the Synapse chroot failed: ${failure ?? `${provisionScript} exited with ${code}`}`,
          ),
        );
      }
    });
  });
}

/** Building and running the chroot takes root (debootstrap, chroot, mount namespaces). */
function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new SetupError(
      `${what} needs root (debootstrap, chroot, mount namespaces): run this as root; it installs what it lacks itself.`,
    );
  }
}

/** Starts a Synapse on loopback and resolves once its client API answers. */
export async function startSynapse(options: SynapseOptions = {}): Promise<RunningSynapse> {
  const chrootDir = options.chrootDir ?? defaultChrootDir();
  if (!existsSync(join(chrootDir, '.provisioned'))) {
    throw new SetupError(
      `no provisioned Synapse chroot at ${chrootDir}: run \`npm run synapse:provision\` first`,
    );
  }
  requireRoot('Running the local Synapse (in a chroot, in a private mount namespace)');
  // On a port taken before Synapse binds it, Synapse exits at once and another port is tried.
  return await startOnFreePort(options.port, (port) => startOnPort(chrootDir, port, options));
}

async function startOnPort(
  chrootDir: string,
  port: number,
  options: SynapseOptions,
): Promise<RunningSynapse> {
  const dataDir = await mkdtemp(join(tmpdir(), 'synapse-'));
  const registrationSharedSecret = randomBytes(24).toString('hex');
  await writeHomeserverConfig(dataDir, port, registrationSharedSecret, options);

  const logFile = join(dataDir, 'synapse.log');
  const url = `http://127.0.0.1:${port}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const server = await startServer({
    name: NAME,
    processName: NAME,
    port,
    dataDir,
    logFile,
    keepDataDir: options.keepDataDir ?? false,
    portInUse: /Address already in use|Couldn't listen/,
    spawn: () => spawnSynapse(chrootDir, dataDir, logFile),
    waitUntilReady: (synapse) => waitUntilReady(url, synapse, readyTimeoutMs),
  });
  return Object.assign(server, { url, serverName: SERVER_NAME, registrationSharedSecret });
}

/** Starts Synapse over the prepared data directory, appending its output to `logFile`. */
function spawnSynapse(chrootDir: string, dataDir: string, logFile: string): ServerProcess {
  // exec at every step keeps one PID from setpriv to Synapse's python, so the PID we hold is
  // Synapse's own. The private mount namespace makes /proc and the data directory visible only
  // to this instance and leaves nothing mounted on the host.
  return spawnWithLog(
    NAME,
    [
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-ec',
      'mount -t proc proc "$1/proc"; mount --bind "$2" "$1/data"; cd "$1/data"; ' +
        'exec chroot "$1" python3 -m synapse.app.homeserver --config-path /data/homeserver.yaml',
      'sh',
      chrootDir,
      dataDir,
    ],
    logFile,
  );
}

async function waitUntilReady(
  url: string,
  synapse: ServerProcess,
  timeoutMs: number,
): Promise<void> {
  await pollUntilReady(
    synapse,
    NAME,
    async () => {
      try {
        const response = await fetch(`${url}/_matrix/client/versions`);
        return response.ok;
      } catch {
        return false; // not listening yet
      }
    },
    {
      timeoutMs,
      intervalMs: 100,
      timeoutMessage: `Synapse did not answer ${url}/_matrix/client/versions within ${timeoutMs} ms`,
    },
  );
}

/** The password policy of a homeserver with open registration: only the length is checked. */
const MINIMUM_PASSWORD_LENGTH = 10;

/** The configuration keys that open `POST /register` as `registration` says. */
function registrationConfig(registration: SynapseOptions['registration']): Record<string, unknown> {
  if (registration === undefined) {
    return { enable_registration: false };
  }
  return {
    enable_registration: true,
    ...(registration === 'token'
      ? { registration_requires_token: true }
      : // Synapse refuses to start with open registration and no verification unless told so.
        { enable_registration_without_verification: true }),
    password_config: { policy: { enabled: true, minimum_length: MINIMUM_PASSWORD_LENGTH } },
  };
}

/** Limits high enough that no test run meets them. */
const relaxed = { per_second: 10_000, burst_count: 100_000 };
const relaxedRateLimits = {
  rc_message: relaxed,
  rc_registration: relaxed,
  rc_login: { address: relaxed, account: relaxed, failed_attempts: relaxed },
  rc_joins: { local: relaxed, remote: relaxed },
  rc_joins_per_room: relaxed,
  rc_invites: { per_room: relaxed, per_user: relaxed, per_issuer: relaxed },
  rc_room_creation: relaxed,
  rc_admin_redaction: relaxed,
  rc_presence: { per_user: relaxed },
};

async function writeHomeserverConfig(
  dataDir: string,
  port: number,
  registrationSharedSecret: string,
  options: Pick<SynapseOptions, 'stockRateLimits' | 'registration'>,
): Promise<void> {
  await mkdir(join(dataDir, 'media_store'));
  await writeFile(join(dataDir, 'signing.key'), `${generateSigningKey()}\n`);
  await writeFile(
    join(dataDir, 'log.config'),
    JSON.stringify({
      version: 1,
      formatters: { plain: { format: '%(asctime)s %(levelname)s %(name)s: %(message)s' } },
      handlers: { console: { class: 'logging.StreamHandler', formatter: 'plain' } },
      root: { level: 'INFO', handlers: ['console'] },
      loggers: { 'synapse.storage.SQL': { level: 'WARNING' } },
      disable_existing_loggers: false,
    }),
  );
  // JSON is valid YAML, and spares us a YAML dependency. Paths are as seen inside the chroot,
  // where the data directory is bound at /data.
  const config = {
    server_name: SERVER_NAME,
    public_baseurl: `http://127.0.0.1:${port}/`,
    listeners: [
      {
        port,
        bind_addresses: ['127.0.0.1'],
        type: 'http',
        tls: false,
        x_forwarded: false,
        resources: [{ names: ['client'], compress: false }],
      },
    ],
    database: { name: 'sqlite3', args: { database: '/data/homeserver.db' } },
    log_config: '/data/log.config',
    media_store_path: '/data/media_store',
    signing_key_path: '/data/signing.key',
    registration_shared_secret: registrationSharedSecret,
    macaroon_secret_key: randomBytes(24).toString('hex'),
    form_secret: randomBytes(24).toString('hex'),
    ...registrationConfig(options.registration),
    // Password hashing dominates user registration (about 0.3 s a user at the default 12 rounds);
    // a throwaway test homeserver needs no such strength.
    bcrypt_rounds: 4,
    report_stats: false,
    // Nothing outside this machine is reachable.
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    // Let any user publish rooms and aliases, as the public-room tests do.
    room_list_publication_rules: [{ action: 'allow' }],
    alias_creation_rules: [{ action: 'allow' }],
    ...(options.stockRateLimits ? {} : relaxedRateLimits),
  };
  await writeFile(join(dataDir, 'homeserver.yaml'), JSON.stringify(config, null, 2));
}

/** An ed25519 signing key in Synapse's file format: `ed25519 <key id> <unpadded base64 seed>`. */
function generateSigningKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url')
    .toString('base64')
    .replace(/=+$/, '');
  return `ed25519 a_${randomBytes(3).toString('hex')} ${seed}`;
}
