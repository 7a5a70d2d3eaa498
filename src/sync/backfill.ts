/** Filling the gap a `limited` sync leaves, from `/messages`, backwards. */

import { MatrixApiError } from '../matrix/errors.ts';
import type { ClientEvent } from '../matrix/events.ts';
import { isRateLimited } from '../matrix/policy.ts';
import type { MessagesPage } from '../matrix/room-events.ts';
import type { BackfillRequest, BackfillResult } from './sync-updates.ts';

/** One page of `/messages` backwards from `from` (`dir: 'b'`), at most `limit` events. */
export type FetchPageBackwards = (
  roomId: string,
  from: string,
  limit: number,
) => Promise<MessagesPage>;

/** The largest page asked for; Synapse serves up to 1000, but a gap is usually small. */
const BACKFILL_PAGE_LIMIT = 100;

/**
 * Pages that may come back empty while still carrying an `end` before backfill gives up: Synapse
 * answers such pages when every event of a stretch is hidden from the viewer (history visibility),
 * and a stretch of those must not keep the loop paging forever.
 */
const MAX_EMPTY_PAGES = 3;

/**
 * Pages back from `request.from` until the request's boundary, collecting at most `maxEvents`
 * missing events. Stops early, complete, when history is exhausted: Synapse then answers an empty
 * `chunk` without `end`. When the bound is hit first, the newest `maxEvents` events are returned
 * with `complete: false`. Failures of the page requests propagate.
 */
export async function backfillRoom(
  request: BackfillRequest,
  maxEvents: number,
  fetchPage: FetchPageBackwards,
): Promise<BackfillResult> {
  if (request.from === null) {
    return { events: [], complete: false };
  }
  // Newest first while paging, as /messages answers with dir=b.
  const missing: ClientEvent[] = [];
  const result = (complete: boolean): BackfillResult => ({
    events: missing.toReversed(),
    complete,
  });
  let from = request.from;
  let emptyPages = 0;
  for (;;) {
    // One more than still fits, so that a gap of exactly `maxEvents` is seen to end.
    const limit = Math.max(1, Math.min(BACKFILL_PAGE_LIMIT, maxEvents - missing.length + 1));
    const page = await fetchPage(request.roomId, from, limit);
    for (const event of page.chunk) {
      const boundary = request.boundary(event);
      if (boundary === 'exclude') {
        return result(true);
      }
      if (missing.length >= maxEvents) {
        return result(false);
      }
      missing.push(event);
      if (boundary === 'include') {
        return result(true);
      }
    }
    if (page.end === null) {
      return result(true);
    }
    emptyPages = page.chunk.length === 0 ? emptyPages + 1 : 0;
    if (emptyPages >= MAX_EMPTY_PAGES) {
      return result(false);
    }
    from = page.end;
  }
}

/**
 * Whether a failed backfill should give up on the room (leaving a `gap`) rather than fail the
 * whole sync step to be retried: the homeserver refused the request itself (403 after being
 * kicked, 404, 400), which no retry changes. A rejected token is not one: it ends the loop.
 * Connection failures, 5xx and rate limits are transient and retried with the sync.
 */
export function isPermanentBackfillFailure(error: unknown): boolean {
  return (
    error instanceof MatrixApiError &&
    error.status >= 400 &&
    error.status < 500 &&
    error.status !== 401 &&
    !isRateLimited(error)
  );
}
