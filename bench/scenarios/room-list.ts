/**
 * Scenario `room-list`: a user in N rooms (6 members and 10 messages each; the issue: 50) lists
 * their rooms, with and without each room's latest message, and with each room's first 5 members.
 * Contenders, interleaved run by run:
 *
 * - the facade, `rooms(first: N)` with summary fields (and `messages(last: 1)`, or
 *   `members(first: 5)`);
 * - direct REST: `joined_rooms`, then every room's `/state` in parallel (and its
 *   `/messages?dir=b&limit=1`): 1 + N (1 + 2N) calls; the states hold the members too;
 * - direct Simplified Sliding Sync (MSC4186), one `POST …/sync?timeout=0` with one list of N rooms,
 *   `timeline_limit` 0 (1), or every member event and the power levels: the baseline, one call.
 *   Each call gets a fresh `conn_id` so Synapse cannot answer from an earlier connection.
 * - in every group, the facade again, warm: a second child with warm room views
 *   (`WARM_VIEW_IDLE_MS=60000`, src/sync/warm-views.ts) behind its own counting proxy, read until
 *   its view answers before timing, and checked to answer each of the three lists exactly as the
 *   cold facade does. The view holds every member event of its joined rooms, so the list with
 *   members is answered from it too. Its view's sync loop long-polls through that proxy: its
 *   calls per run are the proxy's requests but that loop's `GET /sync` ones
 *   (bench/lib/warm-view.ts).
 */
import { randomBytes } from 'node:crypto';
import { graphql, mapLimit, matrix, newAgent } from '../lib/client.ts';
import type { BenchContext } from '../lib/context.ts';
import { startFloors } from '../lib/floors.ts';
import { hotP50, IDLE_MS, idleCostTable, warmIdleCost } from '../lib/idle-cost.ts';
import { type ContenderResult, interleave } from '../lib/interleave.ts';
import { registerUsers, seedRoom } from '../lib/seed.ts';
import { startExtraFacade, startSideBySide } from '../lib/side-by-side.ts';
import { contenderTable } from '../lib/table.ts';
import {
  expectOnlyHits,
  expectWarmAsCold,
  WARM_CONTENDER as WARM,
  warmReadTarget,
  warmUntilFree,
  warmViewReads,
  withoutSyncLoop,
} from '../lib/warm-view.ts';

const MEMBERS = 6;
const MESSAGES = 10;

const summaryFields = 'id name topic avatarUrl canonicalAlias joinedMemberCount';
const fiveMembers = 'members(first: 5) { edges { node { displayName powerLevel } } }';
const latestMessage =
  'messages(last: 1) { edges { node { id type originServerTs sender { id } ... on MessageEvent { body } } } }';
type ListExtra = 'messages' | 'members' | null;

export async function roomList(ctx: BenchContext): Promise<void> {
  const { url: homeserverUrl, registrationSharedSecret } = ctx.homeserver;
  const { rooms, runs, warmup } = ctx.sizes;
  if (rooms < 1 || rooms > 100) {
    throw new Error('room-list: rooms must be 1 to 100 (the most one page of rooms(first:) holds)');
  }
  ctx.log(`seeding: 1 user in ${rooms} rooms of ${MEMBERS} members and ${MESSAGES} messages`);
  const users = await registerUsers(homeserverUrl, registrationSharedSecret, MEMBERS, 'list');
  const [owner] = users;
  if (!owner) {
    throw new Error('no users');
  }
  const seedAgent = newAgent();
  await mapLimit(
    Array.from({ length: rooms }, (_, index) => index),
    4,
    (index) =>
      seedRoom(seedAgent, homeserverUrl, users, {
        name: `Room ${index}`,
        topic: `Topic ${index}`,
        messages: MESSAGES,
      }),
  );
  await seedAgent.close();

  await using sides = await startSideBySide(homeserverUrl);
  const { facade, facadeProxy, directProxy, facadeAgent, directAgent } = sides;
  const warmEnv = { WARM_VIEW_IDLE_MS: '60000' };
  await using warmSide = await startExtraFacade(homeserverUrl, warmEnv);
  await using floors = await startFloors(homeserverUrl, warmEnv);
  const warmFacade = warmSide.facade;
  // Every request but its view's sync loop: what one warm read costs upstream.
  const warmProxy = withoutSyncLoop(warmSide.proxy);
  const token = owner.accessToken;

  const listFrom = async (
    target: { url: string; agent: typeof facadeAgent },
    extra: ListExtra,
  ): Promise<{ bytes: number; body: { rooms: { edges: unknown[] } } }> => {
    const fields =
      extra === 'messages' ? ` ${latestMessage}` : extra === 'members' ? ` ${fiveMembers}` : '';
    const query = `{ rooms(first: ${rooms}) { edges { node { ${summaryFields}${fields} } } } }`;
    const { bytes, body } = await graphql<{ rooms: { edges: unknown[] } }>(
      target.agent,
      target.url,
      token,
      query,
    );
    if (body.rooms.edges.length !== rooms) {
      throw new Error(
        `facade at ${target.url} listed ${body.rooms.edges.length} rooms, not ${rooms}`,
      );
    }
    return { bytes, body };
  };
  const coldTarget = { url: facade.url, agent: facadeAgent };
  const warmTarget = { url: warmFacade.url, agent: warmSide.agent };
  const facadeList = async (extra: ListExtra): Promise<number> =>
    (await listFrom(coldTarget, extra)).bytes;
  const warmList = async (extra: ListExtra): Promise<number> =>
    (await listFrom(warmTarget, extra)).bytes;

  const without = 'without messages';
  const withMessages = 'with latest message';
  // Not one of the targets: how the member lists the list brings along compare.
  const withMembers = 'with 5 members';
  ctx.log('warming: the warm facade reads the list until its view answers');
  const warmingReads = await warmUntilFree('room-list', warmProxy, () => warmList('messages'));
  // The same rooms with the same fields as the cold facade's, and every warm list with no upstream
  // call. Compared by room: rooms seeded at once can share a millisecond, which the sliding plan
  // orders by stream position and the view (which sees no stream positions in its snapshot) by
  // room ID; the order itself is checked by test/integration/warm-views.test.ts. Within a room,
  // as is: its members in the same order.
  await expectWarmAsCold(
    'room-list',
    warmProxy,
    ([null, 'messages', 'members'] as const).map((extra) => ({
      label: extra ?? 'summary',
      cold: async () => byRoom((await listFrom(coldTarget, extra)).body),
      warm: async () => byRoom((await listFrom(warmTarget, extra)).body),
    })),
  );
  ctx.log(`warm after ${warmingReads} reads; its answers equal the cold facade's`);
  // The target's group also times what any answer of the warm list's bytes costs here.
  const floorContenders = await floors.contenders(
    withMessages,
    JSON.stringify({ data: (await listFrom(warmTarget, 'messages')).body }),
    token,
  );
  const warmReadsBefore = await warmViewReads(warmFacade.url);
  const rest = async (withMessages: boolean): Promise<number> => {
    const joined = await matrix<{ joined_rooms: string[] }>(
      directAgent,
      directProxy.url,
      token,
      'GET',
      '/_matrix/client/v3/joined_rooms',
    );
    const sizes = await Promise.all(
      joined.body.joined_rooms.flatMap((roomId) => {
        const room = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
        const calls = [matrix(directAgent, directProxy.url, token, 'GET', `${room}/state`)];
        if (withMessages) {
          calls.push(
            matrix(directAgent, directProxy.url, token, 'GET', `${room}/messages?dir=b&limit=1`),
          );
        }
        return calls;
      }),
    );
    return sizes.reduce((sum, { bytes }) => sum + bytes, joined.bytes);
  };
  const slidingSync = async (timelineLimit: number, members = false): Promise<number> => {
    const { bytes, body } = await matrix<{ rooms?: Record<string, unknown> }>(
      directAgent,
      directProxy.url,
      token,
      'POST',
      '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync?timeout=0',
      {
        // A new connection every time: nothing Synapse kept for an earlier one applies.
        conn_id: `bench-${randomBytes(8).toString('hex')}`,
        lists: {
          rooms: {
            ranges: [[0, rooms - 1]],
            required_state: [
              ['m.room.name', ''],
              ['m.room.topic', ''],
              ['m.room.avatar', ''],
              ['m.room.canonical_alias', ''],
              // A member list needs every member event and the power levels that rank them.
              ...(members
                ? [
                    ['m.room.member', '*'],
                    ['m.room.power_levels', ''],
                  ]
                : [['m.room.member', '$LAZY']]),
            ],
            timeline_limit: timelineLimit,
          },
        },
      },
    );
    const listed = Object.keys(body.rooms ?? {}).length;
    if (listed !== rooms) {
      throw new Error(`sliding sync listed ${listed} rooms, not ${rooms}`);
    }
    return bytes;
  };

  const facadeCpu = () => facade.cpuMs();
  const warmCpu = () => warmFacade.cpuMs();
  const warmContender = (group: string, extra: ListExtra) => ({
    name: WARM,
    group,
    proxy: warmProxy,
    cpuMs: warmCpu,
    run: () => warmList(extra),
  });
  ctx.log(`timing: ${warmup} warm-up + ${runs} runs per contender, interleaved`);
  const results = await interleave(
    [
      {
        name: 'facade',
        group: without,
        proxy: facadeProxy,
        cpuMs: facadeCpu,
        run: () => facadeList(null),
      },
      warmContender(without, null),
      { name: 'joined_rooms + /state', group: without, proxy: directProxy, run: () => rest(false) },
      {
        name: 'sliding sync, timeline 0',
        group: without,
        baseline: true,
        proxy: directProxy,
        run: () => slidingSync(0),
      },
      {
        name: 'facade',
        group: withMessages,
        proxy: facadeProxy,
        cpuMs: facadeCpu,
        run: () => facadeList('messages'),
      },
      warmContender(withMessages, 'messages'),
      ...floorContenders,
      {
        name: 'joined_rooms + /state + /messages',
        group: withMessages,
        proxy: directProxy,
        run: () => rest(true),
      },
      {
        name: 'sliding sync, timeline 1',
        group: withMessages,
        baseline: true,
        proxy: directProxy,
        run: () => slidingSync(1),
      },
      {
        name: 'facade',
        group: withMembers,
        proxy: facadeProxy,
        cpuMs: facadeCpu,
        run: () => facadeList('members'),
      },
      warmContender(withMembers, 'members'),
      {
        name: 'joined_rooms + /state',
        group: withMembers,
        proxy: directProxy,
        run: () => rest(false),
      },
      {
        name: 'sliding sync, all members',
        group: withMembers,
        baseline: true,
        proxy: directProxy,
        run: () => slidingSync(0, true),
      },
    ],
    { runs, warmup },
  );

  // Every timed read of the warm facade was a hit: none went cold (a sliding sync would count as
  // a call anyway, but a miss is named here).
  const warmReads = await expectOnlyHits(
    'room-list',
    warmFacade.url,
    warmReadsBefore,
    results.filter((result) => result.name === WARM).length * (warmup + runs),
  );

  // The warm list and its floors alone: hot, in a burst, and after a moment of idle.
  const idle = await warmIdleCost(
    'room-list',
    warmFacade.url,
    [warmContender(withMessages, 'messages'), ...floorContenders],
    runs,
  );

  const targets = [without, withMessages].map((group) => roomListTarget(results, group));
  const warmGoal = warmReadTarget(
    'room-list',
    results,
    withMessages,
    `warm ${rooms}-room list with latest messages`,
    hotP50(idle, WARM),
  );
  ctx.log(`\nroom-list: ${rooms} rooms, ${runs} runs\n${contenderTable(results)}`);
  for (const target of targets) {
    ctx.log(`target (${target.group}): ${target.text}: ${target.met ? 'met' : 'NOT met'}`);
  }
  ctx.log(`target (${withMessages}): ${warmGoal.text}: ${warmGoal.met ? 'met' : 'NOT met'}`);
  ctx.log(
    `\nalone, ${runs} rounds: hot (in a burst), and after a moment of idle\n${idleCostTable(idle, IDLE_MS)}`,
  );
  const path = await ctx.writeResult('room-list', {
    parameters: { rooms, membersPerRoom: MEMBERS, messagesPerRoom: MESSAGES, runs, warmup },
    facadeEnvironment: facade.env,
    facadeWarnings: facade.warnings,
    warmFacadeEnvironment: warmFacade.env,
    warmFacadeWarnings: warmFacade.warnings,
    warmFacade: { warmingReads, timedReads: warmReads },
    contenders: results,
    targets,
    warmTarget: warmGoal,
    idleCost: { idleMs: IDLE_MS, contenders: idle },
  });
  ctx.log(`wrote ${path}`);
}

/**
 * The target for one group: 1 upstream call, p50 within 3 ms of the sliding sync call,
 * and "well under" direct REST, taken here as at most half its p50.
 */
function roomListTarget(results: readonly ContenderResult[], group: string) {
  const inGroup = results.filter((result) => result.group === group);
  const facade = inGroup.find((result) => result.name === 'facade');
  const sliding = inGroup.find((result) => result.baseline);
  const rest = inGroup.find((result) => result.name.startsWith('joined_rooms'));
  if (!facade || !sliding || !rest) {
    throw new Error(`room-list: contenders of ${group} missing`);
  }
  const calls = facade.upstreamCalls.max === 1;
  const nearSliding = facade.latencyMs.p50 <= sliding.latencyMs.p50 + 3;
  const underRest = facade.latencyMs.p50 <= rest.latencyMs.p50 / 2;
  return {
    group,
    text:
      `1 upstream call (${facade.upstreamCalls.max}), p50 ≤ sliding sync + 3 ms ` +
      `(${facade.latencyMs.p50.toFixed(1)} vs ${sliding.latencyMs.p50.toFixed(1)} + 3), ` +
      `≤ half of REST (${rest.latencyMs.p50.toFixed(1)})`,
    calls,
    nearSliding,
    underRest,
    met: calls && nearSliding && underRest,
  };
}

/** A `rooms` answer's nodes sorted by room ID, for comparing two plans' answers room by room. */
function byRoom(body: { rooms: { edges: unknown[] } }): unknown[] {
  const edges = body.rooms.edges as { node: { id: string } }[];
  return edges.map((edge) => edge.node).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
