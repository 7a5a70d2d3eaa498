/**
 * Reading sliding sync answers, and the `/versions` probe, with an undici MockAgent in place of
 * the network. The endpoint itself is tested against the real Synapse (rooms.test.ts).
 */
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { MatrixHttpError } from '../../../src/matrix/errors.ts';
import { Upstream } from '../../../src/matrix/http.ts';
import {
  SLIDING_SYNC_FEATURE,
  setRoomListPlan,
  slidingSyncOffered,
  slidingSyncRefused,
  toSlidingSyncResponse,
} from '../../../src/matrix/sliding-sync.ts';

const origin = 'http://hs.test';

describe('toSlidingSyncResponse', () => {
  it('should read lists, rooms and their events', () => {
    const response = toSlidingSyncResponse({
      pos: 'p1',
      lists: {
        rooms: { count: 2, ops: [{ op: 'SYNC', range: [0, 9], room_ids: ['!a:hs', '!b:hs'] }] },
      },
      rooms: {
        '!a:hs': {
          bump_stamp: 7,
          joined_count: 2,
          invited_count: 0,
          is_dm: true,
          name: 'A',
          initial: true,
          required_state: [
            {
              type: 'm.room.name',
              state_key: '',
              sender: '@o:hs',
              content: { name: 'A' },
              event_id: '$1',
              origin_server_ts: 5,
            },
          ],
        },
        '!b:hs': {
          bump_stamp: 3,
          invite_state: [
            { type: 'm.room.name', state_key: '', sender: '@o:hs', content: { name: 'B' } },
          ],
        },
      },
      extensions: {},
    });
    expect(response.lists.get('rooms')).toEqual({ count: 2, roomIds: ['!a:hs', '!b:hs'] });
    expect(response.rooms.get('!a:hs')).toMatchObject({
      bumpStamp: 7,
      joinedCount: 2,
      isDm: true,
      name: 'A',
      strippedState: null,
      requiredState: [{ type: 'm.room.name', roomId: '!a:hs', stateKey: '', originServerTs: 5 }],
    });
    expect(response.rooms.get('!b:hs')).toMatchObject({
      isDm: false,
      joinedCount: null,
      strippedState: [{ type: 'm.room.name', stateKey: '', content: { name: 'B' } }],
    });
  });

  it("should read each room's tags from the account data extension, and say when there is none", () => {
    const base = { pos: 'p', lists: {}, rooms: {} };
    expect(toSlidingSyncResponse({ ...base, extensions: {} }).roomTags).toBeNull();
    const response = toSlidingSyncResponse({
      ...base,
      extensions: {
        account_data: {
          global: [{ type: 'm.direct', content: {} }],
          rooms: {
            '!a:hs': [
              { type: 'm.fully_read', content: { event_id: '$e' } },
              { type: 'm.tag', content: { tags: { 'u.x': { order: 0.5 }, 'm.favourite': {} } } },
            ],
            '!b:hs': [],
          },
        },
      },
    });
    expect(response.roomTags).toEqual(
      new Map([
        [
          '!a:hs',
          [
            { name: 'm.favourite', order: null },
            { name: 'u.x', order: 0.5 },
          ],
        ],
        ['!b:hs', []],
      ]),
    );
  });

  it('should fail as malformed on any other shape', () => {
    for (const wire of [
      {},
      { pos: 1 },
      { pos: 'p', lists: [] },
      { pos: 'p', lists: { rooms: { count: 'many' } } },
      { pos: 'p', lists: { rooms: { count: 1, ops: [{ room_ids: [1] }] } } },
      { pos: 'p', rooms: { '!a:hs': { bump_stamp: 'late' } } },
      { pos: 'p', rooms: { '!a:hs': { required_state: [{ content: {} }] } } },
      { pos: 'p', rooms: { '!a:hs': { invite_state: {} } } },
      { pos: 'p', extensions: { account_data: { rooms: { '!a:hs': {} } } } },
      { pos: 'p', extensions: { account_data: { rooms: { '!a:hs': [{ type: 'm.tag' }] } } } },
    ]) {
      expect(() => toSlidingSyncResponse(wire), JSON.stringify(wire)).toThrow(MatrixHttpError);
    }
  });
});

/** An Upstream whose homeserver answers `/versions` with `reply` (a status and a body). */
function versionsUpstream(reply: () => { statusCode: number; data: object }) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const seen: string[] = [];
  agent
    .get(origin)
    .intercept({ path: () => true, method: () => true })
    .reply((options) => {
      seen.push(`${options.method} ${options.path}`);
      return reply();
    })
    .persist();
  const upstream = new Upstream({
    homeserverUrl: origin,
    dispatcher: agent,
    retry: { maxAttempts: 1 },
  });
  return { upstream, seen };
}

describe('slidingSyncOffered', () => {
  it('should ask /versions once per upstream, with the caller token, whoever asks', async () => {
    const { upstream, seen } = versionsUpstream(() => ({
      statusCode: 200,
      data: { versions: ['v1.11'], unstable_features: { [SLIDING_SYNC_FEATURE]: true } },
    }));
    const answers = await Promise.all([
      slidingSyncOffered(upstream.client('syt_a')),
      slidingSyncOffered(upstream.client('syt_b')),
    ]);
    expect(answers).toEqual([true, true]);
    expect(await slidingSyncOffered(upstream.client('syt_c'))).toBe(true);
    expect(seen).toEqual(['GET /_matrix/client/versions']);
  });

  it('should answer false when the feature is absent or false', async () => {
    const { upstream } = versionsUpstream(() => ({
      statusCode: 200,
      data: { versions: ['v1.11'], unstable_features: { [SLIDING_SYNC_FEATURE]: false } },
    }));
    expect(await slidingSyncOffered(upstream.client('syt_a'))).toBe(false);
  });

  it('should count a failed probe as not offered, and not ask again at once', async () => {
    const { upstream, seen } = versionsUpstream(() => ({ statusCode: 502, data: {} }));
    expect(await slidingSyncOffered(upstream.client('syt_a'))).toBe(false);
    expect(await slidingSyncOffered(upstream.client('syt_a'))).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it('should not hold a refused token against the homeserver', async () => {
    let refuse = true;
    const { upstream, seen } = versionsUpstream(() =>
      refuse
        ? { statusCode: 401, data: { errcode: 'M_UNKNOWN_TOKEN', error: 'no' } }
        : { statusCode: 200, data: { unstable_features: { [SLIDING_SYNC_FEATURE]: true } } },
    );
    expect(await slidingSyncOffered(upstream.client('syt_bogus'))).toBe(false);
    refuse = false;
    expect(await slidingSyncOffered(upstream.client('syt_good'))).toBe(true);
    expect(seen).toHaveLength(2);
  });

  it('should follow the configured plan without asking, and forget support on a refusal under auto', async () => {
    const { upstream, seen } = versionsUpstream(() => ({
      statusCode: 200,
      data: { unstable_features: { [SLIDING_SYNC_FEATURE]: true } },
    }));
    setRoomListPlan(upstream, 'sync');
    expect(await slidingSyncOffered(upstream.client('syt_a'))).toBe(false);
    setRoomListPlan(upstream, 'sliding-sync');
    expect(await slidingSyncOffered(upstream.client('syt_a'))).toBe(true);
    expect(seen).toEqual([]);
    const notFound = new MatrixHttpError({
      status: 404,
      retryAfterMs: null,
      endpoint: { method: 'POST', path: '/sync' },
      bodySnippet: '',
    });
    // Configured explicitly: the refusal stands as an error.
    expect(slidingSyncRefused(upstream, notFound)).toBe(false);
    setRoomListPlan(upstream, 'auto');
    expect(await slidingSyncOffered(upstream.client('syt_a'))).toBe(true);
    expect(slidingSyncRefused(upstream, notFound)).toBe(true);
    expect(await slidingSyncOffered(upstream.client('syt_a'))).toBe(false);
  });
});
