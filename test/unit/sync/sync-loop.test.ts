import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError } from '../../../src/matrix/errors.ts';
import { toClientEvent } from '../../../src/matrix/events.ts';
import type { WireSyncResponse } from '../../../src/matrix/wire-types.ts';
import type { SyncUpdate } from '../../../src/sync/sync-events.ts';
import {
  INITIAL_SYNC_FILTER,
  SyncLoop,
  type SyncLoopOptions,
  SyncLoopState,
} from '../../../src/sync/sync-loop.ts';
import {
  ALICE,
  apiError,
  joined,
  message,
  offlineUpstream,
  page,
  ROOM,
  type ScriptedTransport,
  scriptedTransport,
  settlePromises,
  syncResponse,
  unknownToken,
} from './scripted-transport.ts';

const POLL_MS = 30_000;

const upstream = offlineUpstream();
afterAll(() => upstream.close());

const reset = () =>
  new ConnectionError('reset', { method: 'GET', path: '/_matrix/client/v3/sync' }, new Error('x'));

interface Harness {
  transport: ScriptedTransport;
  loop: SyncLoop;
  updates: SyncUpdate[];
  done: Promise<void>;
  warnings: string[];
}

const running: Harness[] = [];

/** Starts a loop over a scripted transport; `prepare` scripts what its first calls meet. */
function startLoop(
  overrides: Partial<SyncLoopOptions> = {},
  prepare: (transport: ScriptedTransport) => void = () => {},
): Harness {
  const transport = scriptedTransport();
  prepare(transport);
  const updates: SyncUpdate[] = [];
  const warnings: string[] = [];
  const loop = new SyncLoop({
    client: upstream.client('secret-token'),
    userId: ALICE,
    pollTimeoutMs: POLL_MS,
    maxBackfillEvents: 100,
    backoff: { initialDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 300_000 },
    transport,
    logger: {
      debug: () => {},
      warn: (fields, text) => warnings.push(`${text} ${JSON.stringify(fields)}`),
    },
    loopId: 7,
    onUpdates: (batch) => updates.push(...batch),
    random: () => 1,
    ...overrides,
  });
  const harness = { transport, loop, updates, done: loop.run(), warnings };
  running.push(harness);
  return harness;
}

/** The initial sync: room ROOM with `anchor` as its last event, position `s1`. */
function establish(transport: ScriptedTransport, anchor = message('anchor')) {
  transport.answerSync(syncResponse('s1', { join: { [ROOM]: joined([anchor]) } }));
  return anchor;
}

const timelineBodies = (updates: SyncUpdate[]) =>
  updates.flatMap((update) => (update.kind === 'timeline' ? [update.event.content['body']] : []));

describe('SyncLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(async () => {
    for (const harness of running.splice(0)) {
      harness.loop.stop();
      await harness.done;
    }
    vi.useRealTimers();
  });

  it('should establish its position without delivering it, then long-poll from next_batch', async () => {
    const { transport, updates } = startLoop();
    transport.answerSync(syncResponse('s1', { join: { [ROOM]: joined([message('before')]) } }));
    transport.answerSync(syncResponse('s2', { join: { [ROOM]: joined([message('after')]) } }));
    await settlePromises();

    expect(timelineBodies(updates)).toEqual(['after']);
    expect(transport.initialSyncs).toBe(1);
    expect(transport.syncs[0]).toMatchObject({
      filter: INITIAL_SYNC_FILTER,
      timeoutMs: 0,
      fresh: true,
      setPresence: 'offline',
    });
    expect(transport.syncs[0]?.since).toBeUndefined();
    expect(
      transport.syncs
        .slice(1)
        .map(({ since, timeoutMs, setPresence }) => ({ since, timeoutMs, setPresence })),
    ).toEqual([
      { since: 's1', timeoutMs: POLL_MS, setPresence: 'offline' },
      { since: 's2', timeoutMs: POLL_MS, setPresence: 'offline' },
    ]);
    expect(transport.inFlight).toBe(1);
  });

  it('should resume from a position another loop stored: no initial sync, nothing twice', async () => {
    const first = startLoop();
    const anchor = establish(first.transport);
    const seen = message('seen');
    first.transport.answerSync(syncResponse('s2', { join: { [ROOM]: joined([seen]) } }));
    await settlePromises();
    const position = first.loop.position();
    expect(position).toMatchObject({ since: 's2', joined: [ROOM], invited: [] });
    expect(position?.recent[ROOM]).toEqual([anchor.event_id, seen.event_id]);

    let established = 0;
    const second = startLoop({
      resumeFrom: position ?? undefined,
      onEstablished: () => established++,
    });
    // The same event again (a repeated response), then a new one.
    second.transport.answerSync(
      syncResponse('s3', { join: { [ROOM]: joined([seen, message('new')]) } }),
    );
    await settlePromises();
    expect(second.transport.initialSyncs).toBe(0);
    expect(established).toBe(0);
    expect(second.transport.syncs[0]).toMatchObject({ since: 's2', timeoutMs: 0 });
    expect(timelineBodies(second.updates)).toEqual(['new']);
  });

  it('should carry unread counts and tags in its position: a resumed loop misses no drop to 0 and repeats no tags', async () => {
    const withCounts = (notification_count: number, highlight_count: number) => ({
      ...joined([]),
      unread_notifications: { notification_count, highlight_count },
      account_data: { events: [{ type: 'm.tag', content: { tags: { 'u.work': {} } } }] },
    });
    const first = startLoop();
    establish(first.transport);
    first.transport.answerSync(syncResponse('s2', { join: { [ROOM]: withCounts(3, 1) } }));
    await settlePromises();
    expect(first.updates.filter((update) => update.kind !== 'timeline')).toMatchObject([
      { kind: 'unread', roomId: ROOM, counts: { notificationCount: 3, highlightCount: 1 } },
      { kind: 'tags', roomId: ROOM },
    ]);
    const position = first.loop.position();
    expect(position?.unread).toEqual({ [ROOM]: [3, 1] });

    // Read elsewhere, the same tags again: the counts' drop to 0 is news, the tags are not.
    const second = startLoop({ resumeFrom: position ?? undefined });
    second.transport.answerSync(syncResponse('s3', { join: { [ROOM]: withCounts(0, 0) } }));
    await settlePromises();
    expect(second.updates).toEqual([
      { kind: 'unread', roomId: ROOM, counts: { notificationCount: 0, highlightCount: 0 } },
    ]);
  });

  it('should take a snapshot between two syncs, then go on from its own position at once', async () => {
    const responses: string[] = [];
    const { transport, loop, updates } = startLoop({
      onResponse: (response) => responses.push(response.nextBatch),
    });
    establish(transport);
    await settlePromises();
    expect(transport.inFlight).toBe(1); // the long-poll from s1

    const snapshot = loop.snapshot(INITIAL_SYNC_FILTER);
    await settlePromises();
    // The long-poll gave way; the snapshot is an initial sync of its own.
    transport.answerSync(syncResponse('snap', { join: { [ROOM]: joined([message('old')]) } }));
    expect((await snapshot).nextBatch).toBe('snap');
    await settlePromises();
    transport.answerSync(syncResponse('s2', { join: { [ROOM]: joined([message('new')]) } }));
    await settlePromises();

    expect(transport.syncs.map(({ since, timeoutMs }) => ({ since, timeoutMs }))).toEqual([
      { since: undefined, timeoutMs: 0 },
      { since: 's1', timeoutMs: POLL_MS },
      { since: undefined, timeoutMs: 0 },
      { since: 's1', timeoutMs: 0 },
      { since: 's2', timeoutMs: POLL_MS },
    ]);
    // Subscribers get what follows their position, never the snapshot's content.
    expect(timelineBodies(updates)).toEqual(['new']);
    expect(responses).toEqual(['s2']);
  });

  it('should give up the long-poll when nudged and sync again at once, without counting a failure', async () => {
    const { transport, loop } = startLoop();
    establish(transport);
    await settlePromises();
    loop.nudge();
    await settlePromises();
    expect(loop.failures).toBe(0);
    expect(transport.syncs.slice(1).map(({ since, timeoutMs }) => ({ since, timeoutMs }))).toEqual([
      { since: 's1', timeoutMs: POLL_MS },
      { since: 's1', timeoutMs: 0 },
    ]);
  });

  it('should move on to the next token even when delivering throws', async () => {
    const { transport, loop } = startLoop({
      onUpdates: () => {
        throw new Error('listener bug');
      },
    });
    establish(transport);
    transport.answerSync(syncResponse('s2', { join: { [ROOM]: joined([message('poison')]) } }));
    await settlePromises();

    expect(transport.syncs.map((options) => options.since)).toEqual([undefined, 's1', 's2']);
    expect(loop.failures).toBe(0);
    expect(loop.state).toBe(SyncLoopState.Syncing);
  });

  it('should back off exponentially on failures, keep its position and catch up with timeout=0', async () => {
    const { transport, loop, warnings, updates } = startLoop();
    establish(transport);
    await settlePromises();
    transport.answerSync(reset());
    await settlePromises();
    expect(loop.state).toBe(SyncLoopState.Reconnecting);

    // random() = 1: the full exponential delay, 1 s, then 2 s.
    await vi.advanceTimersByTimeAsync(999);
    expect(transport.syncs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await settlePromises();
    expect(transport.syncs).toHaveLength(3);
    transport.answerSync(reset());
    await settlePromises();
    await vi.advanceTimersByTimeAsync(1999);
    expect(transport.syncs).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    await settlePromises();

    transport.answerSync(syncResponse('s2', { join: { [ROOM]: joined([message('back')]) } }));
    await settlePromises();

    expect(transport.syncs.slice(1).map(({ since, timeoutMs }) => [since, timeoutMs])).toEqual([
      ['s1', POLL_MS],
      ['s1', 0],
      ['s1', 0],
      ['s2', POLL_MS],
    ]);
    expect(timelineBodies(updates)).toEqual(['back']);
    expect(loop.failures).toBe(0);
    expect(warnings.filter((line) => line.startsWith('sync failed'))).toHaveLength(2);
    expect(warnings.join('\n')).not.toContain('secret-token');
  });

  it('should wait exactly the Retry-After of a 429', async () => {
    const { transport } = startLoop();
    establish(transport);
    await settlePromises();
    transport.answerSync(apiError(429, 'M_LIMIT_EXCEEDED', 5000));
    await settlePromises();

    await vi.advanceTimersByTimeAsync(4999);
    expect(transport.syncs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    await settlePromises();
    expect(transport.syncs).toHaveLength(3);
  });

  /** Lets `ms` of fake time pass in small steps, each followed by the promise chains it woke. */
  async function elapse(ms: number, step = 250): Promise<void> {
    for (let passed = 0; passed < ms; passed += step) {
      await vi.advanceTimersByTimeAsync(step);
      await settlePromises();
    }
  }

  it('should back off, not spin, when every /sync answers without next_batch', async () => {
    // `{}` from a misbehaving proxy: once read as a position it was retried 5,731 times in 4 s.
    const { transport, loop, warnings } = startLoop({}, (scripted) => {
      for (let answer = 0; answer < 1000; answer++) {
        scripted.answerSync({} as WireSyncResponse);
      }
    });
    await settlePromises();
    expect(transport.syncs).toHaveLength(1);
    expect(loop.state).toBe(SyncLoopState.Reconnecting);

    // random() = 1: tries at 0, 1, 3, 7, 15 and 31 s (1, 2, 4, 8, 16 s apart), then 30 s apart.
    await elapse(60_000);
    expect(transport.syncs).toHaveLength(6);
    await elapse(60_000);
    expect(transport.syncs).toHaveLength(8);
    expect(loop.failures).toBe(8);
    expect(warnings[0]).toContain('next_batch is not a string');
  });

  it('should wait at most 5 minutes for a huge Retry-After, never spin on it', async () => {
    const { transport } = startLoop();
    establish(transport);
    await settlePromises();
    // Retry-After: 3000000 (s): a timer given 3·10⁹ ms fires at once.
    for (let answer = 0; answer < 100; answer++) {
      transport.answerSync(apiError(429, 'M_LIMIT_EXCEEDED', 3_000_000_000));
    }
    await settlePromises();
    expect(transport.syncs).toHaveLength(2);

    await elapse(299_000, 1000);
    expect(transport.syncs).toHaveLength(2);
    await elapse(1000);
    expect(transport.syncs).toHaveLength(3);
    await elapse(300_000, 1000);
    expect(transport.syncs).toHaveLength(4);
  });

  it('should make no whoami call: its first request, made at once, is the initial sync', async () => {
    const whoami = vi.fn();
    const { transport, warnings } = startLoop({}, (scripted) => {
      // A transport that still offers whoami: the loop must not use it (nor the offline upstream,
      // where any call would fail and be logged).
      Object.assign(scripted, { whoami });
    });
    await settlePromises();

    expect(whoami).not.toHaveBeenCalled();
    expect(transport.syncs).toHaveLength(1);
    expect(transport.initialSyncs).toBe(1);
    expect(transport.syncs[0]).toMatchObject({ filter: INITIAL_SYNC_FILTER, fresh: true });
    expect(warnings).toEqual([]);
  });

  it('should retry the initial sync like any other request', async () => {
    const { transport, updates, loop } = startLoop({}, (scripted) => scripted.answerSync(reset()));
    await settlePromises();
    expect(transport.syncs).toHaveLength(1);
    expect(loop.state).toBe(SyncLoopState.Reconnecting);
    await vi.advanceTimersByTimeAsync(999);
    expect(transport.syncs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await settlePromises();
    expect(transport.syncs).toHaveLength(2);
    transport.answerSync(apiError(502, 'M_UNKNOWN'));
    await settlePromises();
    // The second failure in a row: 2 s.
    await vi.advanceTimersByTimeAsync(1999);
    expect(transport.syncs).toHaveLength(2);
    establish(transport);
    transport.answerSync(syncResponse('s2', { join: { [ROOM]: joined([message('first')]) } }));
    await vi.advanceTimersByTimeAsync(1);
    await settlePromises();

    expect(transport.initialSyncs).toBe(3);
    expect(transport.syncs.map((options) => options.since)).toEqual([
      undefined,
      undefined,
      undefined,
      's1',
      's2',
    ]);
    // A failed initial sync is no refused position: nothing but the news after it is delivered.
    expect(updates.map((update) => update.kind)).toEqual(['timeline']);
    expect(timelineBodies(updates)).toEqual(['first']);
    expect(loop.failures).toBe(0);
  });

  it('should end with `ended` when the token is rejected, and sync no more', async () => {
    const { transport, updates, done, loop } = startLoop();
    establish(transport);
    await settlePromises();
    const rejection = unknownToken();
    transport.answerSync(rejection);
    await done;

    expect(updates).toEqual([{ kind: 'ended', error: rejection }]);
    expect(loop.state).toBe(SyncLoopState.Ended);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.syncs).toHaveLength(2);
  });

  it('should abort the long-poll in flight when stopped', async () => {
    const { transport, loop, done } = startLoop();
    establish(transport);
    await settlePromises();
    expect(transport.inFlight).toBe(1);

    loop.stop();
    await done;

    expect(transport.inFlight).toBe(0);
    expect(loop.state).toBe(SyncLoopState.Stopped);
  });

  it('should stop at once while backing off', async () => {
    const { transport, loop, done } = startLoop();
    establish(transport);
    await settlePromises();
    transport.answerSync(reset());
    await settlePromises();

    loop.stop();
    await done;

    expect(transport.syncs).toHaveLength(2);
  });

  it('should fill a limited timeline from /messages, oldest first, before the new events', async () => {
    const { transport, updates } = startLoop();
    const anchor = establish(transport);
    const missing = [message('missing 1'), message('missing 2')].map((event) =>
      toClientEvent(event, ROOM),
    );
    transport.answerMessages(ROOM, page([...missing].reverse(), 'p0'));
    transport.answerMessages(ROOM, page([toClientEvent(anchor, ROOM)], 'p-1'));
    transport.answerSync(
      syncResponse('s2', {
        join: { [ROOM]: joined([message('new')], { limited: true, prevBatch: 'p1' }) },
      }),
    );
    await settlePromises();

    expect(timelineBodies(updates)).toEqual(['missing 1', 'missing 2', 'new']);
    expect(transport.pages.map(({ roomId, from, dir }) => ({ roomId, from, dir }))).toEqual([
      { roomId: ROOM, from: 'p1', dir: 'b' },
      { roomId: ROOM, from: 'p0', dir: 'b' },
    ]);
  });

  it('should deliver a gap when backfill reaches its bound', async () => {
    const { transport, updates } = startLoop({ maxBackfillEvents: 1 });
    establish(transport);
    const older = toClientEvent(message('older'), ROOM);
    const newer = toClientEvent(message('newer'), ROOM);
    transport.answerMessages(ROOM, page([newer, older], 'p0'));
    transport.answerSync(
      syncResponse('s2', {
        join: { [ROOM]: joined([message('new')], { limited: true, prevBatch: 'p1' }) },
      }),
    );
    await settlePromises();

    expect(updates.map((update) => update.kind)).toEqual(['gap', 'timeline', 'timeline']);
    expect(timelineBodies(updates)).toEqual(['newer', 'new']);
    expect(transport.pages[0]?.limit).toBe(2);
  });

  it('should retry the whole sync when backfill fails on the way, delivering each event once', async () => {
    const { transport, updates } = startLoop();
    const anchor = establish(transport);
    const limited = syncResponse('s2', {
      join: { [ROOM]: joined([message('new')], { limited: true, prevBatch: 'p1' }) },
    });
    const missing = toClientEvent(message('missing'), ROOM);
    transport.answerMessages(ROOM, reset());
    transport.answerMessages(ROOM, page([missing, toClientEvent(anchor, ROOM)], 'p0'));
    transport.answerSync(limited);
    await settlePromises();
    expect(updates).toEqual([]);

    await vi.advanceTimersByTimeAsync(1000);
    transport.answerSync(limited);
    await settlePromises();

    expect(timelineBodies(updates)).toEqual(['missing', 'new']);
    expect(transport.syncs.slice(1).map(({ since }) => since)).toEqual(['s1', 's1', 's2']);
  });

  it('should leave a gap, not retry, when the homeserver refuses the backfill', async () => {
    const { transport, updates } = startLoop();
    establish(transport);
    transport.answerMessages(ROOM, apiError(403, 'M_FORBIDDEN'));
    transport.answerSync(
      syncResponse('s2', {
        join: { [ROOM]: joined([message('new')], { limited: true, prevBatch: 'p1' }) },
      }),
    );
    await settlePromises();

    expect(updates.map((update) => update.kind)).toEqual(['gap', 'timeline']);
    expect(transport.syncs.at(-1)?.since).toBe('s2');
  });

  it('should establish a new position, reporting gaps, when the homeserver refuses `since`', async () => {
    const { transport, updates } = startLoop();
    establish(transport);
    await settlePromises();
    transport.answerSync(apiError(400, 'M_UNKNOWN'));
    await settlePromises();
    await vi.advanceTimersByTimeAsync(1000);
    transport.answerSync(syncResponse('t1', { join: { [ROOM]: joined([message('x')]) } }));
    await settlePromises();

    expect(updates).toEqual([{ kind: 'gap', roomId: ROOM }]);
    expect(transport.syncs.map(({ since, fresh }) => [since, fresh])).toEqual([
      [undefined, true],
      ['s1', undefined],
      [undefined, true],
      ['t1', undefined],
    ]);
  });
});
