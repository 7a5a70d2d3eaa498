/**
 * A request's session and a token the homeserver refuses: the first refusal stops the request's
 * other upstream calls. An undici MockAgent stands in for the homeserver and counts requests.
 */
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { whoami } from '../../../src/matrix/account.ts';
import { Upstream } from '../../../src/matrix/http.ts';
import { sendMessageEvent } from '../../../src/matrix/room-events.ts';
import { getRoomState } from '../../../src/matrix/room-state.ts';
import { slidingSync } from '../../../src/matrix/sliding-sync.ts';
import { RequestSession } from '../../../src/session/request-session.ts';

const origin = 'http://hs.test';

/** A homeserver that refuses every token, 20 ms after each request, counting them. */
function refusingHomeserver() {
  return mockHomeserver(401, { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token passed.' });
}

/** A homeserver that answers every request with `status` and `data`, counting them. */
function mockHomeserver(status: number, data: object) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const sent: string[] = [];
  agent
    .get(origin)
    .intercept({ path: () => true, method: () => true })
    .reply((options) => {
      sent.push(`${options.method} ${options.path.split('?')[0]}`);
      return {
        statusCode: status,
        data,
        responseOptions: { headers: { 'content-type': 'application/json' } },
      };
    })
    .delay(20)
    .persist();
  const upstream = new Upstream({ homeserverUrl: origin, dispatcher: agent });
  return {
    upstream,
    sent,
    async [Symbol.asyncDispose]() {
      await agent.close();
    },
  };
}

/** What a query with several fields asks for at once: who, a room, a profile, the room list. */
function manyFieldsAtOnce(session: RequestSession): Promise<unknown[]> {
  const { loaders } = session;
  return Promise.all(
    [
      session.viewer.whoami(),
      loaders.roomState.load('!room:hs.test'),
      loaders.profile.load('@bob:hs.test'),
      loaders.roomList(false),
    ].map((call) => Promise.resolve(call).catch((error: unknown) => error)),
  );
}

describe('RequestSession', () => {
  it('should make one upstream call in all when the homeserver refuses the token', async () => {
    await using homeserver = refusingHomeserver();
    const session = new RequestSession({
      upstream: homeserver.upstream,
      accessToken: 'bogus',
      signal: new AbortController().signal,
    });

    const results = await manyFieldsAtOnce(session);

    expect(homeserver.sent).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: 401, errcode: 'M_UNKNOWN_TOKEN' });
    // Every field fails with that same refusal, none with an error of its own.
    for (const result of results) {
      expect(result).toBe(results[0]);
    }
    // Nor does anything the request asks for later go out.
    await expect(session.loaders.profile.load('@carol:hs.test')).rejects.toBe(results[0]);
    expect(homeserver.sent).toHaveLength(1);
  });

  it('should not hold back the first calls of a token already checked (graphql-ws)', async () => {
    await using homeserver = refusingHomeserver();
    const session = new RequestSession({
      upstream: homeserver.upstream,
      accessToken: 'revoked-since',
      signal: new AbortController().signal,
      knownViewer: { userId: '@alice:hs.test', deviceId: null, isGuest: false },
    });

    await manyFieldsAtOnce(session);

    // whoami is known; the three loads went out together, and nothing after the refusal.
    expect(homeserver.sent).toHaveLength(3);
    await expect(session.loaders.profile.load('@carol:hs.test')).rejects.toMatchObject({
      status: 401,
    });
    expect(homeserver.sent).toHaveLength(3);
  });

  it('should tell onRoomsTouched of each call that wrote or read the rooms, not of whoami', async () => {
    await using homeserver = mockHomeserver(200, { event_id: '$sent:hs.test' });
    const touched: string[] = [];
    const session = new RequestSession({
      upstream: homeserver.upstream,
      accessToken: 'token-a',
      signal: new AbortController().signal,
      knownViewer: { userId: '@alice:hs.test', deviceId: null, isGuest: false },
      onRoomsTouched: (token) => {
        touched.push(token);
      },
    });
    const { client } = session.viewer;

    await whoami(client).catch(() => {});
    expect(touched).toEqual([]);
    await getRoomState(client, '!room:hs.test').catch(() => {});
    await slidingSync(client, { lists: {} }).catch(() => {});
    await sendMessageEvent(client, '!room:hs.test', 'm.room.message', 'txn-1', { body: 'hi' });
    expect(touched).toEqual(['token-a', 'token-a', 'token-a']);
    expect(homeserver.sent).toHaveLength(4);
  });
});
