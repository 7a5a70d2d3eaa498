/**
 * `npm run demo`: the facade on a real local homeserver in one command. Provisions the Synapse
 * chroot when needed (about 90 s the first time), starts Synapse on a free loopback port with a
 * fresh data directory, registers a demo user, starts the facade and prints what to paste into
 * GraphiQL. Ctrl-C stops both.
 */
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { buildApp } from '../src/server/app.ts';
import { provisionSynapse, startSynapse } from './synapse/homeserver.ts';
import { registerUser } from './synapse/register.ts';

await provisionSynapse();
const synapse = await startSynapse();
const alice = await registerUser(synapse.url, synapse.registrationSharedSecret, {
  localpart: 'alice',
});

const config = loadConfig({ ...process.env, MATRIX_HOMESERVER_URL: synapse.url });
const app = buildApp({ config, logger: createLogger(config.logLevel) });
let url: string;
try {
  url = await app.start();
} catch (error) {
  await synapse.stop();
  throw error;
}

process.stdout.write(`
  Synapse      ${synapse.url}  (pid ${synapse.pid}; its data directory is removed on exit)
  GraphiQL     ${url}/graphql
  User         ${alice.userId}  password ${alice.password}

  In GraphiQL, open "Headers" and paste:
    { "Authorization": "Bearer ${alice.accessToken}" }
  then run:
    { viewer { userId deviceId } }

  Or from a shell:
    curl -s ${url}/graphql -H 'content-type: application/json' \\
      -H 'authorization: Bearer ${alice.accessToken}' \\
      -d '{"query":"{ viewer { userId deviceId } }"}'

  Ctrl-C stops the facade and Synapse.
`);

let stopping = false;
const stop = async () => {
  if (stopping) {
    return;
  }
  stopping = true;
  await app.stop();
  await synapse.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
