/**
 * `npm run demo`: the facade on a real local homeserver in one command. Installs what the machine
 * lacks (debootstrap, as root) and provisions the Synapse chroot when needed (about 90 s the first
 * time), starts Synapse on a free loopback port with a fresh data directory, registers a demo user
 * with a room, starts the facade and prints what to paste into GraphiQL. Ctrl-C stops both. An
 * expected failure (not root, no package mirror, a port in use) ends with one message, exit 1.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { Upstream } from '../src/matrix/http.ts';
import { sendMessageEvent } from '../src/matrix/room-events.ts';
import { createRoom } from '../src/matrix/rooms.ts';
import { type App, buildApp } from '../src/server/app.ts';
import { SetupError } from './setup-error.ts';
import { provisionSynapse, type RunningSynapse, startSynapse } from './synapse/homeserver.ts';
import { type RegisteredUser, registerUser } from './synapse/register.ts';

let synapse: RunningSynapse | undefined;
let app: App | undefined;
let stopped: Promise<void> | undefined;

/**
 * Stops what has started (the facade, then Synapse) and exits with `code`; a second call (Ctrl-C
 * while a failed start-up stops) waits for the same stop.
 */
async function stop(code: number): Promise<never> {
  stopped ??= (async () => {
    await app?.stop();
    await synapse?.stop();
  })();
  try {
    await stopped;
  } catch (error) {
    process.stderr.write(`npm run demo could not stop cleanly: ${describeFailure(error)}\n`);
    process.exit(1);
  }
  process.exit(code);
}
// Set before anything starts, so that Ctrl-C during the start-up stops what has started so far.
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

const started = await start().catch((error: unknown) => {
  process.stderr.write(`\nnpm run demo could not start: ${describeFailure(error)}\n`);
  return stop(1);
});
const { url, alice } = started;

process.stdout.write(`
  Synapse      ${started.synapse.url}  (pid ${started.synapse.pid}; its data directory is removed on exit)
  GraphiQL     ${url}/graphql
  User         ${alice.userId}  password ${alice.password}

  GraphiQL opens with an example query (you and your rooms). Open its "Headers" tab (below the
  query editor), paste:
    { "Authorization": "Bearer ${alice.accessToken}" }
  and run the query with ▶ (or Ctrl-Enter).

  Or from a shell:
    curl -s ${url}/graphql -H 'content-type: application/json' \\
      -H 'authorization: Bearer ${alice.accessToken}' \\
      -d '{"query":"{ viewer { userId deviceId } }"}'

  Ctrl-C stops the facade and Synapse.
`);

/** Starts Synapse and the facade, kept in `synapse` and `app` as they start (for `stop`). */
async function start(): Promise<{ synapse: RunningSynapse; url: string; alice: RegisteredUser }> {
  await provisionSynapse();
  synapse = await startSynapse();
  const alice = await registerUser(synapse.url, synapse.registrationSharedSecret, {
    localpart: 'alice',
  });
  await createDemoRoom(synapse.url, alice.accessToken);
  const config = loadConfig({ ...process.env, MATRIX_HOMESERVER_URL: synapse.url });
  app = buildApp({ config, logger: createLogger(config.logLevel) });
  return { synapse, url: await app.start(), alice };
}

/** A room with a first message, so that the example query shows something. */
async function createDemoRoom(homeserverUrl: string, accessToken: string): Promise<void> {
  const upstream = new Upstream({ homeserverUrl });
  try {
    const client = upstream.client(accessToken);
    const { roomId } = await createRoom(client, {
      name: 'Demo room',
      topic: 'Created by npm run demo',
    });
    await sendMessageEvent(client, roomId, 'm.room.message', randomUUID(), {
      msgtype: 'm.text',
      body: 'Hello from npm run demo',
    });
  } finally {
    await upstream.close();
  }
}

/**
 * The message of an expected failure alone (the set-up's own, a bad variable, a taken port);
 * anything else with its stack, being a bug.
 */
function describeFailure(error: unknown): string {
  if (error instanceof SetupError || error instanceof ConfigError) {
    return error.message;
  }
  if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    return `${error.message}: set PORT to a free port, or PORT=0 for any.`;
  }
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
