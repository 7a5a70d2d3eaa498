/**
 * What any answer costs on this machine, timed in the same interleaved run as a warm read, so
 * that a warm read's latency can be told apart from the machine's own. Between two of its runs a
 * contender's server sits idle while the others run (a cold read keeps Synapse busy for 100 ms),
 * and on these machines the first request after even 5 ms of idle takes about a millisecond
 * longer than one sent back to back, whatever serves it (docs/benchmarks.md, "Floors"). Three
 * floors, each a process of its own so that each idles exactly as the warm facade does:
 *
 * - `HTTP floor`: a plain `node:http` server answering the warm read's exact bytes
 *   (bench/lib/fixed-body-server.ts): the loopback hop, the client's parse, the idle;
 * - `yoga floor`: graphql-yoga with its defaults and a one-field schema
 *   (bench/lib/bare-yoga-server.ts), asked `{ __typename }`: the decided stack's own least cost;
 * - `facade floor`: a facade child configured as the warm one, asked `{ __typename }` with the
 *   same token: what yoga, the limits, the log line and the metrics cost a request before any
 *   field of ours runs.
 */
import { resolve } from 'node:path';
import { request } from 'undici';
import { graphql, newAgent } from './client.ts';
import type { Contender } from './interleave.ts';
import { startNodeChild } from './node-child.ts';
import { startExtraFacade } from './side-by-side.ts';
import { withoutSyncLoop } from './warm-view.ts';

export const HTTP_FLOOR = 'HTTP floor: same bytes, plain node:http';
export const YOGA_FLOOR = 'yoga floor: { __typename }, bare graphql-yoga';
export const FACADE_FLOOR = 'facade floor: { __typename }';

export interface Floors extends AsyncDisposable {
  /**
   * The three floor contenders of `group`: the HTTP floor answering `body` (the warm read's JSON,
   * as the client received it), then bare yoga and the facade asked `{ __typename }` as `token`.
   * One group at a time: the HTTP floor answers the body given last.
   */
  contenders(group: string, body: string, token: string): Promise<Contender[]>;
}

/** Starts the three floors; the facade floor with `env`, the warm facade's own settings. */
export async function startFloors(
  homeserverUrl: string,
  env: Record<string, string>,
): Promise<Floors> {
  await using stack = new AsyncDisposableStack();
  const server = stack.use(await startFixedBodyServer());
  const bareYoga = stack.use(await startChildServer('bare-yoga-server.ts'));
  const facadeSide = stack.use(await startExtraFacade(homeserverUrl, env));
  const { facade } = facadeSide;
  const facadeProxy = withoutSyncLoop(facadeSide.proxy);
  const agent = newAgent();
  stack.defer(() => agent.close());
  const owned = stack.move();
  return {
    async contenders(group, body, token) {
      await server.setBody(body);
      const floorRead = async (): Promise<number> => {
        const response = await request(server.url, {
          dispatcher: agent,
          method: 'POST',
          body: '{}',
        });
        const text = await response.body.text();
        JSON.parse(text);
        return Buffer.byteLength(text);
      };
      return [
        { name: HTTP_FLOOR, group, run: floorRead },
        {
          name: YOGA_FLOOR,
          group,
          run: async () => (await graphql(agent, bareYoga.url, token, '{ __typename }')).bytes,
        },
        {
          name: FACADE_FLOOR,
          group,
          proxy: facadeProxy,
          cpuMs: () => facade.cpuMs(),
          run: async () =>
            (await graphql(facadeSide.agent, facade.url, token, '{ __typename }')).bytes,
        },
      ];
    },
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

interface FixedBodyServer extends AsyncDisposable {
  readonly url: string;
  setBody(body: string): Promise<void>;
}

async function startFixedBodyServer(): Promise<FixedBodyServer> {
  const server = await startChildServer('fixed-body-server.ts');
  const url = `${server.url}/graphql`;
  return {
    url,
    async setBody(body) {
      const response = await request(url, { method: 'PUT', body });
      await response.body.dump();
      if (response.statusCode !== 204) {
        throw new Error(`HTTP floor: PUT answered ${response.statusCode}`);
      }
    },
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

interface ChildServer extends AsyncDisposable {
  /** Its base URL (`http://127.0.0.1:<port>`); GraphQL is at `${url}/graphql`. */
  readonly url: string;
}

/** Runs `script` (in this folder), a server that prints its port once listening. */
async function startChildServer(script: string): Promise<ChildServer> {
  const child = await startNodeChild({
    name: script,
    script: resolve(import.meta.dirname, script),
    env: {},
    listening: /^(\d+)$/,
  });
  return {
    url: `http://127.0.0.1:${child.address}`,
    [Symbol.asyncDispose]: () => child.stop(),
  };
}
