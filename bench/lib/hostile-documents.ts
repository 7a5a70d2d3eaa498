/** GraphQL documents the hostile benches (hostile.ts, fairness.ts, upstream-faults.ts) send. */

/**
 * `count` aliased `room(id:)` fields, each a room that does not exist (`!r<index><salt>:localhost`),
 * so that the homeserver refuses whichever the facade asks about. A `salt` makes the document
 * new to the facade's document cache.
 */
export function aliasedRooms(count: number, salt = ''): string {
  return `{ ${Array.from({ length: count }, (_, index) => `r${index}: room(id: "!r${index}${salt}:localhost") { id name }`).join(' ')} }`;
}
