/**
 * The warm-view churn soak (bench/warm-soak.ts) for 15 s against the tests' homeserver: other
 * users write and rename straight to Synapse while the viewer writes and reads its room list
 * through a facade child process with warm views on. Every answer is checked against the rooms'
 * history on Synapse afterwards: no rule broken, and most reads answered with no upstream call.
 * Then the same in cluster mode: two facades on a Redis of their own, each read and write to
 * either, and the one running the viewer's sync loop killed halfway and started again.
 */
import { describe, expect, it } from 'vitest';
import { formatSoak, runWarmSoak } from '../../bench/warm-soak.ts';
import { homeserver } from '../support/homeserver.ts';

const NO_VIOLATIONS = {
  exists: 0,
  readYourWrites: 0,
  monotonic: 0,
  boundedStaleness: 0,
  names: 0,
  complete: 0,
};

describe('warm room views under churn', () => {
  it('answer every read consistently with the homeserver, mostly warm', async () => {
    const { url, registrationSharedSecret } = homeserver();
    const result = await runWarmSoak({
      homeserverUrl: url,
      sharedSecret: registrationSharedSecret,
      seconds: 15,
    });
    const summary = formatSoak(result);
    expect(result.failedReads, summary).toBe(0);
    expect(result.violations, summary).toEqual(NO_VIOLATIONS);
    expect(result.finalNameMismatches, summary).toEqual([]);
    expect(result.reads, summary).toBeGreaterThan(50);
    expect(result.warmReads / result.reads, summary).toBeGreaterThan(0.9);
  }, 120_000);

  it('answer consistently across a cluster without sticky sessions, also when the loop holder is killed', async () => {
    const { url, registrationSharedSecret } = homeserver();
    const result = await runWarmSoak({
      homeserverUrl: url,
      sharedSecret: registrationSharedSecret,
      seconds: 20,
      instances: 2,
      killHolder: true,
    });
    const summary = formatSoak(result);
    expect(result.killed, summary).not.toBeNull();
    expect(result.failedReads, summary).toBe(0);
    expect(result.violations, summary).toEqual(NO_VIOLATIONS);
    expect(result.finalNameMismatches, summary).toEqual([]);
    // Both instances answered, and mostly warm: the one without the loop from views fed
    // through Redis.
    for (const instance of result.byInstance) {
      expect(instance.reads, summary).toBeGreaterThan(20);
      expect(instance.warmReads / instance.reads, summary).toBeGreaterThan(0.8);
    }
  }, 150_000);
});
