/**
 * The facades a soak reads and writes through: one process, or (cluster mode) several sharing a
 * Redis of their own, picked at random for each request as a load balancer without sticky sessions
 * would. In cluster mode the instance running a token's sync loop can be killed (`kill -9`) and
 * started again while the soak goes on: requests go to the others meanwhile.
 */
import { type RunningRedis, startRedis } from '../../scripts/redis/redis-server.ts';
import { type FacadeProcess, startFacadeProcess } from './facade-process.ts';
import { loopHolder } from './loop-holder.ts';
import { warmViewReads } from './warm-view.ts';

const CURSOR_SECRET = 'soak-cluster-cursor-secret-0123456789-abcdefghij';

export interface SoakFacades extends AsyncDisposable {
  readonly size: number;
  /** A running instance at random: its index and base URL. */
  pick(): { index: number; url: string };
  /**
   * Kills the instance running `accessToken`'s sync loop (cluster mode), waits `downMs`, starts it
   * again; resolves with its index once it listens. Requests avoid it meanwhile.
   */
  killHolder(accessToken: string, downMs: number): Promise<number>;
  /** Whether instance `index` was killed at or after `since` (`performance.now()`). */
  killedSince(index: number, since: number): boolean;
  /** `matrix_facade_warm_view_reads_total` by outcome, summed over the running instances. */
  warmViewReads(): Promise<Record<string, number>>;
  /** Warnings (and worse) every instance logged, killed ones included. */
  warnings(): string[];
}

/**
 * Starts `instances` facades against `homeserverUrl` with `env`; more than one share a Redis
 * started for them (and stopped with them) and a 1 s lease.
 */
export async function startSoakFacades(
  homeserverUrl: string,
  instances: number,
  env: Record<string, string>,
): Promise<SoakFacades> {
  const redis: RunningRedis | null = instances > 1 ? await startRedis() : null;
  const envOf = (index: number): Record<string, string> =>
    redis === null
      ? env
      : {
          ...env,
          REDIS_URL: redis.url,
          CURSOR_SECRET,
          CLUSTER_LEASE_MS: '1000',
          INSTANCE_ID: `facade-${index}`,
        };
  const facades: FacadeProcess[] = [];
  const down = new Set<number>();
  /** When each instance was last killed. */
  const killedAt = new Map<number, number>();
  const pastWarnings: string[] = [];
  try {
    for (let index = 0; index < instances; index++) {
      facades.push(await startFacadeProcess(homeserverUrl, envOf(index)));
    }
  } catch (error) {
    await Promise.all(facades.map((facade) => facade.stop()));
    await redis?.stop();
    throw error;
  }
  const up = () => facades.flatMap((facade, index) => (down.has(index) ? [] : [{ index, facade }]));

  const stop = async () => {
    await Promise.all(facades.map((facade) => facade.stop()));
    await redis?.stop();
  };
  return {
    size: instances,
    pick: () => {
      const running = up();
      const chosen = running[Math.floor(Math.random() * running.length)];
      if (chosen === undefined) {
        throw new Error('no facade instance is running');
      }
      return { index: chosen.index, url: chosen.facade.url };
    },
    killHolder: async (accessToken, downMs) => {
      const index = redis === null ? null : await loopHolder(redis.url, CURSOR_SECRET, accessToken);
      const victim = index === null ? undefined : facades[index];
      if (index === null || victim === undefined) {
        throw new Error('no instance holds the token’s sync loop');
      }
      down.add(index);
      killedAt.set(index, performance.now());
      await victim.kill();
      pastWarnings.push(...victim.warnings);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      facades[index] = await startFacadeProcess(homeserverUrl, envOf(index));
      down.delete(index);
      return index;
    },
    killedSince: (index, since) => (killedAt.get(index) ?? Number.NEGATIVE_INFINITY) >= since,
    warmViewReads: async () => {
      const sum: Record<string, number> = {};
      for (const { facade } of up()) {
        for (const [outcome, value] of Object.entries(await warmViewReads(facade.url))) {
          sum[outcome] = (sum[outcome] ?? 0) + value;
        }
      }
      return sum;
    },
    warnings: () => [...pastWarnings, ...facades.flatMap((facade) => facade.warnings)],
    [Symbol.asyncDispose]: stop,
  };
}
