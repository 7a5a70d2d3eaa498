/**
 * `npm run bench:rooms`: what a room list costs through the facade, for a user in 50 rooms of 6
 * members and 10 messages each (the shape the issue measured). Times `rooms(first: 50)` with only
 * summary fields (one filtered /sync) and with a member list per room (/sync + one /state a room),
 * and counts the upstream calls of each. Prints figures; asserts nothing.
 *
 *   BENCH_ROOMS   rooms (default 50)      BENCH_RUNS   timed runs per query (default 10)
 */
import { Agent } from 'undici';
import { provisionSynapse, startSynapse } from '../scripts/synapse/homeserver.ts';
import { registerUser } from '../scripts/synapse/register.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { Upstream } from '../src/matrix/http.ts';
import { sendMessageEvent } from '../src/matrix/room-events.ts';
import { createRoom, joinRoom } from '../src/matrix/rooms.ts';
import { buildApp } from '../src/server/app.ts';

const roomCount = Number(process.env['BENCH_ROOMS'] ?? 50);
const runs = Number(process.env['BENCH_RUNS'] ?? 10);

await provisionSynapse();
await using synapse = await startSynapse();
const users = await Promise.all(
  Array.from({ length: 6 }, (_, index) =>
    registerUser(synapse.url, synapse.registrationSharedSecret, { prefix: `bench${index}` }),
  ),
);
const setup = new Upstream({ homeserverUrl: synapse.url });
const [owner, ...others] = users.map((user) => setup.client(user.accessToken));
if (!owner) {
  throw new Error('no users');
}
process.stdout.write(`seeding ${roomCount} rooms ...\n`);
for (let index = 0; index < roomCount; index++) {
  const { roomId } = await createRoom(owner, {
    name: `Room ${index}`,
    topic: `Topic ${index}`,
    preset: 'public_chat',
  });
  await Promise.all(others.map((client) => joinRoom(client, roomId)));
  await Promise.all(
    Array.from({ length: 10 }, (_, message) =>
      sendMessageEvent(owner, roomId, 'm.room.message', `m${message}`, {
        msgtype: 'm.text',
        body: `message ${message}`,
      }),
    ),
  );
}
await setup.close();

// Count what the facade sends upstream.
let upstreamCalls = 0;
const agent = new Agent();
const dispatcher = agent.compose((dispatch) => (options, handler) => {
  upstreamCalls++;
  return dispatch(options, handler);
});
const app = buildApp({
  config: loadConfig({ MATRIX_HOMESERVER_URL: synapse.url, PORT: '0' }),
  logger: createLogger('silent'),
  dispatcher,
});
const url = await app.start();
const token = users[0]?.accessToken ?? '';

const queries = {
  'summary fields': `{ rooms(first: ${roomCount}) { edges { node { name topic avatarUrl canonicalAlias joinedMemberCount myMembership isDirect } } } }`,
  'summary + members(first: 5)': `{ rooms(first: ${roomCount}) { edges { node { name topic joinedMemberCount myMembership members(first: 5) { edges { node { displayName powerLevel } } } } } } }`,
};

process.stdout.write(
  `\n${roomCount} rooms, ${runs} runs each (median, min, max), through the facade\n`,
);
for (const [name, query] of Object.entries(queries)) {
  const times: number[] = [];
  let bytes = 0;
  let calls = 0;
  for (let run = 0; run <= runs; run++) {
    upstreamCalls = 0;
    const started = performance.now();
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    if (text.includes('"errors"')) {
      throw new Error(text.slice(0, 300));
    }
    if (run > 0) {
      // run 0 warms up connections and the JIT
      times.push(performance.now() - started);
    }
    bytes = text.length;
    calls = upstreamCalls;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
  process.stdout.write(
    `${name.padEnd(30)} ${median.toFixed(1)} ms (${times[0]?.toFixed(1)}–${times.at(-1)?.toFixed(1)})  ${calls} upstream calls  ${(bytes / 1024).toFixed(1)} KB response\n`,
  );
}
await app.stop();
await agent.close();
