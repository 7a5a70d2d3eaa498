/**
 * Scenario `room-page`: one room of 20 members and 20 messages (the room page), read
 * through the facade with one query, against the two direct calls a client makes in parallel:
 * `GET /rooms/{id}/state` and `GET /rooms/{id}/messages?dir=b&limit=20`. And the facade again,
 * warm: a second child with warm room views (`WARM_VIEW_IDLE_MS=60000`, src/sync/warm-views.ts)
 * behind its own counting proxy, read until its view answers the page with no upstream call, and
 * checked to answer it exactly as the cold facade does (the members in the same order), as in
 * room-list.ts. Its calls per run are its proxy's requests but its view's sync loop's `GET /sync`
 * ones (bench/lib/warm-view.ts).
 */

import { graphql, matrix, newAgent } from '../lib/client.ts';
import type { BenchContext } from '../lib/context.ts';
import { startFloors } from '../lib/floors.ts';
import { hotP50, IDLE_MS, idleCostTable, warmIdleCost } from '../lib/idle-cost.ts';
import { interleave } from '../lib/interleave.ts';
import { registerUsers, seedRoom } from '../lib/seed.ts';
import { startExtraFacade, startSideBySide } from '../lib/side-by-side.ts';
import { contenderTable } from '../lib/table.ts';
import {
  expectOnlyHits,
  expectWarmAsCold,
  WARM_CONTENDER,
  warmReadTarget,
  warmUntilFree,
  warmViewReads,
  withoutSyncLoop,
} from '../lib/warm-view.ts';

const query = `query ($id: ID!) {
  room(id: $id) {
    name topic
    members(first: 20) { edges { node { displayName membership powerLevel user { id } } } }
    messages(last: 20) { edges { node { id type originServerTs sender { id } ... on MessageEvent { body } } } }
  }
}`;

export async function roomPage(ctx: BenchContext): Promise<void> {
  const { url: homeserverUrl, registrationSharedSecret } = ctx.homeserver;
  const { pageMembers, pageEvents, runs, warmup } = ctx.sizes;
  ctx.log(`seeding: 1 room of ${pageMembers} members and ${pageEvents} messages`);
  const users = await registerUsers(homeserverUrl, registrationSharedSecret, pageMembers, 'page');
  const [owner] = users;
  if (!owner) {
    throw new Error('no users');
  }
  const seedAgent = newAgent();
  const roomId = await seedRoom(seedAgent, homeserverUrl, users, {
    name: 'Page',
    topic: 'A page',
    messages: pageEvents,
  });
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
  const room = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
  const coldPage = () => graphql(facadeAgent, facade.url, token, query, { id: roomId });
  const warmPage = () => graphql(warmSide.agent, warmFacade.url, token, query, { id: roomId });

  ctx.log('warming: the warm facade reads the page until its view answers');
  const warmingReads = await warmUntilFree('room-page', warmProxy, warmPage);
  // As is, not normalised: both order the members by power level, then display name, from the
  // same member events, and both page the same newest events oldest first.
  await expectWarmAsCold('room-page', warmProxy, [
    {
      label: 'room page',
      cold: async () => (await coldPage()).body,
      warm: async () => (await warmPage()).body,
    },
  ]);
  ctx.log(`warm after ${warmingReads} reads; its answer equals the cold facade's`);
  // What any answer of the warm page's bytes costs here, timed alongside.
  const floorContenders = await floors.contenders(
    'room page',
    JSON.stringify({ data: (await warmPage()).body }),
    token,
  );
  const warmReadsBefore = await warmViewReads(warmFacade.url);

  const warmContender = {
    name: WARM_CONTENDER,
    group: 'room page',
    proxy: warmProxy,
    cpuMs: () => warmFacade.cpuMs(),
    run: async () => (await warmPage()).bytes,
  };
  ctx.log(`timing: ${warmup} warm-up + ${runs} runs per contender, interleaved`);
  const results = await interleave(
    [
      {
        name: 'facade',
        group: 'room page',
        proxy: facadeProxy,
        cpuMs: () => facade.cpuMs(),
        run: async () => (await coldPage()).bytes,
      },
      {
        name: '/state + /messages in parallel',
        group: 'room page',
        baseline: true,
        proxy: directProxy,
        run: async () => {
          const [state, messages] = await Promise.all([
            matrix(directAgent, directProxy.url, token, 'GET', `${room}/state`),
            matrix(directAgent, directProxy.url, token, 'GET', `${room}/messages?dir=b&limit=20`),
          ]);
          return state.bytes + messages.bytes;
        },
      },
      warmContender,
      ...floorContenders,
    ],
    { runs, warmup },
  );

  // Every warm-up and timed read of the warm facade was a hit.
  const warmReads = await expectOnlyHits(
    'room-page',
    warmFacade.url,
    warmReadsBefore,
    warmup + runs,
  );
  // The warm page and its floors alone: hot, in a burst, and after a moment of idle.
  const idle = await warmIdleCost(
    'room-page',
    warmFacade.url,
    [warmContender, ...floorContenders],
    runs,
  );
  const viaFacade = results.find((result) => result.name === 'facade');
  const direct = results.find((result) => result.baseline);
  if (!viaFacade || !direct) {
    throw new Error('room-page: results missing');
  }
  const addedP50 = viaFacade.latencyMs.p50 - direct.latencyMs.p50;
  const target = {
    text: `added p50 ≤ 1 ms over the parallel direct calls (${addedP50.toFixed(2)} ms)`,
    addedP50Ms: addedP50,
    met: addedP50 <= 1,
  };
  ctx.log(`\nroom-page: ${pageMembers} members, ${pageEvents} messages, ${runs} runs`);
  ctx.log(contenderTable(results));
  const warmGoal = warmReadTarget(
    'room-page',
    results,
    'room page',
    'warm room page',
    hotP50(idle, WARM_CONTENDER),
  );
  ctx.log(`target: ${target.text}: ${target.met ? 'met' : 'NOT met'}`);
  ctx.log(`target: ${warmGoal.text}: ${warmGoal.met ? 'met' : 'NOT met'}`);
  ctx.log(
    `\nalone, ${runs} rounds: hot (in a burst), and after a moment of idle\n${idleCostTable(idle, IDLE_MS)}`,
  );
  const path = await ctx.writeResult('room-page', {
    parameters: { members: pageMembers, messages: pageEvents, runs, warmup },
    facadeEnvironment: facade.env,
    facadeWarnings: facade.warnings,
    warmFacadeEnvironment: warmFacade.env,
    warmFacadeWarnings: warmFacade.warnings,
    warmFacade: { warmingReads, timedReads: warmReads },
    contenders: results,
    targets: [target, warmGoal],
    idleCost: { idleMs: IDLE_MS, contenders: idle },
  });
  ctx.log(`wrote ${path}`);
}
