/**
 * `npm run bench:hostile` (`node --expose-gc bench/hostile.ts`): what hostile requests cost the
 * facade with its default limits, against a local Synapse. Times the refusal of a 24 MB document
 * of aliases and of 3,000 nested brackets, measures the heap after many distinct large documents,
 * and counts the upstream calls of aliased `room(id:)` fields, of the issue's nested room list
 * (100 rooms × 100 members' profiles and 100 messages) and of aliased timeline pages. Prints
 * figures; asserts nothing. docs/security.md quotes them.
 *
 *   BENCH_RUNS   timed runs per refusal (default 5)
 */
import { connect } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { provisionSynapse, startSynapse } from '../scripts/synapse/homeserver.ts';
import { registerUser } from '../scripts/synapse/register.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { Upstream } from '../src/matrix/http.ts';
import { createRoom } from '../src/matrix/rooms.ts';
import { buildApp } from '../src/server/app.ts';
import { countingDispatcher } from '../test/support/counting-dispatcher.ts';
import { heapUsedMb, warnWithoutGc } from './lib/exposed-gc.ts';
import { firstErrorCode, graphqlBody, postGraphql } from './lib/graphql-http.ts';
import { aliasedRooms } from './lib/hostile-documents.ts';

const runs = Number(process.env['BENCH_RUNS'] ?? 5);
warnWithoutGc();

await provisionSynapse();
await using synapse = await startSynapse();
const user = await registerUser(synapse.url, synapse.registrationSharedSecret);
// A room of the user's, for the aliased timeline pages.
const setup = new Upstream({ homeserverUrl: synapse.url });
const { roomId } = await createRoom(setup.client(user.accessToken), { name: 'Hostile' });
await setup.close();

await using upstream = countingDispatcher();
const app = buildApp({
  config: loadConfig({ MATRIX_HOMESERVER_URL: synapse.url, PORT: '0' }),
  logger: createLogger('silent'),
  dispatcher: upstream.dispatcher,
});
const url = await app.start();

/**
 * POSTs `query` with the user's token: the time to the whole answer, the longest the event loop
 * (the facade's and this client's, one process) was blocked meanwhile, the status, the first
 * error's code and the upstream calls.
 */
async function send(query: string) {
  // Encoded before the clock starts: what is timed is the facade's work, not this client's.
  const body = Buffer.from(graphqlBody(query));
  upstream.reset();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const answer = await postGraphql(url, user.accessToken, body);
  loop.disable();
  return {
    ms: answer.ms,
    blockedMs: loop.max / 1e6,
    status: answer.status,
    code: firstErrorCode(answer),
    upstream: upstream.count(),
  };
}

/**
 * Writes a POST of `query` to a socket, headers then body, and times the status line: `fetch`
 * would only read the answer once it had sent the whole body, timing its own upload.
 */
function sendRaw(query: string) {
  const body = Buffer.from(graphqlBody(query));
  const { hostname, port } = new URL(url);
  upstream.reset();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = performance.now();
  return new Promise<Awaited<ReturnType<typeof send>>>((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    socket.once('data', (chunk: Buffer) => {
      const ms = performance.now() - started;
      loop.disable();
      socket.destroy();
      const status = Number(chunk.toString('latin1').split(' ')[1]);
      const code = /"code":"([A-Z_]+)"/.exec(chunk.toString('utf8'))?.[1] ?? '-';
      resolve({ ms, blockedMs: loop.max / 1e6, status, code, upstream: upstream.count() });
    });
    socket.once('error', reject);
    socket.write(
      `POST /graphql HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\nauthorization: Bearer ${user.accessToken}\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    socket.write(body, () => {});
  });
}

async function timed(name: string, query: () => string, sender: typeof send = send): Promise<void> {
  const times: number[] = [];
  let blocked = 0;
  let last: Awaited<ReturnType<typeof send>> | undefined;
  for (let run = 0; run <= runs; run++) {
    last = await sender(query());
    if (run > 0) {
      // run 0 warms up the connection and the JIT
      times.push(last.ms);
      blocked = Math.max(blocked, last.blockedMs);
    }
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? Number.NaN;
  process.stdout.write(
    `${name.padEnd(44)} ${median.toFixed(1).padStart(7)} ms  (loop blocked ≤ ${blocked.toFixed(0)} ms)  ${last?.status} ${last?.code}  ${last?.upstream} upstream calls\n`,
  );
}

async function heapAfter(name: string, count: number, query: (index: number) => string) {
  const before = heapUsedMb();
  let bytes = 0;
  let outcome = '';
  for (let index = 0; index < count; index++) {
    const document = query(index);
    bytes += document.length;
    const answer = await send(document);
    outcome = `${answer.status} ${answer.code}`;
  }
  const after = heapUsedMb();
  process.stdout.write(
    `${name.padEnd(44)} ${(bytes / count / 1024).toFixed(0).padStart(5)} KB each  heap ${before.toFixed(1)} → ${after.toFixed(1)} MB (${after >= before ? '+' : ''}${(after - before).toFixed(1)})  ${outcome}\n`,
  );
}

process.stdout.write(`\nrefusals (median of ${runs}), through the facade on loopback\n`);
const huge = aliasedRooms(470_000);
process.stdout.write(`(the alias document is ${(huge.length / 1e6).toFixed(1)} MB)\n`);
await timed('24 MB document of aliased room(id:) fields', () => huge, sendRaw);
await timed(
  '3,000 nested selection sets',
  () => `{ ${'viewer { '.repeat(3000)}${'}'.repeat(3001)}`,
);
await timed('3,000 unclosed list brackets', () => `{ room(id: ${'['.repeat(3000)}`);
await timed('1,000 aliased room(id:) fields', () => aliasedRooms(1000));
await timed('16 aliased room(id:) fields', () => aliasedRooms(16));
await timed('15 aliased room(id:) fields (allowed)', () => aliasedRooms(15));
await timed(
  'rooms(100) × members(100) profiles × messages(100)',
  () =>
    '{ rooms(first: 100) { edges { node { members(first: 100) { edges { node { user { displayName } } } } messages(last: 100) { edges { node { id } } } } } } }',
);
await timed(
  '15 aliased messages(last: 100) of one room',
  () =>
    `{ room(id: "${roomId}") { ${Array.from({ length: 15 }, (_, index) => `m${index}: messages(last: 100) { edges { node { id } } }`).join(' ')} } }`,
);

process.stdout.write('\nheap after distinct documents (each new to the facade)\n');
const longName = (prefix: string) => (index: number) =>
  `{ ${prefix}${index}${'a'.repeat(200_000)} }`;
await heapAfter('20 documents of one 200 KB field name', 20, longName('f'));
await heapAfter('100 more of them', 100, longName('g'));
await heapAfter('20 documents of 200 KB of aliases', 20, (index) =>
  aliasedRooms(4000, `x${index}`),
);
await heapAfter(
  '200 documents of 1,999 short tokens',
  200,
  (index) => `{ t${index} ${'a '.repeat(1995)}}`,
);

await app.stop();
