/**
 * A seeded fuzz run: queries and mutations generated from `schema.graphql` (test/support/
 * schema-fuzzer.ts), sent through the in-process facade as a real user with real rooms. Whatever
 * they ask, every answer must be a GraphQL answer below 500 whose errors carry a documented
 * `extensions.code` (never INTERNAL_SERVER_ERROR) and nothing of the server's insides, no promise
 * may be left rejected, and the facade must still answer afterwards.
 *
 * `FUZZ_SEED=<n>` replays a run (the seed is printed with every failure); `FUZZ_RUNS=<n>` sends
 * more operations than the default 150.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { sendMessageEvent } from '../../src/matrix/room-events.ts';
import { createRoom } from '../../src/matrix/rooms.ts';
import { startFacade, type TestFacade } from '../support/facade.ts';
import { homeserver, newUpstream, newUser, newUserClient } from '../support/homeserver.ts';
import { type FuzzOperation, type FuzzPools, SchemaFuzzer } from '../support/schema-fuzzer.ts';

// CI replays one fixed seed, so that a landing never depends on luck; elsewhere each run explores a
// new one (printed with every failure).
const seed = process.env['FUZZ_SEED']
  ? Number(process.env['FUZZ_SEED'])
  : process.env['CI']
    ? 20_261_203
    : randomInt(2 ** 31);
const runs = process.env['FUZZ_RUNS'] ? Number(process.env['FUZZ_RUNS']) : 150;

/**
 * The codes README.md's Errors table documents, read from it so the two cannot drift apart;
 * INTERNAL_SERVER_ERROR, also documented, is a bug wherever it shows here.
 */
const documentedCodes = new Set(
  [
    ...readFileSync(new URL('../../README.md', import.meta.url), 'utf8').matchAll(
      /^\| `([A-Z_]+)` +\|/gm,
    ),
  ]
    .map((match) => match[1])
    .filter((code) => code !== 'INTERNAL_SERVER_ERROR'),
);
// TODO: drop once README.md's Errors table lists it: the cost limit (src/schema/cost.ts) is being
// added alongside this test, and its code is not documented yet.
documentedCodes.add('QUERY_TOO_EXPENSIVE');

interface Answer {
  readonly status: number;
  readonly body: string;
}

interface GraphQLBody {
  data?: unknown;
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/** What is wrong with one answer; empty when nothing is. */
function problemsOf(answer: Answer, secrets: readonly string[]): string[] {
  const problems: string[] = [];
  if (answer.status >= 500) {
    problems.push(`HTTP ${answer.status}`);
  }
  let body: GraphQLBody;
  try {
    body = JSON.parse(answer.body) as GraphQLBody;
  } catch {
    return [...problems, `no JSON body: ${answer.body.slice(0, 200)}`];
  }
  if (body.data === undefined && body.errors === undefined) {
    problems.push('neither data nor errors');
  }
  for (const error of body.errors ?? []) {
    const code = error.extensions?.code;
    if (typeof code !== 'string' || !documentedCodes.has(code)) {
      problems.push(`error code ${String(code)}: ${String(error.message)}`);
    }
  }
  // Nothing of the server's insides: no stack, source path or wrapped error, no upstream address
  // or token.
  const insides = /"stack"|originalError|node_modules|\.ts:\d|\bat \S+ \(/;
  if (insides.test(answer.body)) {
    problems.push(`server insides in the answer: ${answer.body.match(insides)?.[0]}`);
  }
  for (const secret of secrets) {
    if (answer.body.includes(secret)) {
      problems.push('a secret (token or upstream address) in the answer');
    }
  }
  return problems;
}

/** A fuzzing user with real rooms, and the pools of IDs and cursors drawn from them. */
async function prepare(facade: TestFacade): Promise<{ token: string; pools: FuzzPools }> {
  await using upstream = newUpstream();
  const alice = await newUserClient(upstream, 'fuzz');
  const bob = await newUser('fuzz-peer');
  const userId = alice.user.userId;
  const serverName = userId.slice(userId.indexOf(':') + 1);
  const aliasName = `fuzz${randomBytes(4).toString('hex')}`;
  const { roomId } = await createRoom(alice.client, {
    name: 'Fuzzed',
    topic: 'read by the fuzz queries',
    roomAliasName: aliasName,
    invite: [bob.userId],
  });
  const eventIds: string[] = [];
  for (const body of ['one', 'two', 'three']) {
    const sent = await sendMessageEvent(alice.client, roomId, 'm.room.message', body, {
      msgtype: 'm.text',
      body,
    });
    eventIds.push(sent.eventId);
  }
  // Rooms the mutations may rename, leave, ban from or delete.
  const throwaway: string[] = [];
  for (const name of ['Throwaway 1', 'Throwaway 2', 'Throwaway 3']) {
    throwaway.push((await createRoom(alice.client, { name })).roomId);
  }
  const seeded = await facade.graphql(
    `query ($room: ID!) {
      rooms(first: 1) { edges { cursor } pageInfo { endCursor } }
      room(id: $room) {
        members(first: 1) { edges { cursor } }
        messages(first: 1) { edges { cursor } pageInfo { endCursor } }
      }
    }`,
    { token: alice.user.accessToken, variables: { room: roomId } },
  );
  expect(seeded.errors).toBeUndefined();
  const cursors = [...JSON.stringify(seeded.data).matchAll(/"(?:cursor|endCursor)":"([^"]+)"/g)]
    .map((match) => match[1])
    .filter((cursor): cursor is string => cursor !== undefined);
  expect(cursors.length).toBeGreaterThan(0);
  return {
    token: alice.user.accessToken,
    pools: {
      roomIds: [roomId, ...throwaway],
      mutableRoomIds: throwaway,
      userIds: [userId, bob.userId, `@nobody-${aliasName}:${serverName}`],
      eventIds,
      cursors,
      aliases: [`#${aliasName}:${serverName}`, `#missing-${aliasName}:${serverName}`],
    },
  };
}

interface FuzzRun {
  /** Operations whose answer broke a rule, with what was wrong. */
  readonly failures: string[];
  /** Rejections no one handled, with the operation running when each was reported. */
  readonly unhandled: { readonly during: number; readonly reason: unknown }[];
  /** Operations answered without any error. */
  clean: number;
  /** How often each `extensions.code` came. */
  readonly codes: Map<string, number>;
}

/** Sends `runs` operations of `seed` as a new user, one after another, and judges each answer. */
async function fuzz(seed: number, runs: number): Promise<FuzzRun> {
  await using facade = startFacade();
  const { token, pools } = await prepare(facade);
  const run: FuzzRun = { failures: [], unhandled: [], clean: 0, codes: new Map() };
  let current = -1;
  const onUnhandled = (reason: unknown) => run.unhandled.push({ during: current, reason });
  process.on('unhandledRejection', onUnhandled);
  try {
    const fuzzer = new SchemaFuzzer({
      schema: buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8')),
      seed,
      pools,
      limits: { maxDepth: 12, maxAliases: 15, maxFields: 60 },
      // deleteSession logs the fuzzing user out: every later operation would only test that.
      skipRootFields: ['Mutation.deleteSession'],
    });
    const secrets = [token, new URL(homeserver().url).host];
    for (let index = 0; index < runs; index++) {
      current = index;
      const operation = fuzzer.next({ mutationShare: 0.3, hostileShare: 0.3 });
      const response = await facade.app.yoga.fetch('http://facade.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify(operation),
      });
      const answer = { status: response.status, body: await response.text() };
      const problems = problemsOf(answer, secrets);
      if (problems.length > 0) {
        run.failures.push(`#${index}: ${problems.join('; ')}`);
        console.error(
          `FUZZ_SEED=${seed} operation #${index}: ${problems.join('; ')}\n${describeOperation(operation)}\nanswer: ${answer.status} ${answer.body.slice(0, 2000)}`,
        );
      }
      if (process.env['FUZZ_VERBOSE']) {
        console.log(`#${index}\n${describeOperation(operation)}\n=> ${answer.body.slice(0, 500)}`);
      }
      const body = JSON.parse(answer.body) as GraphQLBody;
      if (body.errors === undefined) {
        run.clean += 1;
      }
      for (const error of body.errors ?? []) {
        const code = String(error.extensions?.code);
        run.codes.set(code, (run.codes.get(code) ?? 0) + 1);
      }
    }
    // Still answering, as the same user, after all of it.
    const after = await facade.graphql('{ viewer { userId } }', { token });
    expect(after.errors).toBeUndefined();
    // A rejection left unhandled by the last operation is reported a moment later.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return run;
}

function describeOperation(operation: FuzzOperation): string {
  return `${operation.query}\nvariables: ${JSON.stringify(operation.variables).slice(0, 2000)}`;
}

function describeRejection({ during, reason }: FuzzRun['unhandled'][number]): string {
  const text = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  return `during #${during}: ${text}`;
}

describe('schema fuzz', () => {
  it(`should answer ${runs} generated operations cleanly (seed ${seed})`, async () => {
    const run = await fuzz(seed, runs);

    const reproduce = `FUZZ_SEED=${seed} FUZZ_RUNS=${runs} reproduces this run`;
    expect(run.failures, reproduce).toEqual([]);
    expect(run.unhandled.map(describeRejection), `${reproduce}: unhandled rejections`).toEqual([]);
    // The generator must not drift into only sending what validation refuses.
    expect(run.clean, `${reproduce}: codes ${JSON.stringify([...run.codes])}`).toBeGreaterThan(
      runs / 10,
    );
  });

  // The run that found `nodes(ids:)` abandoning the loads it had started when a later ID was
  // malformed (their refusals went unhandled); fixed in Room's loadOne.
  it('should leave no rejection unhandled (FUZZ_SEED=1, 182 operations)', async () => {
    const run = await fuzz(1, 182);
    expect(run.failures).toEqual([]);
    expect(run.unhandled.map(describeRejection)).toEqual([]);
  });
});
