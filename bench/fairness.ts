/**
 * `npx node bench/fairness.ts`: whether one user can still starve another through the facade,
 * with its default limits, against a local Synapse. Re-measures the issue's "starvation" and
 * "subscriptions without bounds" figures after the hardening:
 *
 * 1. another user's `{ viewer { userId } }` while 40 users each hold a live `myMembership`
 *    subscription (so 40 `/sync` long-polls), against the same probe with no subscriptions;
 * 2. a 5,000-alias request, and the costliest request the limits still allow (15 aliased
 *    `room(id:)` with 100 members' profiles each) sent in a loop, against the probe with the
 *    attacker idle; the attacker with one token, then as one user logged in several times;
 * 3. 20,000 `subscribe` messages at once on one graphql-ws socket, then 1,000 paced: how many
 *    run, how many are refused and with what, and what the heap keeps;
 * 4. 200 `roomUpdated` subscriptions on one room: the upstream calls up front and per change of
 *    the room's name, for one token (two sockets) and for ten users.
 *
 * The states compared are interleaved, round after round, in one run, so that noise from the
 * machine (other processes, Synapse's caches) falls on both sides alike. Upstream calls are
 * counted by an in-process proxy in front of Synapse (test/support/fault-proxy.ts), not by an
 * injected dispatcher: with an injected dispatcher the long-poll pool shares it
 * (Upstream.longPollPool), which would undo the very separation scenario 1 measures. The facade
 * gets no dispatcher, so its pools are the production ones (`UPSTREAM_CONNECTIONS` 32 for
 * queries, `SYNC_CONNECTIONS` 1024 for long-polls). The bench's own Matrix calls (setup, the name
 * changes) go to Synapse directly and are not counted. Heap figures are after full collections
 * (test/support/heap.ts exposes gc at run time, so `--expose-gc` is not needed) and cover this
 * whole process: the facade, the proxy and the bench's clients. The clients share the facade's
 * event loop too, so a flood's client-side work (sending 242 KB bodies) weighs on the probe as
 * well. Prints figures; asserts nothing.
 *
 *   BENCH_SUBSCRIBERS         users subscribed in scenario 1 (default 40)
 *   BENCH_PROBES              probes per batch (default 20)
 *   BENCH_ROUNDS              rounds of each interleaved comparison (default 3)
 *   BENCH_ATTACK_ROOMS        aliased rooms of the costliest request (default 15, MAX_ALIASES)
 *   BENCH_ROOM_MEMBERS        members of each of those rooms besides the attacker, all distinct
 *                             users, so that each is one more profile call (default 12)
 *   BENCH_ATTACK_CONCURRENCY  requests the attacker keeps in flight per token (default 4)
 *   BENCH_ATTACK_TOKENS       tokens (logins of the one attacker) of the multi-token attack
 *                             (default 6: 6 × UPSTREAM_PER_TOKEN_CONCURRENCY 6 = 36 calls, more
 *                             than the 32 connections of the queries' pool)
 *   BENCH_WS_SUBSCRIBES       subscribe messages sent at once on one socket (default 20000)
 *   BENCH_WS_PACED            subscribe messages sent on one socket 100 every 600 ms (default 1000)
 *   BENCH_ROOM_SUBSCRIPTIONS  roomUpdated subscriptions of scenario 4 (default 200)
 *   BENCH_ROOM_USERS          users sharing them in scenario 4's second layout (default 10)
 *   BENCH_STATE_CHANGES       changes of the room's name per layout (default 3)
 */
import { channel } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { provisionSynapse, startSynapse } from '../scripts/synapse/homeserver.ts';
import { type RegisteredUser, registerUser } from '../scripts/synapse/register.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { login } from '../src/matrix/account.ts';
import { Upstream } from '../src/matrix/http.ts';
import { putStateEvent } from '../src/matrix/room-state.ts';
import { createRoom, joinRoom } from '../src/matrix/rooms.ts';
import { buildApp } from '../src/server/app.ts';
import { startFaultProxy } from '../test/support/fault-proxy.ts';
import { settledHeapUsed } from '../test/support/heap.ts';
import { openAuthenticatedSocket, type RawSocket } from '../test/support/raw-websocket.ts';
import { firstErrorCode, graphqlBody, postGraphql } from './lib/graphql-http.ts';
import { aliasedRooms } from './lib/hostile-documents.ts';
import { until } from './lib/poll.ts';

const setting = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const subscriberCount = setting('BENCH_SUBSCRIBERS', 40);
const probesPerBatch = setting('BENCH_PROBES', 20);
const rounds = setting('BENCH_ROUNDS', 3);
const attackRooms = setting('BENCH_ATTACK_ROOMS', 15);
const roomMembers = setting('BENCH_ROOM_MEMBERS', 12);
const attackConcurrency = setting('BENCH_ATTACK_CONCURRENCY', 4);
const attackTokens = setting('BENCH_ATTACK_TOKENS', 6);
const wsSubscribes = setting('BENCH_WS_SUBSCRIBES', 20_000);
const wsPaced = setting('BENCH_WS_PACED', 1000);
const roomSubscriptions = setting('BENCH_ROOM_SUBSCRIPTIONS', 200);
const roomUsers = setting('BENCH_ROOM_USERS', 10);
const stateChanges = setting('BENCH_STATE_CHANGES', 3);

const started = performance.now();
const progress = (text: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${text}\n`);
const out = (text = '') => process.stdout.write(`${text.trimEnd()}\n`);

progress('starting Synapse');
await provisionSynapse();
await using synapse = await startSynapse();
await using proxy = await startFaultProxy(synapse.url);
const config = loadConfig({ MATRIX_HOMESERVER_URL: proxy.url, PORT: '0' });
await using app = buildApp({ config, logger: createLogger('silent') });
const url = await app.start();
const wsUrl = `${url.replace(/^http/, 'ws')}/graphql`;
// The bench's own calls, straight to Synapse: they are not the facade's and are not counted.
const setupUpstream = new Upstream({ homeserverUrl: synapse.url, perTokenConcurrency: 64 });
await using _setup = { [Symbol.asyncDispose]: () => setupUpstream.close() };

// --- users and rooms -------------------------------------------------------------------------

/** Runs `task` over `items`, `limit` at a time. */
async function inBatches<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>) {
  const results: R[] = [];
  for (let index = 0; index < items.length; index += limit) {
    results.push(...(await Promise.all(items.slice(index, index + limit).map(task))));
  }
  return results;
}

const register = (prefix: string) =>
  registerUser(synapse.url, synapse.registrationSharedSecret, { prefix });
// Every member of the attacked rooms is a different user, so that each costs a profile call; the
// first of them are also scenario 1's subscribers and scenario 4's users.
const memberCount = Math.max(subscriberCount, attackRooms * roomMembers, roomUsers);
progress(`registering ${memberCount + 2} users`);
const probeUser = await register('probe');
const attacker = await register('attacker');
const members = await inBatches(
  Array.from({ length: memberCount }, (_, index) => index),
  8,
  (index) => register(`member${index}`),
);
const asClient = (user: RegisteredUser) => setupUpstream.client(user.accessToken);
const owner = asClient(attacker);

progress(`creating ${attackRooms} rooms of ${roomMembers} members, and one watched room`);
const costlyRooms = await inBatches(
  Array.from({ length: attackRooms }, (_, index) => index),
  4,
  async (index) => {
    const { roomId } = await createRoom(owner, { name: `Costly ${index}`, preset: 'public_chat' });
    const own = members.slice(index * roomMembers, (index + 1) * roomMembers);
    await inBatches(own, 6, (member) => joinRoom(asClient(member), roomId));
    return roomId;
  },
);
const { roomId: watchedRoom } = await createRoom(owner, { name: 'Watched', preset: 'public_chat' });
await inBatches(members.slice(0, roomUsers), 6, (member) =>
  joinRoom(asClient(member), watchedRoom),
);

// --- measuring helpers -----------------------------------------------------------------------

const LONG_POLL = /\/sync\?(?:.*&)?timeout=[1-9]/;
/** The proxy's first log entry still open: everything before it has ended. */
let firstOpen = 0;
/** The facade's requests open upstream right now: `/sync` long-polls, and everything else. */
function inFlight() {
  const { log } = proxy;
  while (firstOpen < log.length && log[firstOpen]?.closed !== null) {
    firstOpen++;
  }
  let longPolls = 0;
  let others = 0;
  for (let index = firstOpen; index < log.length; index++) {
    const request = log[index];
    if (request?.closed === null) {
      if (LONG_POLL.test(request.url)) {
        longPolls++;
      } else {
        others++;
      }
    }
  }
  return { longPolls, others };
}
const openLongPolls = () => inFlight().longPolls;

/** What reached the proxy since `from` (an index into its log), by kind of call. */
function callsSince(from: number): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const { method, url: path } of proxy.log.slice(from)) {
    const bare = path.split('?')[0] ?? '';
    const kind = LONG_POLL.test(path)
      ? '/sync long-poll'
      : bare.endsWith('/sync')
        ? '/sync'
        : bare.endsWith('/state')
          ? '/state'
          : bare.endsWith('/account/whoami')
            ? 'whoami'
            : bare.includes('/profile/')
              ? 'profile'
              : `${method} ${bare.replace(/^\/_matrix\/client\/v3/, '')}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}
const total = (kinds: Map<string, number>) => [...kinds.values()].reduce((a, b) => a + b, 0);
const describeCalls = (kinds: Map<string, number>) =>
  kinds.size === 0
    ? '0'
    : [...kinds.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([kind, count]) => `${count} ${kind}`)
        .join(', ');

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000) {
  if (!(await until(condition, timeoutMs))) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

/** POSTs `body` with `token`: time to the whole answer, status, first error code, the answer. */
async function post(token: string, body: string) {
  const answer = await postGraphql(url, token, body);
  return { ms: answer.ms, status: answer.status, code: firstErrorCode(answer), text: answer.text };
}

const PROBE = graphqlBody('{ viewer { userId } }');
const probeAnswer = JSON.stringify({ data: { viewer: { userId: probeUser.userId } } });

// The probe's own upstream calls, told apart from everyone else's by its token: undici reports
// every request it creates (the facade's pools use the undici package, which publishes on the
// same channel as Node's fetch), with its headers.
const probeAuthorization = `Bearer ${probeUser.accessToken}`;
let probeCalls = 0;
const countProbeCalls = (message: unknown) => {
  const { request } = message as { request: { origin: string | URL; headers: unknown } };
  const headers = Array.isArray(request.headers) ? request.headers : [String(request.headers)];
  if (
    new URL(String(request.origin)).origin === proxy.url &&
    headers.some((header) => String(header).includes(probeAuthorization))
  ) {
    probeCalls++;
  }
};
const requestCreated = channel('undici:request:create');
requestCreated.subscribe(countProbeCalls);
await using _unsubscribe = {
  [Symbol.asyncDispose]: async () => void requestCreated.unsubscribe(countProbeCalls),
};

interface Batch {
  readonly times: number[];
  failed: number;
  /** Upstream calls the probes made. */
  calls: number;
  /** The fewest long-polls open upstream when a probe was sent. */
  longPolls: number;
  /** The most other requests of the facade open upstream when a probe was sent. */
  busy: number;
}
const newBatch = (): Batch => ({ times: [], failed: 0, calls: 0, longPolls: Infinity, busy: 0 });

/** `count` probes by the probe user, one after the other, added to `batch`. */
async function probe(batch: Batch, count = probesPerBatch) {
  const callsBefore = probeCalls;
  for (let index = 0; index < count; index++) {
    const open = inFlight();
    batch.longPolls = Math.min(batch.longPolls, open.longPolls);
    batch.busy = Math.max(batch.busy, open.others);
    const answer = await post(probeUser.accessToken, PROBE);
    batch.times.push(answer.ms);
    if (answer.status !== 200 || answer.text !== probeAnswer) {
      batch.failed++;
    }
  }
  batch.calls += probeCalls - callsBefore;
}

function quantile(sorted: readonly number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}
const fmt = (value: number) => (value >= 10_000 ? value.toFixed(0) : value.toFixed(1)).padStart(8);

function batchRow(name: string, batch: Batch) {
  const sorted = [...batch.times].sort((a, b) => a - b);
  const longPolls = Number.isFinite(batch.longPolls) ? String(batch.longPolls) : '-';
  return `${name.padEnd(38)} ${String(sorted.length).padStart(6)} ${fmt(quantile(sorted, 0.5))} ${fmt(quantile(sorted, 0.9))} ${fmt(sorted.at(-1) ?? NaN)} ${String(batch.failed).padStart(6)} ${longPolls.padStart(10)} ${String(batch.busy).padStart(6)} ${(batch.calls / Math.max(1, sorted.length)).toFixed(2).padStart(10)}`;
}
const batchHeader = `${'probe { viewer { userId } }'.padEnd(38)} ${'probes'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'failed'.padStart(6)} ${'long-polls'.padStart(10)} ${'busy'.padStart(6)} ${'calls each'.padStart(10)}`;

type ErrorList = { message?: string; extensions?: { code?: string } }[];
/** A graphql-transport-ws message, as far as the counting below reads it. */
interface CountedMessage {
  readonly type: string;
  readonly payload?: { data?: unknown; errors?: ErrorList } | ErrorList;
}

/** A graphql-transport-ws socket that counts what it gets instead of keeping it. */
interface BenchSocket extends RawSocket<CountedMessage> {
  /** `next` messages with data. */
  readonly nexts: () => number;
  /** Refusals (`error` messages, or `next` with errors), by `extensions.code`. */
  readonly refused: Map<string, number>;
}

async function openSocket(token: string): Promise<BenchSocket> {
  const refused = new Map<string, number>();
  let nexts = 0;
  const refuse = (errors: ErrorList) => {
    const code = errors[0]?.extensions?.code ?? errors[0]?.message ?? 'unknown';
    refused.set(code, (refused.get(code) ?? 0) + 1);
  };
  // Counted, not kept: the heap figures of scenario 3 cover this process, clients included.
  const socket = await openAuthenticatedSocket<CountedMessage>(wsUrl, token, {
    keepMessages: false,
    onMessage: (message, send) => {
      if (message.type === 'ping') {
        send({ type: 'pong' });
      } else if (message.type === 'error' && Array.isArray(message.payload)) {
        refuse(message.payload);
      } else if (message.type === 'next' && !Array.isArray(message.payload)) {
        if (message.payload?.errors) {
          refuse(message.payload.errors);
        } else {
          nexts++;
        }
      }
    },
  });
  return Object.assign(socket, { nexts: () => nexts, refused });
}

/** Waits until every sync loop has stopped and its long-poll is gone (the grace period, 5 s). */
async function syncQuiet() {
  await waitFor(
    'the sync loops to stop',
    () => app.syncStats.loops === 0 && openLongPolls() === 0,
    config.sync.gracePeriodMs + 20_000,
  );
}

const MY_MEMBERSHIP = 'subscription { myMembership { membership } }';

// Warm up the pools, the document cache and the JIT before anything is timed.
await probe(newBatch(), 10);

// --- 1. sync long-polls and another user's query ---------------------------------------------

progress(`1. ${subscriberCount} subscribers vs a probe, ${rounds} rounds`);
const idleBatch = newBatch();
const rampBatch = newBatch();
const subscribedBatch = newBatch();
let openingMs = 0;
for (let round = 0; round < rounds; round++) {
  await probe(idleBatch);
  const openedAt = performance.now();
  // Probes run while the subscribers connect (a whoami each) and their loops make their initial
  // syncs, then once every long-poll is open.
  const opening = Promise.all(
    members.slice(0, subscriberCount).map(async (member) => {
      const socket = await openSocket(member.accessToken);
      socket.subscribe('m', MY_MEMBERSHIP);
      return socket;
    }),
  );
  await probe(rampBatch);
  const sockets = await opening;
  await waitFor(`${subscriberCount} long-polls`, () => openLongPolls() >= subscriberCount);
  openingMs += performance.now() - openedAt;
  await probe(subscribedBatch);
  await Promise.all(sockets.map((socket) => socket[Symbol.asyncDispose]()));
  await syncQuiet();
}

out(`\n1. sync long-polls and another user's query: ${rounds} rounds, interleaved`);
out(
  `   queries' pool ${config.upstream.connections} connections, long-polls' pool ${config.sync.connections}. When a probe was sent: "long-polls" the fewest /sync long-polls open upstream, "busy" the most other requests of the facade open upstream; "calls each": the probe's own upstream calls`,
);
out(batchHeader);
out(
  `${'before (issue): 40 users subscribed'.padEnd(38)} ${'-'.padStart(6)} ${'28600'.padStart(8)}`,
);
out(batchRow('no subscriptions', idleBatch));
out(batchRow(`while ${subscriberCount} users subscribe`, rampBatch));
out(batchRow(`${subscriberCount} users subscribed`, subscribedBatch));
out(
  `   ${subscriberCount} subscriptions took ${(openingMs / rounds).toFixed(0)} ms on average until every long-poll was open`,
);

// --- 2. one user's costly requests and another user's query ----------------------------------

const fiveThousand = graphqlBody(aliasedRooms(5000));
const sixteen = graphqlBody(aliasedRooms(16));
// Weighs 15 × (2 + 1 + 100 × 1) = 1,545 of MAX_COST 2,500. The rooms' state comes from one /sync
// filtered to them (the roomState loader batches what one tick asks for), then one profile call
// per distinct member: 1 + 15 × 12 + 1 = 182 of MAX_UPSTREAM_CALLS_PER_REQUEST 200 with the
// default room sizes. What really costs is the distinct members, whatever the query's shape:
// `rooms(first: 24)` with members' profiles weighs more (2,425) but reaches the same budget.
const costliest = graphqlBody(
  `{ ${costlyRooms
    .map(
      (roomId, index) =>
        `r${index}: room(id: "${roomId}") { members(first: 100) { edges { node { user { displayName } } } } }`,
    )
    .join(' ')} }`,
);

progress('2. costly requests vs a probe');
// Further tokens of the same attacker: the per-token cap is per token, not per user.
const extraTokens = await inBatches(
  Array.from({ length: Math.max(0, attackTokens - 1) }, (_, index) => index),
  4,
  async (index) =>
    (
      await login(setupUpstream.client(null), {
        user: attacker.userId,
        password: attacker.password,
        initialDeviceDisplayName: `bench token ${index + 2}`,
      })
    ).accessToken,
);
const allAttackTokens = [attacker.accessToken, ...extraTokens];

async function once(name: string, body: string) {
  await post(attacker.accessToken, body); // warms this document up
  const from = proxy.log.length;
  const answer = await post(attacker.accessToken, body);
  return { name, ...answer, upstream: callsSince(from) };
}
const single = [
  await once(
    `5,000 aliased room(id:) (${(fiveThousand.length / 1024).toFixed(0)} KB)`,
    fiveThousand,
  ),
  await once('16 aliased room(id:)', sixteen),
  await once(`costliest allowed: ${attackRooms} × members(first: 100) profiles`, costliest),
];

interface Attack {
  readonly name: string;
  readonly body: string | null;
  readonly tokens: readonly string[];
  readonly batch: Batch;
  requests: number;
  requestMs: number;
  upstream: number;
  readonly outcomes: Map<string, number>;
}
const attacks: Attack[] = [
  { name: 'attacker idle', body: null, tokens: [] },
  {
    name: `5,000 aliases, ${attackConcurrency} at once`,
    body: fiveThousand,
    tokens: [attacker.accessToken],
  },
  {
    name: `costliest, ${attackConcurrency} at once`,
    body: costliest,
    tokens: [attacker.accessToken],
  },
  {
    name: `costliest, ${attackConcurrency} × ${allAttackTokens.length} tokens`,
    body: costliest,
    tokens: allAttackTokens,
  },
].map((attack) => ({
  ...attack,
  batch: newBatch(),
  requests: 0,
  requestMs: 0,
  upstream: 0,
  outcomes: new Map<string, number>(),
}));

for (let round = 0; round < rounds; round++) {
  for (const attack of attacks) {
    const from = proxy.log.length;
    const probeCallsBefore = probeCalls;
    let stopped = false;
    const { body } = attack;
    const workers =
      body === null
        ? []
        : attack.tokens.flatMap((token) =>
            Array.from({ length: attackConcurrency }, async () => {
              while (!stopped) {
                const answer = await post(token, body);
                attack.requests++;
                attack.requestMs += answer.ms;
                const outcome = `${answer.status} ${answer.code}`;
                attack.outcomes.set(outcome, (attack.outcomes.get(outcome) ?? 0) + 1);
              }
            }),
          );
    // The attack is under way (its first requests upstream) before the first probe.
    await sleep(body === null ? 0 : 300);
    await probe(attack.batch);
    stopped = true;
    await Promise.all(workers);
    const calls = callsSince(from);
    attack.upstream += total(calls) - (probeCalls - probeCallsBefore);
  }
}

out(`\n2. one user's costly requests and another user's query`);
out(
  `${'request (alone)'.padEnd(52)} ${'before (issue)'.padEnd(30)} ${'status code'.padEnd(32)} ${'ms'.padStart(8)}  upstream calls`,
);
for (const [index, result] of single.entries()) {
  const before = index === 0 ? "delayed another's probe 3.9 s" : '';
  out(
    `${result.name.padEnd(52)} ${before.padEnd(30)} ${`${result.status} ${result.code}`.padEnd(32)} ${fmt(result.ms)}  ${total(result.upstream)} (${describeCalls(result.upstream)})`,
  );
}
out(
  `   (the 5,000-alias document is refused by MAX_TOKENS ${config.limits.maxTokens} before MAX_ALIASES ${config.limits.maxAliases} is counted; 16 aliases show the alias limit)`,
);
out(`\n${rounds} rounds, interleaved; columns as in 1`);
out(batchHeader);
for (const attack of attacks) {
  out(batchRow(attack.name, attack.batch));
}
out(
  `${'attacker'.padEnd(38)} ${'requests'.padStart(8)} ${'mean ms'.padStart(8)} ${'calls each'.padStart(10)}  outcomes`,
);
for (const attack of attacks.filter((candidate) => candidate.body !== null)) {
  const requests = Math.max(1, attack.requests);
  out(
    `${attack.name.padEnd(38)} ${String(attack.requests).padStart(8)} ${fmt(attack.requestMs / requests)} ${(attack.upstream / requests).toFixed(1).padStart(10)}  ${[...attack.outcomes.entries()].map(([outcome, count]) => `${count}× ${outcome}`).join(', ')}`,
  );
}

// --- 3. one socket, 20,000 subscriptions ------------------------------------------------------

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const refusals = (refused: Map<string, number>) =>
  refused.size === 0
    ? 'none'
    : [...refused.entries()].map(([code, count]) => `${count} ${code}`).join(', ');
const countOf = (refused: Map<string, number>) => [...refused.values()].reduce((a, b) => a + b, 0);
const closing = async (socket: BenchSocket) =>
  socket.isOpen() ? 'still open' : `closed ${Object.values(await socket.closed).join(' ')}`;

progress(`3. ${wsSubscribes} subscribe messages on one socket, then ${wsPaced} paced`);
await syncQuiet();
const heapBefore = await settledHeapUsed();
// (a) As fast as the client can write them; the peak of what ran is sampled while they land.
const flood = await openSocket(attacker.accessToken);
const floodStarted = performance.now();
for (let index = 0; index < wsSubscribes; index++) {
  flood.subscribe(`s${index}`, MY_MEMBERSHIP);
}
let floodPeak = 0;
await waitFor(
  'every subscribe to be answered, or the socket closed',
  () => {
    floodPeak = Math.max(floodPeak, app.syncStats.listeners);
    return countOf(flood.refused) + app.syncStats.listeners >= wsSubscribes || !flood.isOpen();
  },
  120_000,
);
const floodMs = performance.now() - floodStarted;
const floodState = await closing(flood);
await flood[Symbol.asyncDispose]();
await syncQuiet();
const heapFlooded = await settledHeapUsed();

// (b) The same kind of flood, paced below any per-socket message rate: 100 every 600 ms.
const paced = await openSocket(attacker.accessToken);
for (let index = 0; index < wsPaced && paced.isOpen(); index++) {
  paced.subscribe(`p${index}`, MY_MEMBERSHIP);
  if (index % 100 === 99) {
    await sleep(600);
  }
}
await waitFor(
  'the paced subscribes to be answered',
  () => countOf(paced.refused) + app.syncStats.listeners >= wsPaced || !paced.isOpen(),
);
const pacedRunning = app.syncStats.listeners;
const pacedState = await closing(paced);
const heapPaced = await settledHeapUsed();

// (c) The same token on more sockets, 100 each: the per-token cap, across connections.
const more = [await openSocket(attacker.accessToken), await openSocket(attacker.accessToken)];
for (const [socketIndex, socket] of more.entries()) {
  for (let index = 0; index < config.wsMaxOperationsPerSocket; index++) {
    socket.subscribe(`t${socketIndex}-${index}`, MY_MEMBERSHIP);
  }
}
const moreSent = more.length * config.wsMaxOperationsPerSocket;
const moreRefused = new Map<string, number>();
await waitFor('the other sockets', () => {
  const refused = more.reduce((sum, socket) => sum + countOf(socket.refused), 0);
  return refused + app.syncStats.listeners - pacedRunning >= moreSent;
});
for (const socket of more) {
  for (const [code, count] of socket.refused) {
    moreRefused.set(code, (moreRefused.get(code) ?? 0) + count);
  }
}
const moreRunning = app.syncStats.listeners - pacedRunning;
await Promise.all([paced, ...more].map((socket) => socket[Symbol.asyncDispose]()));
await syncQuiet();
const heapClosed = await settledHeapUsed();

const heapChange = (after: number) =>
  `${mb(heapBefore)} → ${mb(after)} MB (${after >= heapBefore ? '+' : ''}${mb(after - heapBefore)})`;
out(`\n3. subscriptions on one graphql-ws socket (myMembership); heap settled, whole process`);
out(`${''.padEnd(46)} ${'before (issue)'.padEnd(16)} now`);
out(
  `${`${wsSubscribes} subscribes at once: peak running`.padEnd(46)} ${'20,000'.padEnd(16)} ${floodPeak}`,
);
out(
  `${'  answered'.padEnd(46)} ${''.padEnd(16)} refused: ${refusals(flood.refused)}; socket ${floodState}; after ${floodMs.toFixed(0)} ms`,
);
out(`${'  heap once it is gone'.padEnd(46)} ${'+200 MB'.padEnd(16)} ${heapChange(heapFlooded)}`);
out(
  `${`${wsPaced} subscribes, 100 every 600 ms: running`.padEnd(46)} ${''.padEnd(16)} ${pacedRunning}; refused: ${refusals(paced.refused)}; socket ${pacedState}`,
);
out(`${'  heap with them running'.padEnd(46)} ${''.padEnd(16)} ${heapChange(heapPaced)}`);
out(
  `${`same token, ${more.length} more sockets × ${config.wsMaxOperationsPerSocket}`.padEnd(46)} ${''.padEnd(16)} ${moreRunning} more running; refused: ${refusals(moreRefused)}`,
);
out(`${'  heap once all are closed'.padEnd(46)} ${''.padEnd(16)} ${heapChange(heapClosed)}`);

// --- 4. roomUpdated subscriptions on one room ------------------------------------------------

const ROOM_UPDATED = 'subscription ($roomId: ID!) { roomUpdated(roomId: $roomId) { id name } }';

/**
 * Opens `roomSubscriptions` roomUpdated subscriptions on the watched room spread over `users`
 * (each on sockets of at most WS_MAX_OPERATIONS_PER_SOCKET), counts the upstream calls until they
 * all run, then changes the room's name `stateChanges` times and counts the calls of each change
 * until every subscription has had its update.
 */
async function roomUpdated(users: readonly RegisteredUser[]) {
  const perUser = Math.ceil(roomSubscriptions / users.length);
  const perSocket = config.wsMaxOperationsPerSocket;
  const from = proxy.log.length;
  const begun = performance.now();
  const sockets: BenchSocket[] = [];
  await Promise.all(
    users.map(async (user) => {
      for (let offset = 0; offset < perUser; offset += perSocket) {
        const socket = await openSocket(user.accessToken);
        sockets.push(socket);
        for (let index = offset; index < Math.min(perUser, offset + perSocket); index++) {
          socket.subscribe(`u${index}`, ROOM_UPDATED, { roomId: watchedRoom });
        }
      }
    }),
  );
  const running = perUser * users.length;
  await waitFor('the subscriptions', () => app.syncStats.listeners >= running);
  await waitFor('their long-polls', () => openLongPolls() >= users.length);
  const upFrontMs = performance.now() - begun;
  // Calls still under way (a /state finishing after its listener counted) land in the tally.
  await sleep(300);
  const upFront = callsSince(from);
  const changes: { calls: Map<string, number>; ms: number }[] = [];
  const nexts = () => sockets.reduce((sum, socket) => sum + socket.nexts(), 0);
  for (let change = 1; change <= stateChanges; change++) {
    const mark = proxy.log.length;
    const seen = nexts();
    const changed = performance.now();
    await putStateEvent(owner, watchedRoom, 'm.room.name', '', { name: `Watched ${Date.now()}` });
    await waitFor('every subscription to get the change', () => nexts() >= seen + running);
    const ms = performance.now() - changed;
    await waitFor('the long-polls to be open again', () => openLongPolls() >= users.length);
    await sleep(300);
    changes.push({ calls: callsSince(mark), ms });
  }
  const refused = new Map<string, number>();
  for (const socket of sockets) {
    for (const [code, count] of socket.refused) {
      refused.set(code, (refused.get(code) ?? 0) + count);
    }
  }
  await Promise.all(sockets.map((socket) => socket[Symbol.asyncDispose]()));
  await syncQuiet();
  return { running, upFront, upFrontMs, changes, refused };
}

progress(`4. ${roomSubscriptions} roomUpdated subscriptions`);
const layouts = [
  {
    name: `1 user, ${Math.ceil(roomSubscriptions / config.wsMaxOperationsPerSocket)} sockets`,
    ...(await roomUpdated([attacker])),
  },
  {
    name: `${roomUsers} users, 1 socket each`,
    ...(await roomUpdated(members.slice(0, roomUsers))),
  },
];

out(
  `\n4. ${roomSubscriptions} roomUpdated subscriptions on one room, ${stateChanges} name changes`,
);
out(
  `   "ms": until every subscription runs and its long-poll is open / until every subscription has the change`,
);
const row4 = (name: string, state: string, ms: string, rest = '') =>
  out(`${name.padEnd(36)} ${state.padStart(7)} ${ms.padStart(8)}  ${rest}`);
row4('', '/state', 'ms', 'all upstream calls');
row4('before (issue): up front', '200', '');
row4('before (issue): per change', '200', '');
for (const layout of layouts) {
  row4(
    `${layout.name}: up front`,
    String(layout.upFront.get('/state') ?? 0),
    fmt(layout.upFrontMs),
    `${describeCalls(layout.upFront)}  (${layout.running} running${layout.refused.size > 0 ? `; refused: ${refusals(layout.refused)}` : ''})`,
  );
  for (const [index, { calls, ms }] of layout.changes.entries()) {
    row4(
      `${layout.name}: change ${index + 1}`,
      String(calls.get('/state') ?? 0),
      fmt(ms),
      describeCalls(calls),
    );
  }
}
out(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
