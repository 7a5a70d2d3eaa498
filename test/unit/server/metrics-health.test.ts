import { describe, expect, it } from 'vitest';
import type { Upstream } from '../../../src/matrix/http.ts';
import { Health } from '../../../src/server/health.ts';

/** An upstream whose every call answers as `answer` says, counting the calls. */
function fakeUpstream(answer: (signal: AbortSignal) => Promise<unknown>): {
  upstream: Upstream;
  calls: () => number;
} {
  let calls = 0;
  const upstream = {
    client: () => ({
      send: (_request: unknown, options: { signal: AbortSignal }) => {
        calls++;
        return answer(options.signal);
      },
    }),
  } as unknown as Upstream;
  return { upstream, calls: () => calls };
}

describe('Health.readiness', () => {
  it('should be ready while the homeserver answers, asking it once a second at most', async () => {
    const { upstream, calls } = fakeUpstream(() => Promise.resolve({ versions: [] }));
    const health = new Health({ upstream, stopping: () => false });
    const answers = await Promise.all([health.readiness(), health.readiness()]);
    expect(answers).toEqual([
      { ready: true, checks: { shutdown: 'no', homeserver: 'ok' } },
      { ready: true, checks: { shutdown: 'no', homeserver: 'ok' } },
    ]);
    await health.readiness();
    expect(calls()).toBe(1);
  });

  it('should not be ready while shutting down, without asking the homeserver', async () => {
    const { upstream, calls } = fakeUpstream(() => Promise.resolve({}));
    let stopping = false;
    const health = new Health({ upstream, stopping: () => stopping, cacheMs: 0 });
    expect((await health.readiness()).ready).toBe(true);
    stopping = true;
    expect(await health.readiness()).toEqual({
      ready: false,
      checks: { shutdown: 'in progress' },
    });
    expect(calls()).toBe(1);
  });

  it('should not be ready when the homeserver is too slow or fails', async () => {
    // As the real client, the call ends when the probe's signal aborts.
    const slow = fakeUpstream(
      (signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    const health = new Health({ upstream: slow.upstream, stopping: () => false, timeoutMs: 20 });
    expect(await health.readiness()).toEqual({
      ready: false,
      checks: { shutdown: 'no', homeserver: 'timeout' },
    });

    const failing = fakeUpstream(() =>
      Promise.reject(Object.assign(new Error('502'), { status: 502 })),
    );
    const unhealthy = new Health({ upstream: failing.upstream, stopping: () => false });
    expect(await unhealthy.readiness()).toEqual({
      ready: false,
      checks: { shutdown: 'no', homeserver: 'HTTP 502' },
    });
  });
});
