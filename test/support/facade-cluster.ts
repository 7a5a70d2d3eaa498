/**
 * Several facade processes against one homeserver, as an operator runs a cluster behind a load
 * balancer: the same environment for all (the caller's REDIS_URL, CURSOR_SECRET, ...), each with
 * its own INSTANCE_ID and port. Single instances can be killed, as a crash would, or restarted, as
 * a rolling deploy does, while the others go on serving.
 */
import { type FacadeProcess, startFacadeProcess } from '../../bench/lib/facade-process.ts';

export interface FacadeCluster extends AsyncDisposable {
  /** How many instances the cluster has (running or not). */
  readonly size: number;
  /** Instance `index` as it is now (a new process after {@link restart}). */
  instance(index: number): FacadeProcess;
  /** Every instance's base URL as it is now; GraphQL is at `${url}/graphql`. */
  readonly urls: readonly string[];
  /**
   * Stops instance `index` gracefully (if it still runs) and starts it again with the same
   * environment, on a port picked afresh (so usually another one: clients must reconnect, as
   * behind a load balancer); resolves with its new base URL once it listens.
   */
  restart(index: number): Promise<string>;
  /** Kills instance `index` (SIGKILL unless told otherwise) and resolves once it has exited. */
  kill(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** Stops every instance gracefully and resolves once all have exited. */
  stop(): Promise<void>;
}

/**
 * Starts `count` facade processes against `homeserverUrl`, each given `env` plus
 * `INSTANCE_ID=facade-<index>`, and resolves once all listen. When one fails to start, those
 * already started are stopped before the error is thrown.
 */
export async function startFacadeCluster(
  count: number,
  homeserverUrl: string,
  env: Record<string, string> = {},
): Promise<FacadeCluster> {
  const envOf = (index: number) => ({ ...env, INSTANCE_ID: `facade-${index}` });
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, index) => startFacadeProcess(homeserverUrl, envOf(index))),
  );
  const instances = started.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(instances.map((instance) => instance.stop()));
    throw failure.reason;
  }

  const instance = (index: number): FacadeProcess => {
    const found = instances[index];
    if (!found) {
      throw new RangeError(`no facade instance ${index} in a cluster of ${count}`);
    }
    return found;
  };
  const restart = async (index: number): Promise<string> => {
    await instance(index).stop();
    const next = await startFacadeProcess(homeserverUrl, envOf(index));
    instances[index] = next;
    return next.url;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(instances.map((each) => each.stop()));
  };
  return {
    size: count,
    instance,
    get urls() {
      return instances.map((each) => each.url);
    },
    restart,
    kill: (index, signal) => instance(index).kill(signal),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
