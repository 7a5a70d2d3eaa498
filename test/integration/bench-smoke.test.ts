/**
 * `npm run bench -- --smoke` runs every benchmark scenario tiny, so that the harness never rots.
 * It starts its own Synapse (or uses the homeserver named in the environment, as the tests do)
 * and the facade as a child process. Asserted: it exits 0, and each scenario's JSON holds the
 * upstream calls each contender made, which are deterministic. Never timings.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBenchSmoke } from '../support/bench-smoke.ts';

interface Contender {
  name: string;
  group: string;
  upstreamCalls: { min: number; max: number };
  upstreamEndpoints: Record<string, number>;
}

interface IdleCostResult {
  sizes: { runs: number };
  idleCost: { contenders: { name: string; hotMs: { n: number }; afterIdleMs: { n: number } }[] };
}

/** The calls of the contender `name` in `group`, checked to be the same in every run. */
function calls(contenders: readonly Contender[], group: string, name: string): number {
  const contender = contenders.find((item) => item.group === group && item.name === name);
  expect(contender, `${group}: ${name}`).toBeDefined();
  expect(contender?.upstreamCalls.min, `${group}: ${name} varies`).toBe(
    contender?.upstreamCalls.max,
  );
  return contender?.upstreamCalls.max ?? Number.NaN;
}

describe('bench/run.ts --smoke', () => {
  it('runs every scenario and records the upstream calls each contender makes', async ({
    signal,
  }) => {
    await using run = await runBenchSmoke('bench/run.ts', { signal });
    const { code, output, dir, readResult } = run;
    expect(code, output).toBe(0);

    // Room list of N rooms: the direct REST list is joined_rooms + one /state per room (+ one
    // /messages per room with the latest message); sliding sync is one call; the facade one
    // sliding sync without messages, and with them never more than one call per room besides it.
    const roomList = await readResult<{ sizes: { rooms: number }; contenders: Contender[] }>(
      'room-list',
    );
    const rooms = roomList.sizes.rooms;
    const list = roomList.contenders;
    expect(calls(list, 'without messages', 'facade')).toBe(1);
    expect(calls(list, 'without messages', 'joined_rooms + /state')).toBe(1 + rooms);
    expect(calls(list, 'without messages', 'sliding sync, timeline 0')).toBe(1);
    const withMessages = calls(list, 'with latest message', 'facade');
    expect(withMessages).toBeGreaterThanOrEqual(1);
    expect(withMessages).toBeLessThanOrEqual(1 + rooms);
    expect(calls(list, 'with latest message', 'joined_rooms + /state + /messages')).toBe(
      1 + 2 * rooms,
    );
    expect(calls(list, 'with latest message', 'sliding sync, timeline 1')).toBe(1);
    // With 5 members each: the member lists come with the facade's one sliding sync.
    expect(calls(list, 'with 5 members', 'facade')).toBe(1);
    expect(calls(list, 'with 5 members', 'joined_rooms + /state')).toBe(1 + rooms);
    expect(calls(list, 'with 5 members', 'sliding sync, all members')).toBe(1);
    // Warm (a second facade with warm room views, read until its view answers): no upstream call
    // per read beyond its view's own sync loop, which is not counted.
    expect(calls(list, 'without messages', 'facade, warm view')).toBe(0);
    expect(calls(list, 'with latest message', 'facade, warm view')).toBe(0);
    expect(calls(list, 'with 5 members', 'facade, warm view')).toBe(0);
    // Its floors (bench/lib/floors.ts) beside it: the facade answers `{ __typename }` with no
    // upstream call; and the same four are timed hot and after idle (bench/lib/idle-cost.ts).
    expect(calls(list, 'with latest message', 'facade floor: { __typename }')).toBe(0);
    const floorsAndWarm = [
      'facade, warm view',
      'HTTP floor: same bytes, plain node:http',
      'yoga floor: { __typename }, bare graphql-yoga',
      'facade floor: { __typename }',
    ];
    // Each timed alone every round: once after the idle, and the last 10 of a burst.
    const expectIdleCost = async (scenario: string) => {
      const result = await readResult<IdleCostResult>(scenario);
      expect(result.idleCost.contenders.map((item) => item.name)).toEqual(floorsAndWarm);
      for (const item of result.idleCost.contenders) {
        expect(item.afterIdleMs.n, `${scenario}: ${item.name}`).toBe(result.sizes.runs);
        expect(item.hotMs.n, `${scenario}: ${item.name}`).toBe(10 * result.sizes.runs);
      }
    };
    await expectIdleCost('room-list');

    // Room page: the two direct calls; the facade's /state and its messages page (the smoke
    // room's history is short, so the page reaches its start: one more /messages to be sure).
    const roomPage = await readResult<{ contenders: Contender[] }>('room-page');
    const direct = roomPage.contenders.find(
      (item) => item.name === '/state + /messages in parallel',
    );
    expect(direct?.upstreamEndpoints).toEqual({
      'GET /_matrix/client/v3/rooms/{id}/state': 1,
      'GET /_matrix/client/v3/rooms/{id}/messages': 1,
    });
    const facade = roomPage.contenders.find((item) => item.name === 'facade');
    expect(facade?.upstreamEndpoints).toEqual({
      'GET /_matrix/client/v3/rooms/{id}/state': 1,
      'GET /_matrix/client/v3/rooms/{id}/messages': 2,
    });
    expect(calls(roomPage.contenders, 'room page', 'facade')).toBe(3);
    // The same page from a warm view: no upstream call per read.
    expect(calls(roomPage.contenders, 'room page', 'facade, warm view')).toBe(0);
    expect(calls(roomPage.contenders, 'room page', 'facade floor: { __typename }')).toBe(0);
    await expectIdleCost('room-page');

    // Cheap query: one whoami per request either way, sequentially and at every level.
    const cheap = await readResult<{
      contenders: Contender[];
      levels: { name: string; concurrency: number; upstreamCallsPerRequest: number }[];
    }>('cheap-query');
    expect(calls(cheap.contenders, 'sequential', 'facade')).toBe(1);
    expect(calls(cheap.contenders, 'sequential', 'whoami direct')).toBe(1);
    expect(cheap.levels.length).toBeGreaterThan(0);
    for (const level of cheap.levels) {
      expect(level.upstreamCallsPerRequest, `${level.name} at ${level.concurrency}`).toBe(1);
    }

    // Fan-out: one long-poll per user whatever the subscriptions, none after disconnecting, and
    // every subscriber got every message.
    const fanOut = await readResult<{
      configurations: {
        users: number;
        longPolls: { steady: number; afterDisconnect: number };
        delivery: { expectedFrames: number; frames: number; unmatched: number; gaps: number };
      }[];
    }>('fan-out');
    expect(fanOut.configurations.length).toBeGreaterThan(0);
    for (const configuration of fanOut.configurations) {
      expect(configuration.longPolls.steady).toBe(configuration.users);
      expect(configuration.longPolls.afterDisconnect).toBe(0);
      expect(configuration.delivery.frames).toBe(configuration.delivery.expectedFrames);
      expect(configuration.delivery.unmatched).toBe(0);
      expect(configuration.delivery.gaps).toBe(0);
    }

    // Live room list: every round's push arrived, each matched to the viewer's /sync answer that
    // carried its message, and the pushes cost no upstream call besides that sync loop.
    const live = await readResult<{
      delivery: { rounds: number; pushes: number; unmatched: number; latencyMs: { n: number } };
      upstreamCallsDuringRounds: Record<string, number>;
    }>('room-list-live');
    expect(live.delivery.rounds).toBeGreaterThan(0);
    expect(live.delivery.pushes).toBe(live.delivery.rounds);
    expect(live.delivery.unmatched).toBe(0);
    expect(live.delivery.latencyMs.n).toBe(live.delivery.rounds);
    expect(
      Object.keys(live.upstreamCallsDuringRounds).filter(
        (endpoint) => endpoint !== 'GET /_matrix/client/v3/sync',
      ),
    ).toEqual([]);

    expect(existsSync(join(dir, 'cheap-query-latency.svg'))).toBe(true);
    expect(existsSync(join(dir, 'fan-out-rss.svg'))).toBe(true);
  }, 240_000);
});
