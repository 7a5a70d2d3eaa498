/**
 * Scenario `room-page`: one room of 20 members and 20 messages (the room page), read
 * through the facade with one query, against the two direct calls a client makes in parallel:
 * `GET /rooms/{id}/state` and `GET /rooms/{id}/messages?dir=b&limit=20`.
 */

import { graphql, matrix, newAgent } from '../lib/client.ts';
import type { BenchContext } from '../lib/context.ts';
import { interleave } from '../lib/interleave.ts';
import { registerUsers, seedRoom } from '../lib/seed.ts';
import { startSideBySide } from '../lib/side-by-side.ts';
import { contenderTable } from '../lib/table.ts';

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
  const token = owner.accessToken;
  const room = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;

  ctx.log(`timing: ${warmup} warm-up + ${runs} runs per contender, interleaved`);
  const results = await interleave(
    [
      {
        name: 'facade',
        group: 'room page',
        proxy: facadeProxy,
        cpuMs: () => facade.cpuMs(),
        run: async () =>
          (await graphql(facadeAgent, facade.url, token, query, { id: roomId })).bytes,
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
    ],
    { runs, warmup },
  );

  const [viaFacade, direct] = results;
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
  ctx.log(`target: ${target.text}: ${target.met ? 'met' : 'NOT met'}`);
  const path = await ctx.writeResult('room-page', {
    parameters: { members: pageMembers, messages: pageEvents, runs, warmup },
    facadeEnvironment: facade.env,
    facadeWarnings: facade.warnings,
    contenders: results,
    targets: [target],
  });
  ctx.log(`wrote ${path}`);
}
