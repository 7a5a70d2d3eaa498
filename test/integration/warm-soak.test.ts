/**
 * The warm-view churn soak (bench/warm-soak.ts) for 15 s against the tests' homeserver: other
 * users write and rename straight to Synapse while the viewer writes and reads its room list
 * through a facade child process with warm views on. Every answer is checked against the rooms'
 * history on Synapse afterwards: no rule broken, and most reads answered with no upstream call.
 */
import { describe, expect, it } from 'vitest';
import { formatSoak, runWarmSoak } from '../../bench/warm-soak.ts';
import { homeserver } from '../support/homeserver.ts';

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
    expect(result.violations, summary).toEqual({
      exists: 0,
      readYourWrites: 0,
      monotonic: 0,
      boundedStaleness: 0,
      names: 0,
      complete: 0,
    });
    expect(result.finalNameMismatches, summary).toEqual([]);
    expect(result.reads, summary).toBeGreaterThan(50);
    expect(result.warmReads / result.reads, summary).toBeGreaterThan(0.9);
  }, 120_000);
});
