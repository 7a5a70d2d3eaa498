/**
 * graphql-ws subscribers for the fan-out workloads (bench/scenarios/fan-out.ts, bench/cluster.ts):
 * opening a socket per user, and waiting on the counting proxy until they are all subscribed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { CountingProxy } from './counting-proxy.ts';

/** Opens one graphql-ws socket as `token` and resolves once the server acknowledged it. */
export function connect(url: string, token: string, errors: string[]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: (error) => {
        errors.push(`socket: ${describe(error)}`);
        reject(new Error(`graphql-ws connection failed: ${describe(error)}`));
      },
    });
    client.on('connected', () => resolve(client));
  });
}

/**
 * Waits until `users` long-polls are in flight at `proxy` and no other upstream request has been
 * made for a second (the subscriptions' room checks are done). `label`, if given, prefixes the
 * error thrown after 10 minutes.
 */
export async function waitUntilSubscribed(
  proxy: CountingProxy,
  users: number,
  errors: readonly string[],
  label?: string,
): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  let last = -1;
  let quietSince = Date.now();
  for (;;) {
    if (proxy.nonSyncRequests !== last) {
      last = proxy.nonSyncRequests;
      quietSince = Date.now();
    } else if (proxy.longPollsInFlight >= users && Date.now() - quietSince >= 1000) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${label === undefined ? '' : `${label}: `}subscribers not settled after 10 minutes: ` +
          `${proxy.longPollsInFlight} long-polls for ${users} users; ${errors.slice(0, 3).join('; ')}`,
      );
    }
    await sleep(100);
  }
}

/** The long-polls in flight, the most of ten looks over a second (a poll may be re-issuing). */
export async function steadyLongPolls(proxy: CountingProxy): Promise<number> {
  let most = 0;
  for (let look = 0; look < 10; look++) {
    most = Math.max(most, proxy.longPollsInFlight);
    await sleep(100);
  }
  return most;
}

/** A graphql-ws error (an Error, a list of GraphQL errors, a close event, …) as one line. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  if (Array.isArray(error)) {
    return error.map(describe).join(', ');
  }
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const event = error as { code: number; reason?: string };
    return `closed ${event.code} ${event.reason ?? ''}`;
  }
  return JSON.stringify(error);
}
