/**
 * The session's runtime budget of upstream calls: past it, a call fails at once and is not sent;
 * a subscription's session starts a new budget with each event. An undici MockAgent stands in
 * for the homeserver and counts requests.
 */
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../../src/matrix/account.ts';
import { Upstream } from '../../../src/matrix/http.ts';
import {
  RequestSession,
  UpstreamBudgetExceededError,
} from '../../../src/session/request-session.ts';

const origin = 'http://hs.test';

/** A homeserver answering every profile, its call history kept. */
function profileHomeserver() {
  const agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
  agent
    .get(origin)
    .intercept({ path: /^\/_matrix\/client\/v3\/profile\//, method: 'GET' })
    .reply(200, { displayname: 'someone' }, { headers: { 'content-type': 'application/json' } })
    .persist();
  const upstream = new Upstream({ homeserverUrl: origin, dispatcher: agent });
  const session = new RequestSession({
    upstream,
    accessToken: 'token',
    signal: new AbortController().signal,
    knownViewer: { userId: '@me:hs.test', deviceId: 'D', isGuest: false },
  });
  return {
    session,
    /** The requests the homeserver received. */
    get sent() {
      return agent.getCallHistory()?.calls() ?? [];
    },
    profiles: (count: number) =>
      Promise.allSettled(
        Array.from({ length: count }, (_, n) =>
          getProfile(session.viewer.client, `@u${n}:hs.test`),
        ),
      ),
    async [Symbol.asyncDispose]() {
      await agent.close();
    },
  };
}

const refused = (results: PromiseSettledResult<unknown>[]) =>
  results.filter(
    (result) =>
      result.status === 'rejected' && result.reason instanceof UpstreamBudgetExceededError,
  ).length;

describe('RequestSession upstream budget', () => {
  it('should send no call past the budget, and fail those at once', async () => {
    await using homeserver = profileHomeserver();
    homeserver.session.limitUpstreamCalls(3, 'operation');
    const results = await homeserver.profiles(5);
    expect(homeserver.sent).toHaveLength(3);
    expect(refused(results)).toBe(2);
    expect(homeserver.session.upstreamCalls).toBe(3);
    // A write's invalidation does not renew a query's or mutation's budget.
    homeserver.session.invalidate();
    expect(refused(await homeserver.profiles(1))).toBe(1);
    expect(homeserver.sent).toHaveLength(3);
  });

  it('should count the anonymous client against the same budget', async () => {
    await using homeserver = profileHomeserver();
    homeserver.session.limitUpstreamCalls(1, 'operation');
    await getProfile(homeserver.session.anonymous, '@a:hs.test');
    await expect(getProfile(homeserver.session.viewer.client, '@b:hs.test')).rejects.toThrow(
      'The request needs more than the 1 upstream calls the server allows for one.',
    );
  });

  it('should start a new budget with each event of a subscription', async () => {
    await using homeserver = profileHomeserver();
    homeserver.session.limitUpstreamCalls(2, 'event');
    expect(refused(await homeserver.profiles(3))).toBe(1);
    // Before each event, the subscription resolvers invalidate the session.
    homeserver.session.invalidate();
    expect(homeserver.session.upstreamCalls).toBe(0);
    expect(refused(await homeserver.profiles(3))).toBe(1);
    expect(homeserver.sent).toHaveLength(4);
  });

  it('should have no budget until one is set', async () => {
    await using homeserver = profileHomeserver();
    expect(refused(await homeserver.profiles(10))).toBe(0);
  });
});
