/**
 * What every side-by-side scenario starts: the facade as a child process behind one counting
 * proxy, a second, identical proxy for the direct calls, and a client agent for each side, all
 * stopped together.
 */
import type { Agent } from 'undici';
import { newAgent } from './client.ts';
import { type CountingProxy, startCountingProxy } from './counting-proxy.ts';
import { type FacadeProcess, startFacadeProcess } from './facade-process.ts';

export interface SideBySide extends AsyncDisposable {
  readonly facade: FacadeProcess;
  /** The facade's homeserver: its upstream calls are counted here. */
  readonly facadeProxy: CountingProxy;
  /** The direct contenders' homeserver. */
  readonly directProxy: CountingProxy;
  readonly facadeAgent: Agent;
  readonly directAgent: Agent;
}

export async function startSideBySide(homeserverUrl: string): Promise<SideBySide> {
  await using stack = new AsyncDisposableStack();
  const facadeProxy = stack.use(await startCountingProxy(homeserverUrl));
  const directProxy = stack.use(await startCountingProxy(homeserverUrl));
  const facade = stack.use(await startFacadeProcess(facadeProxy.url));
  const facadeAgent = newAgent();
  const directAgent = newAgent();
  stack.defer(async () => {
    await facadeAgent.close();
    await directAgent.close();
  });
  const owned = stack.move();
  return {
    facade,
    facadeProxy,
    directProxy,
    facadeAgent,
    directAgent,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/** One more facade child, behind a counting proxy of its own, with its own client agent. */
export interface ExtraFacade extends AsyncDisposable {
  readonly facade: FacadeProcess;
  /** Its homeserver: its upstream calls are counted here. */
  readonly proxy: CountingProxy;
  readonly agent: Agent;
}

/**
 * Starts another facade against `homeserverUrl` through its own counting proxy, with `env` on top
 * of the bench's defaults (`{ WARM_VIEW_IDLE_MS: '60000' }` for a facade with warm room views).
 */
export async function startExtraFacade(
  homeserverUrl: string,
  env: Record<string, string>,
): Promise<ExtraFacade> {
  await using stack = new AsyncDisposableStack();
  const proxy = stack.use(await startCountingProxy(homeserverUrl));
  const facade = stack.use(await startFacadeProcess(proxy.url, env));
  const agent = newAgent();
  stack.defer(() => agent.close());
  const owned = stack.move();
  return { facade, proxy, agent, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}
