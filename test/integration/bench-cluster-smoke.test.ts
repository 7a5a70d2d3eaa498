/**
 * `npm run bench:cluster -- --smoke` runs the single-instance-against-cluster bench tiny, so that it
 * never rots: against the tests' homeserver, with its own Redis and facade processes. Asserted: it
 * exits 0, and for both contenders the long-polls once subscribed equal the users (for the cluster
 * summed over its three instances), no token ever has two in flight, and every subscriber got
 * every message. Never timings.
 */
import { describe, expect, inject, it } from 'vitest';
import { runBenchSmoke } from '../support/bench-smoke.ts';

interface ContenderResult {
  contender: 'single' | 'cluster';
  instances: number;
  users: number;
  longPolls: { steady: number; peakPerToken: number };
  delivery: { expectedFrames: number; frames: number; unmatched: number; gaps: number };
}

describe('bench/cluster.ts --smoke', () => {
  it('holds one long-poll per user on one instance and on three, and delivers every message', async ({
    signal,
  }) => {
    const homeserver = inject('homeserver');
    await using run = await runBenchSmoke('bench/cluster.ts', {
      env: {
        MATRIX_HOMESERVER_URL: homeserver.url,
        MATRIX_REGISTRATION_SHARED_SECRET: homeserver.registrationSharedSecret,
      },
      signal,
    });
    const { code, output } = run;
    expect(code, output).toBe(0);

    const result = await run.readResult<{
      sizes: { users: number };
      contenders: ContenderResult[];
    }>('cluster');
    const users = result.sizes.users;
    expect(result.contenders.map((contender) => contender.instances)).toEqual([1, 3]);
    for (const contender of result.contenders) {
      expect(contender.users, contender.contender).toBe(users);
      expect(contender.longPolls.steady, `${contender.contender} long-polls`).toBe(users);
      expect(contender.longPolls.peakPerToken, `${contender.contender} per token`).toBe(1);
      expect(contender.delivery.frames, contender.contender).toBe(
        contender.delivery.expectedFrames,
      );
      expect(contender.delivery.unmatched, contender.contender).toBe(0);
      expect(contender.delivery.gaps, contender.contender).toBe(0);
      // The printed figure says the same.
      expect(output).toContain(
        `target (${contender.contender}): long-polls = distinct users (${users} for ${users}): met`,
      );
      expect(output).toContain(`target (${contender.contender}): per-token peak = 1 (1): met`);
    }
  }, 120_000);
});
