/**
 * The fan-out workload's sizing (bench/scenarios/fan-out.ts, bench/cluster.ts): the subscriptions
 * dealt over the users, and the facade's caps raised to carry them.
 */

/** How many of `subscribers` subscriptions each of `users` users carries: as even as it goes. */
export function subscriptionsPerUser(subscribers: number, users: number): number[] {
  return Array.from(
    { length: users },
    (_, index) => Math.floor(subscribers / users) + (index < subscribers % users ? 1 : 0),
  );
}

/**
 * The facade's defaults cap what one token and one socket may hold, and the connections: these
 * raise them to what `users` users of at most `most` subscriptions each need, never below the
 * defaults.
 */
export function raisedCaps(most: number, users: number): Record<string, string> {
  return {
    SYNC_MAX_SUBSCRIPTIONS_PER_TOKEN: String(Math.max(200, most)),
    WS_MAX_OPERATIONS_PER_SOCKET: String(Math.max(100, most)),
    WS_MAX_MESSAGES_PER_SECOND: String(Math.max(200, 2 * most)),
    HTTP_MAX_CONNECTIONS: String(Math.max(1024, users + 64)),
    SYNC_CONNECTIONS: String(Math.max(1024, users + 64)),
  };
}
