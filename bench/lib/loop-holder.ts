/** Which instance of a facade cluster runs a token's sync loop, from its lease in Redis. */
import { Redis } from 'ioredis';
import { tokenKeys } from '../../src/cluster/cluster-redis.ts';
import { tokenKey } from '../../src/cluster/token-key.ts';

/**
 * Which facade instance holds the lease of `accessToken`'s sync loop now (the `N` of its
 * `INSTANCE_ID=facade-N`, test/support/facade-cluster.ts), or `null` when none does.
 */
export async function loopHolder(
  redisUrl: string,
  cursorSecret: string,
  accessToken: string,
): Promise<number | null> {
  const reader = new Redis(redisUrl);
  try {
    const keys = tokenKeys(tokenKey(cursorSecret)(accessToken));
    const holder = await reader.get(keys.lease);
    const match = holder === null ? null : /^facade-(\d+)\//.exec(holder);
    return match ? Number(match[1]) : null;
  } finally {
    reader.disconnect();
  }
}
