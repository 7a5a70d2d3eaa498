import { describe, expect, it } from 'vitest';
import { MatrixApiError } from '../../../src/matrix/errors.ts';
import { type ClientEvent, toClientEvent } from '../../../src/matrix/events.ts';
import type { MessagesPage } from '../../../src/matrix/room-events.ts';
import { backfillRoom, isPermanentBackfillFailure } from '../../../src/sync/backfill.ts';
import type { BackfillBoundary, BackfillRequest } from '../../../src/sync/sync-updates.ts';
import { apiError, message, page, ROOM } from './scripted-transport.ts';

/** History of `count` messages, oldest first. */
function history(count: number): ClientEvent[] {
  return Array.from({ length: count }, (_, index) => toClientEvent(message(`m${index}`), ROOM));
}

/**
 * A /messages stand-in over `events` (oldest first): the token is the index to continue below;
 * exhausted history answers an empty chunk without `end`, as Synapse does.
 */
function pagesOver(events: ClientEvent[]) {
  const requests: { from: string; limit: number }[] = [];
  const fetchPage = async (_roomId: string, from: string, limit: number): Promise<MessagesPage> => {
    requests.push({ from, limit });
    const below = Number(from);
    const chunk = events.slice(Math.max(0, below - limit), below).reverse();
    const next = below - chunk.length;
    return page(chunk, chunk.length === 0 ? null : String(next));
  };
  return { requests, fetchPage };
}

function request(
  boundary: (event: ClientEvent) => BackfillBoundary,
  from: string | null,
): BackfillRequest {
  return { roomId: ROOM, from, boundary };
}

const bodies = (events: ClientEvent[]) => events.map((event) => event.content['body']);

describe('backfillRoom', () => {
  it('should collect the events after the last delivered one, oldest first', async () => {
    const events = history(10);
    const delivered = events[3]?.eventId;
    const { fetchPage } = pagesOver(events);

    const result = await backfillRoom(
      request((event) => (event.eventId === delivered ? 'exclude' : null), '10'),
      100,
      fetchPage,
    );

    expect(result.complete).toBe(true);
    expect(bodies(result.events)).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9']);
  });

  it('should page on across several pages', async () => {
    const events = history(250);
    const { fetchPage, requests } = pagesOver(events);

    const result = await backfillRoom(
      request((event) => (event.eventId === events[0]?.eventId ? 'exclude' : null), '250'),
      1000,
      fetchPage,
    );

    expect(result.events).toHaveLength(249);
    expect(result.events[0]?.content['body']).toBe('m1');
    expect(requests.length).toBeGreaterThan(2);
  });

  it('should include an inclusive boundary (the viewer’s join) and stop there', async () => {
    const events = history(6);
    const join = events[2]?.eventId;
    const { fetchPage } = pagesOver(events);

    const result = await backfillRoom(
      request((event) => (event.eventId === join ? 'include' : null), '6'),
      100,
      fetchPage,
    );

    expect(bodies(result.events)).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(result.complete).toBe(true);
  });

  it('should stop at the bound with the newest events and report the gap as not closed', async () => {
    const events = history(30);
    const { fetchPage } = pagesOver(events);

    const result = await backfillRoom(
      request((event) => (event.eventId === events[0]?.eventId ? 'exclude' : null), '30'),
      5,
      fetchPage,
    );

    expect(result.complete).toBe(false);
    expect(bodies(result.events)).toEqual(['m25', 'm26', 'm27', 'm28', 'm29']);
  });

  it('should count a gap of exactly the bound as closed', async () => {
    const events = history(6);
    const { fetchPage } = pagesOver(events);

    const result = await backfillRoom(
      request((event) => (event.eventId === events[0]?.eventId ? 'exclude' : null), '6'),
      5,
      fetchPage,
    );

    expect(result).toMatchObject({ complete: true });
    expect(result.events).toHaveLength(5);
  });

  it('should end, complete, where history ends (an empty chunk without end)', async () => {
    const events = history(4);
    const { fetchPage } = pagesOver(events);

    const result = await backfillRoom(
      request(() => null, '4'),
      100,
      fetchPage,
    );

    expect(result.complete).toBe(true);
    expect(bodies(result.events)).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('should report a gap without paging when there is no prev_batch', async () => {
    const { fetchPage, requests } = pagesOver(history(3));

    expect(
      await backfillRoom(
        request(() => null, null),
        100,
        fetchPage,
      ),
    ).toEqual({
      events: [],
      complete: false,
    });
    expect(requests).toEqual([]);
  });

  it('should give up, not closed, after repeated empty pages that still carry an end', async () => {
    let calls = 0;
    const fetchPage = async () => {
      calls += 1;
      return page([], `t${calls}`);
    };

    const result = await backfillRoom(
      request(() => null, 'p'),
      100,
      fetchPage,
    );

    expect(result.complete).toBe(false);
    expect(calls).toBe(3);
  });
});

describe('isPermanentBackfillFailure', () => {
  it('should give up on refusals and retry everything else', () => {
    expect(isPermanentBackfillFailure(apiError(403, 'M_FORBIDDEN'))).toBe(true);
    expect(isPermanentBackfillFailure(apiError(400, 'M_UNKNOWN'))).toBe(true);
    expect(isPermanentBackfillFailure(apiError(401, 'M_UNKNOWN_TOKEN'))).toBe(false);
    expect(isPermanentBackfillFailure(apiError(429, 'M_LIMIT_EXCEEDED', 100))).toBe(false);
    expect(isPermanentBackfillFailure(apiError(502, 'M_UNKNOWN'))).toBe(false);
    expect(isPermanentBackfillFailure(new Error('socket'))).toBe(false);
    expect(apiError(403, 'M_FORBIDDEN')).toBeInstanceOf(MatrixApiError);
  });
});
