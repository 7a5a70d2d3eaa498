/**
 * `npx node --expose-gc bench/upstream-faults.ts`: what a misbehaving homeserver (or whatever
 * stands in front of it) and a subscriber that stops reading cost the facade, re-measuring the
 * figures of the hardening issue. A local Synapse (as `npm test` starts it) sits behind the fault
 * proxy of test/support/fault-proxy.ts; each item builds its own facade with the defaults
 * (anything else is printed) on loopback, port 0, and stops it, the proxy and Synapse at the end:
 *
 *  1. the sync loop behind a graphql-ws `roomEvents` subscription while every /sync is answered
 *     `{}`: /sync calls in the window, and what the subscriber received;
 *  2. the same while every /sync is answered 429 with `Retry-After: 3000000`;
 *  3. `{ viewer { userId } }` while its `whoami` is answered with a 256 MiB body, chunked and
 *     announced in `Content-Length`: code, time, memory, bytes the proxy wrote;
 *  4. the same query while `whoami` drips a byte every 100 ms and never ends;
 *  5. a raw graphql-ws client subscribed to `roomEvents` that stops reading while BENCH_EVENTS
 *     events arrive in the room, then reads again: what it got, in which order, which gaps, or how
 *     its socket was closed; on a facade with the defaults and on one whose keep-alive is lifted
 *     (so that the queue bound is seen alone);
 *  6. a control character in a websocket token, an `idempotencyKey` of `..`, and the log lines
 *     (at the default level) of one request of 15 rooms the homeserver refuses (and of the
 *     issue's 1,000).
 *
 * The proxy runs in this process: the RSS of item 3 counts its buffers too (it writes a chunk at a
 * time, waiting for each to drain).
 *
 * Prints what it saw, then a table: before (the issue's figures, on the old code) and now.
 * Asserts nothing. About 2 minutes, most of it item 5's events.
 *
 *   BENCH_FAULT_MS          how long items 1 and 2 watch the sync loop (default 4000, as the issue)
 *   BENCH_HUGE_BODY_MB      item 3's body, in MiB (default 256)
 *   BENCH_TOTAL_TIMEOUT_MS  UPSTREAM_TOTAL_TIMEOUT_MS of item 4 (default 3000, to keep it short;
 *                           the product's default is 45000: set it to measure that)
 *   BENCH_EVENTS            events sent while item 5's subscriber is paused (default 3000, as the
 *                           issue; 60 to 90 s of sending on 2 busy cores, two facades reading)
 *   BENCH_EVENT_BYTES       body of each of those events (default 8000: 3,000 of them are 24 MB,
 *                           more than the kernel buffers for a stalled socket, so the facade's own
 *                           queue has to hold or drop them)
 *   BENCH_SEND_LANES        concurrent sends of those events (default 50)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import type { Dispatcher } from 'undici';
import WebSocket from 'ws';
import { provisionSynapse, startSynapse } from '../scripts/synapse/homeserver.ts';
import { registerUser } from '../scripts/synapse/register.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger, type Logger } from '../src/logger.ts';
import { Upstream } from '../src/matrix/http.ts';
import { sendMessageEvent } from '../src/matrix/room-events.ts';
import { createRoom, joinRoom } from '../src/matrix/rooms.ts';
import { buildApp } from '../src/server/app.ts';
import { countingDispatcher } from '../test/support/counting-dispatcher.ts';
import { type Fault, startFaultProxy } from '../test/support/fault-proxy.ts';
import { openAuthenticatedSocket, openRawSocket } from '../test/support/raw-websocket.ts';
import { newestEventIds, type RoomEventsMessage } from '../test/support/room-events-feed.ts';
import { heapUsedMb, warnWithoutGc } from './lib/exposed-gc.ts';
import { errorCodes, graphqlBody, postGraphql } from './lib/graphql-http.ts';
import { aliasedRooms } from './lib/hostile-documents.ts';
import { until } from './lib/poll.ts';

const faultMs = Number(process.env['BENCH_FAULT_MS'] ?? 4000);
const hugeBodyMiB = Number(process.env['BENCH_HUGE_BODY_MB'] ?? 256);
const totalTimeoutMs = Number(process.env['BENCH_TOTAL_TIMEOUT_MS'] ?? 3000);
const eventCount = Number(process.env['BENCH_EVENTS'] ?? 3000);
const eventBytes = Number(process.env['BENCH_EVENT_BYTES'] ?? 8000);
const sendLanes = Number(process.env['BENCH_SEND_LANES'] ?? 50);

warnWithoutGc();

const MiB = 1024 * 1024;
const syncPath = /\/_matrix\/client\/v3\/sync(\?|$)/;
const whoamiPath = /\/account\/whoami$/;
const defaults = loadConfig({ MATRIX_HOMESERVER_URL: 'http://127.0.0.1:1' });
const silent = createLogger('silent');
const n = (value: number) => value.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const plural = (count: number, word: string) => `${n(count)} ${word}${count === 1 ? '' : 's'}`;

/** The table printed at the end: item, the issue's figure, what this run measured. */
const rows: [item: string, before: string, now: string][] = [];
const say = (line: string) => process.stdout.write(`${line}\n`);

await provisionSynapse();
await using synapse = await startSynapse();
// The bench's own calls to Synapse (users' rooms, item 5's events), past the facade: no per-token
// cap, so that fifty sends of one user run at once.
const direct = new Upstream({
  homeserverUrl: synapse.url,
  perTokenConcurrency: Number.POSITIVE_INFINITY,
  connections: 64,
});
await using _direct = { [Symbol.asyncDispose]: () => direct.close() };
const newUser = (prefix: string) =>
  registerUser(synapse.url, synapse.registrationSharedSecret, { prefix });

/** A pino destination that keeps every line, parsed, for the items that read the log. */
function memoryLog() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(JSON.parse(line)) } };
}

/** The facade with the defaults and `environment` on top, listening on a free loopback port. */
async function startApp(
  homeserverUrl: string,
  environment: Record<string, string> = {},
  options: { logger?: Logger; dispatcher?: Dispatcher } = {},
) {
  const app = buildApp({
    config: loadConfig({ MATRIX_HOMESERVER_URL: homeserverUrl, PORT: '0', ...environment }),
    logger: options.logger ?? silent,
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
  });
  const url = await app.start();
  return Object.assign(app, { url, wsUrl: `${url.replace(/^http/, 'ws')}/graphql` });
}

/** POSTs `query` (and `variables`) with `token`: the answer, timed, and its distinct error codes. */
async function post(url: string, token: string, query: string, variables?: object) {
  const answer = await postGraphql(url, token, graphqlBody(query, variables));
  return { ...answer, codes: errorCodes(answer) };
}

/** Samples the process's RSS every 5 ms until stopped; `stop` gives the peak. */
function rssPeak() {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

const ROOM_EVENTS = `subscription ($roomId: ID!) {
  roomEvents(roomId: $roomId) { event { id ... on MessageEvent { body } } gap { room { id } } }
}`;

// --- 1 and 2: the sync loop behind a live subscription, every /sync answered with a fault ---

/**
 * Subscribes to `roomEvents` over graphql-ws through a facade whose homeserver is the fault
 * proxy, every /sync answered with `fault`, and watches for `faultMs` from the first /sync: the
 * /sync calls, the delays the loop logged between them, what the subscriber received.
 */
async function syncUnder(fault: Fault) {
  await using proxy = await startFaultProxy(synapse.url);
  // The loop says how long it backs off only in its warnings: read them from the log (at the
  // default level, warn lines included).
  const log = memoryLog();
  await using app = await startApp(proxy.url, {}, { logger: createLogger('info', log.stream) });
  const user = await newUser('faults');
  const { roomId } = await createRoom(direct.client(user.accessToken), { name: 'Faults' });
  // Only /sync: connection_init's whoami and the subscription's /state check go through.
  proxy.inject(fault, { path: syncPath, times: Number.POSITIVE_INFINITY });

  const client = createClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: { authorization: `Bearer ${user.accessToken}` },
    onNonLazyError: () => {},
  });
  await using _client = { [Symbol.asyncDispose]: async () => void (await client.dispose()) };
  const received: string[] = [];
  client.subscribe(
    { query: ROOM_EVENTS, variables: { roomId } },
    {
      next: (value) =>
        received.push(
          value.errors
            ? `error item ${value.errors.map((error) => error.extensions?.['code']).join(',')}`
            : 'an item',
        ),
      error: (error) =>
        received.push(`error ${error instanceof Error ? error.message : JSON.stringify(error)}`),
      complete: () => received.push('complete'),
    },
  );
  const syncs = () => proxy.log.filter((request) => syncPath.test(request.url)).length;
  if (!(await until(() => syncs() > 0, 20_000, 1))) {
    return { syncs: 0, delays: [], received: ['no /sync within 20 s'] };
  }
  await sleep(faultMs);
  const calls = syncs();
  const delays = log.lines
    .filter((line) => line.msg === 'sync failed, backing off')
    .map((line) => Number(line['delayMs']));
  return { syncs: calls, delays, received: [...received] };
}

const describeReceived = (received: string[]) =>
  received.length === 0 ? 'nothing' : [...new Set(received)].join('; ');

say(`\n1. every /sync answered {} (${n(faultMs)} ms from the first /sync)`);
{
  const run = await syncUnder({ kind: 'json', body: {} });
  say(`   /sync calls: ${run.syncs}`);
  say(`   backoff delays logged: ${run.delays.map((ms) => seconds(ms)).join(', ') || 'none'}`);
  say(`   subscriber received: ${describeReceived(run.received)}`);
  rows.push([
    '1. /sync answered {}',
    `5,731 /sync calls in 4 s, no backoff`,
    `${plural(run.syncs, '/sync call')} in ${seconds(faultMs)} (backoff ${run.delays.map((ms) => seconds(ms)).join(', ')}); subscriber got ${describeReceived(run.received)}`,
  ]);
}

say(`\n2. every /sync answered 429, Retry-After: 3000000 (${n(faultMs)} ms from the first /sync)`);
{
  const run = await syncUnder({ kind: 'rate-limit', retryAfterSeconds: 3_000_000 });
  say(`   /sync calls: ${run.syncs}`);
  say(`   waits logged: ${run.delays.map((ms) => `${n(ms)} ms`).join(', ') || 'none'}`);
  say(`   subscriber received: ${describeReceived(run.received)}`);
  rows.push([
    '2. /sync 429, Retry-After: 3000000',
    '1,290 /sync calls in 4 s',
    `${plural(run.syncs, '/sync call')} in ${seconds(faultMs)} (waits ${run.delays.map((ms) => `${n(ms / 1000)} s`).join(', ')}); subscriber got ${describeReceived(run.received)}`,
  ]);
}

// --- 3 and 4: a query whose upstream call gets a huge or a dripping body ---

const queryUser = await newUser('faults');

say(
  `\n3. { viewer { userId } } while whoami answers ${hugeBodyMiB} MiB (UPSTREAM_MAX_RESPONSE_BYTES ${n(defaults.upstream.maxResponseBytes)})`,
);
for (const declareLength of [false, true]) {
  await using proxy = await startFaultProxy(synapse.url);
  await using app = await startApp(proxy.url);
  proxy.inject(
    { kind: 'huge-body', bytes: hugeBodyMiB * MiB, declareLength },
    { path: whoamiPath, times: Number.POSITIVE_INFINITY },
  );
  const heapBefore = heapUsedMb();
  const rssBefore = process.memoryUsage.rss();
  const rss = rssPeak();
  const answer = await post(app.url, queryUser.accessToken, '{ viewer { userId } }');
  const peak = rss.stop();
  // The proxy stops writing when it sees the facade hang up; wait for that before counting.
  await until(() => proxy.log.every((request) => request.closed !== null), 10_000);
  const written = proxy.log.reduce((sum, request) => sum + request.generatedBytes, 0);
  const heapAfter = heapUsedMb();
  const how = declareLength ? 'announced in Content-Length' : 'chunked';
  const line = `${answer.codes.join(',') || 'no error'} in ${n(Math.round(answer.ms))} ms; RSS peak +${((peak - rssBefore) / MiB).toFixed(0)} MB, heap ${heapBefore.toFixed(1)} → ${heapAfter.toFixed(1)} MB; proxy wrote ${(written / MiB).toFixed(1)} MiB in ${plural(proxy.log.length, 'request')}`;
  say(`   ${how.padEnd(28)} ${line}`);
  rows.push([`3. ${hugeBodyMiB} MiB body, ${how}`, 'read whole, +1 GB RSS', line]);
}

say(
  `\n4. { viewer { userId } } while whoami drips a byte every 100 ms (UPSTREAM_TOTAL_TIMEOUT_MS ${n(totalTimeoutMs)}; default ${n(defaults.upstream.totalTimeoutMs)}; body timeout ${n(defaults.upstream.bodyTimeoutMs)})`,
);
{
  await using proxy = await startFaultProxy(synapse.url);
  await using app = await startApp(proxy.url, {
    UPSTREAM_TOTAL_TIMEOUT_MS: String(totalTimeoutMs),
  });
  proxy.inject(
    { kind: 'drip', intervalMs: 100 },
    { path: whoamiPath, times: Number.POSITIVE_INFINITY },
  );
  const answer = await post(app.url, queryUser.accessToken, '{ viewer { userId } }');
  await until(() => proxy.log.every((request) => request.closed !== null), 10_000);
  const dripped = proxy.log.reduce((sum, request) => sum + request.generatedBytes, 0);
  const line = `${answer.codes.join(',') || 'no error'} in ${seconds(answer.ms)} (UPSTREAM_TOTAL_TIMEOUT_MS=${n(totalTimeoutMs)}; default ${n(defaults.upstream.totalTimeoutMs)}); ${plural(proxy.log.length, 'request')}, ${plural(dripped, 'byte')} dripped`;
  say(`   ${line}`);
  rows.push(['4. upstream drips its body', 'no answer within 40 s', line]);
}

// --- 5: a websocket subscriber that stops reading while events arrive ---

/**
 * A bare graphql-transport-ws client (the graphql-ws client cannot stop reading) subscribed to
 * the room's events: it records every message and how the socket closed, and `pause()` stops it
 * reading from the network, as a stalled client does.
 */
async function rawClient(url: string, token: string, roomId: string) {
  const client = await openAuthenticatedSocket<RoomEventsMessage>(url, token);
  client.subscribe('events', ROOM_EVENTS, { roomId });
  return Object.assign(client, {
    has: (eventId: string) =>
      client.messages.some((message) => message.payload?.data?.roomEvents?.event?.id === eventId),
  });
}

/**
 * What a paused client got (`messages`, those of its subscription), against what was sent
 * (`sent`, in timeline order): events, whether in order and once, where its gaps stand and how
 * many events each stands for, and how many events are missing with no gap before them.
 */
function tally(messages: RoomEventsMessage[], sent: readonly string[]) {
  const position = new Map(sent.map((id, index) => [id, index]));
  let events = 0;
  let late = 0;
  let unknown = 0;
  let silent = 0;
  let next = 0;
  let gapSince = false;
  const gaps: { after: number; covers: number }[] = [];
  const errors: string[] = [];
  for (const message of messages) {
    if (message.type !== 'next' || message.payload?.errors) {
      errors.push(
        `${message.type} ${(message.payload?.errors ?? []).map((e) => e.extensions?.['code'] ?? e.message).join(',')}`,
      );
      continue;
    }
    const item = message.payload?.data?.roomEvents;
    if (item?.gap) {
      gaps.push({ after: next, covers: 0 });
      gapSince = true;
      continue;
    }
    const at = position.get(item?.event?.id ?? '');
    if (at === undefined) {
      unknown += 1;
      continue;
    }
    events += 1;
    if (at < next) {
      late += 1; // a duplicate, or out of order
      continue;
    }
    const skipped = at - next;
    const gap = gaps.at(-1);
    if (gapSince && gap) {
      gap.covers += skipped;
    } else {
      silent += skipped;
    }
    next = at + 1;
    gapSince = false;
  }
  return { events, late, unknown, silent, gaps, errors, notReached: sent.length - next };
}

say(
  `\n5. a websocket subscriber paused while ${n(eventCount)} events of ${n(eventBytes)} bytes, then one last, arrive; then resumed`,
);
{
  const [alice, bob] = await Promise.all([newUser('paused-alice'), newUser('flood-bob')]);
  const bobClient = direct.client(bob.accessToken);
  const { roomId } = await createRoom(bobClient, { name: 'Flood', preset: 'public_chat' });
  await joinRoom(direct.client(alice.accessToken), roomId);
  // Two facades on the same Synapse: one with every default, one whose keep-alive is lifted so
  // that a paused socket is not dropped and what its queue does (SYNC_STREAM_QUEUE_LIMIT) shows.
  const liftedKeepAliveMs = 600_000;
  await using plain = await startApp(synapse.url);
  await using lifted = await startApp(synapse.url, {
    WS_KEEP_ALIVE_MS: String(liftedKeepAliveMs),
  });
  await using pausedPlain = await rawClient(plain.wsUrl, alice.accessToken, roomId);
  await using pausedLifted = await rawClient(lifted.wsUrl, alice.accessToken, roomId);
  // They read all along: they tell when each facade has handed out everything.
  await using readerPlain = await rawClient(plain.wsUrl, alice.accessToken, roomId);
  await using readerLifted = await rawClient(lifted.wsUrl, alice.accessToken, roomId);
  await until(() => plain.syncStats.listeners === 2 && lifted.syncStats.listeners === 2, 20_000);
  // The facade pings every WS_KEEP_ALIVE_MS and drops a socket that has not answered by the next
  // ping; paused right after a ping, the plain client has the longest grace the defaults give.
  await pausedPlain.nextPing();
  pausedPlain.pause();
  pausedLifted.pause();
  const pausedAt = performance.now();
  // When the plain facade let go of the paused subscription (its reader's remains).
  let droppedAt: number | null = null;
  const watch = setInterval(() => {
    if (droppedAt === null && plain.syncStats.listeners < 2) {
      droppedAt = performance.now();
    }
  }, 50);

  // Lanes of sends by one user: the homeserver takes about 90 a second in one room this way
  // (rate limits relaxed, as for the tests), against about 25 one at a time. Its timeline says
  // in which order they landed.
  const padding = 'x'.repeat(eventBytes);
  let taken = 0;
  await Promise.all(
    Array.from({ length: sendLanes }, async () => {
      while (taken < eventCount) {
        const index = taken++;
        await sendMessageEvent(bobClient, roomId, 'm.room.message', `flood-${index}`, {
          msgtype: 'm.text',
          body: `${index} ${padding}`,
        });
      }
    }),
  );
  const sentMs = performance.now() - pausedAt;
  const marker = await sendMessageEvent(bobClient, roomId, 'm.room.message', 'end', {
    msgtype: 'm.text',
    body: 'end',
  });
  const handedOut = await until(
    () => readerPlain.has(marker.eventId) && readerLifted.has(marker.eventId),
    60_000,
    50,
  );
  const pausedMs = performance.now() - pausedAt;
  pausedPlain.resume();
  pausedLifted.resume();
  const done = (client: typeof pausedPlain) =>
    client.closure !== null || client.has(marker.eventId);
  await until(() => done(pausedPlain) && done(pausedLifted), 30_000, 50);
  // A close arrives after the data the socket still held; give it a moment to be read.
  await sleep(500);
  clearInterval(watch);
  const sent = await newestEventIds(bobClient, roomId, eventCount + 1);

  say(
    `   sent in ${seconds(sentMs)} (${(eventCount / (sentMs / 1000)).toFixed(0)}/s); paused ${seconds(pausedMs)}${handedOut ? '' : ' (the readers had not all got the last event after 60 s)'}`,
  );
  for (const [name, client, keepAlive] of [
    ['defaults', pausedPlain, defaults.wsKeepAliveMs],
    ['keep-alive lifted', pausedLifted, liftedKeepAliveMs],
  ] as const) {
    const t = tally(client.of('events'), sent);
    const order =
      t.late === 0 && t.unknown === 0
        ? 'in order, each once'
        : `${t.late} out of order or twice, ${t.unknown} unknown`;
    const gaps =
      t.gaps.length === 0
        ? 'no gap'
        : `${plural(t.gaps.length, 'gap')}: ${t.gaps.map((gap) => `after event ${n(gap.after)} standing for ${n(gap.covers)}`).join('; ')}`;
    const closed = client.closure;
    const end =
      closed === null
        ? `socket open, ${client.has(marker.eventId) ? 'got the last event' : 'no last event 30 s after resuming'}`
        : // graphql-ws's keep-alive drops a socket without a close frame: this side sees 1006.
          `socket closed ${closed.code}${closed.reason ? ` "${closed.reason}"` : ''}${name === 'defaults' && droppedAt !== null ? `, dropped by the facade ${seconds(droppedAt - pausedAt)} into the pause` : ''}; the ${n(t.notReached)} events after it never came`;
    const line = `${n(t.events)} of ${n(sent.length)} events, ${order}; ${gaps}; ${n(t.silent)} missing without a gap; ${end}${t.errors.length > 0 ? `; ${t.errors.join('; ')}` : ''}`;
    say(`   ${`${name} (WS_KEEP_ALIVE_MS ${n(keepAlive)}):`.padEnd(46)} ${line}`);
    rows.push([
      `5. ws paused, ${n(eventCount)} events, ${name}`,
      name === 'defaults' ? '2,003 of 3,000, in order, no signal 997 were gone' : '',
      line,
    ]);
  }
}

// --- 6: the smaller items ---

say('\n6. smaller items');
{
  await using upstream = countingDispatcher();
  const log = memoryLog();
  // The default LOG_LEVEL, as a deployment without it set logs.
  await using app = await startApp(
    synapse.url,
    {},
    { logger: createLogger(defaults.logLevel, log.stream), dispatcher: upstream.dispatcher },
  );
  const user = await newUser('small');
  const { roomId } = await createRoom(direct.client(user.accessToken), { name: 'Small' });

  // A token with a control character, in connection_init.
  upstream.reset();
  {
    await using socket = await openRawSocket(app.wsUrl);
    socket.send({ type: 'connection_init', payload: { authorization: 'Bearer syt_a\u0001b' } });
    const closed = await Promise.race([socket.closed, sleep(10_000, null)]);
    const line =
      closed === null
        ? `not closed within 10 s; ${upstream.count()} upstream calls`
        : `closed ${closed.code} "${closed.reason}", ${upstream.count()} upstream calls`;
    say(`   control character in a websocket token: ${line}`);
    rows.push(['6a. control char in ws token', 'retried upstream, closed 1011', line]);
  }

  // An idempotencyKey of `..`, sent twice.
  {
    upstream.reset();
    const send = `mutation ($roomId: ID!) {
      sendMessage(input: { roomId: $roomId, body: "dots", idempotencyKey: ".." }) { eventId }
    }`;
    const first = await post(app.url, user.accessToken, send, { roomId });
    const second = await post(app.url, user.accessToken, send, { roomId });
    const eventOf = (answer: typeof first) =>
      (answer.result?.data?.['sendMessage'] as { eventId?: string } | null)?.eventId;
    const sends = upstream.requests.filter((request) => request.includes('/send/'));
    const dotted = upstream.requests.filter((request) => /\/\.\.?(\/|$)/.test(request));
    const txn = sends[0]?.split('/').at(-1) ?? '-';
    const codes = [...new Set([...first.codes, ...second.codes])];
    const line = `${codes.join(',') || 'no error'} both times; ${upstream.count()} upstream calls for both (PUT …/send/m.room.message/${txn.slice(0, 16)}…), ${eventOf(first) !== undefined && eventOf(first) === eventOf(second) ? 'the same event twice' : 'two events'}; ${dotted.length} upstream paths with a . or .. segment`;
    say(`   idempotencyKey "..", sent twice: ${line}`);
    rows.push(['6b. idempotencyKey ".."', 'reached the upstream path', line]);
  }

  // The log of one request for 15 rooms the homeserver refuses (the most aliases allowed), and
  // of the issue's 1,000.
  for (const count of [15, 1000]) {
    const document = aliasedRooms(count);
    upstream.reset();
    log.lines.length = 0;
    const answer = await post(app.url, user.accessToken, document);
    // Lines written after the answer (a request's own end) count too.
    await sleep(200);
    const errors = log.lines.filter((line) => line.level >= 50).length;
    const warnings = log.lines.filter((line) => line.level === 40).length;
    const line = `${n(log.lines.length)} lines at ${defaults.logLevel} (${errors} error, ${warnings} warn); answer ${answer.status} ${answer.codes.join(',')} with ${plural((answer.result?.errors ?? []).length, 'error')}, ${plural(upstream.count(), 'upstream call')}`;
    say(`   ${`${count} refused rooms in one request:`.padEnd(34)} ${line}`);
    rows.push([
      `6c. log of ${n(count)} refused rooms`,
      count === 1000 ? '2,000 error lines' : '',
      line,
    ]);
  }
}

// --- the table ---

const width = (column: 0 | 1) => Math.max(...rows.map((row) => row[column].length));
say(`\n${'item'.padEnd(width(0))} | ${'before (issue)'.padEnd(width(1))} | now`);
for (const [item, before, now] of rows) {
  say(`${item.padEnd(width(0))} | ${before.padEnd(width(1))} | ${now}`);
}
