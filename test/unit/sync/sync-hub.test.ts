import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  StreamEnd,
  SyncUpdate,
  SyncUpdateKind,
  SyncUpdateOf,
} from '../../../src/sync/sync-events.ts';
import {
  type StreamSelector,
  type SyncAccount,
  SyncHub,
  type SyncHubOptions,
  TooManyStreamsError,
} from '../../../src/sync/sync-hub.ts';
import {
  ALICE,
  apiError,
  BOB,
  joined,
  member,
  message,
  offlineUpstream,
  ROOM,
  type ScriptedTransport,
  scriptedTransport,
  settlePromises,
  stateEvent,
  syncResponse,
  unknownToken,
} from './scripted-transport.ts';

const GRACE_MS = 5000;
const OTHER_ROOM = '!other:hs.test';

const alice: SyncAccount = { accessToken: 'token-a', userId: ALICE };
const bob: SyncAccount = { accessToken: 'token-b', userId: BOB };

const upstream = offlineUpstream();
afterAll(() => upstream.close());

const hubs: SyncHub[] = [];

function newHub(overrides: Partial<SyncHubOptions> = {}) {
  const transport = scriptedTransport();
  const warnings: string[] = [];
  const hub = new SyncHub({
    upstream,
    transport,
    gracePeriodMs: GRACE_MS,
    logger: { debug: () => {}, warn: (_fields, text) => warnings.push(text) },
    ...overrides,
  });
  hubs.push(hub);
  return { hub, transport, warnings };
}

/** A listener recording what it receives. */
function recorder() {
  const received: SyncUpdate[] = [];
  return { received, listener: (update: SyncUpdate) => received.push(update) };
}

/** Answers the initial sync and lets the loop start its first long-poll. */
async function establish(transport: ScriptedTransport): Promise<void> {
  transport.answerSync(syncResponse('s1', { join: { [ROOM]: joined([message('anchor')]) } }));
  await settlePromises();
}

function deliverMessage(transport: ScriptedTransport, body: string, nextBatch: string): void {
  transport.answerSync(syncResponse(nextBatch, { join: { [ROOM]: joined([message(body)]) } }));
}

/** The initial sync, with ROOM and OTHER_ROOM joined. */
async function establishTwoRooms(transport: ScriptedTransport): Promise<void> {
  transport.answerSync(
    syncResponse('s1', {
      join: {
        [ROOM]: joined([message('anchor')]),
        [OTHER_ROOM]: joined([message('other anchor')]),
      },
    }),
  );
  await settlePromises();
}

const bodies = (updates: readonly (SyncUpdate | StreamEnd)[]) =>
  updates.flatMap((update) => (update.kind === 'timeline' ? [update.event.content['body']] : []));

/** Iterates `stream` in the background, recording what it yields, until it finishes. */
function consume<T>(stream: AsyncIterable<T>) {
  const received: T[] = [];
  const done = (async () => {
    for await (const update of stream) {
      received.push(update);
    }
  })();
  return { received, done };
}

describe('SyncHub', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(async () => {
    await Promise.all(hubs.splice(0).map((hub) => hub.close()));
    vi.useRealTimers();
  });

  it('should share one loop among every listener of a token', async () => {
    const { hub, transport } = newHub();
    const listeners = [recorder(), recorder(), recorder()];
    for (const { listener } of listeners) {
      hub.subscribe(alice, listener);
    }
    await establish(transport);
    deliverMessage(transport, 'hello', 's2');
    await settlePromises();

    expect(transport.initialSyncs).toBe(1);
    expect(transport.inFlight).toBe(1);
    expect(hub.stats).toEqual({ loops: 1, listeners: 3 });
    for (const { received } of listeners) {
      expect(bodies(received)).toEqual(['hello']);
    }
  });

  it('should run one loop per token', async () => {
    const { hub, transport } = newHub();
    hub.subscribe(alice, () => {});
    hub.subscribe(bob, () => {});
    hub.subscribe(alice, () => {});
    await settlePromises();

    expect(transport.initialSyncs).toBe(2);
    expect(hub.stats).toEqual({ loops: 2, listeners: 3 });
  });

  it('should stop a loop the grace period after its last listener left', async () => {
    const { hub, transport } = newHub();
    const unsubscribe = hub.subscribe(alice, () => {});
    await establish(transport);
    unsubscribe();

    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(hub.stats).toEqual({ loops: 1, listeners: 0 });
    expect(transport.inFlight).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await settlePromises();

    expect(hub.stats).toEqual({ loops: 0, listeners: 0 });
    expect(transport.inFlight).toBe(0);
  });

  it('should say it is idle once the last of its loops has stopped, not before', async () => {
    let idle = 0;
    const { hub, transport } = newHub({ onIdle: () => idle++ });
    const unsubscribeAlice = hub.subscribe(alice, () => {});
    const unsubscribeBob = hub.subscribe(bob, () => {});
    await establish(transport);
    expect(hub.idle).toBe(false);

    unsubscribeAlice();
    await vi.advanceTimersByTimeAsync(GRACE_MS);
    await settlePromises();
    expect(hub.stats.loops).toBe(1);
    expect(idle).toBe(0);

    unsubscribeBob();
    await vi.advanceTimersByTimeAsync(GRACE_MS);
    await settlePromises();
    expect(hub.idle).toBe(true);
    expect(idle).toBe(1);
  });

  it('should keep the loop for a listener subscribing within the grace period', async () => {
    const { hub, transport } = newHub();
    hub.subscribe(alice, () => {})();
    await establish(transport);
    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    const late = recorder();
    hub.subscribe(alice, late.listener);
    await vi.advanceTimersByTimeAsync(GRACE_MS * 2);
    deliverMessage(transport, 'still here', 's2');
    await settlePromises();

    expect(transport.initialSyncs).toBe(1);
    expect(hub.stats).toEqual({ loops: 1, listeners: 1 });
    expect(bodies(late.received)).toEqual(['still here']);
  });

  it('should ignore a second call of an unsubscribe function', async () => {
    const { hub } = newHub();
    const first = hub.subscribe(alice, () => {});
    hub.subscribe(alice, () => {});
    first();
    first();

    expect(hub.stats.listeners).toBe(1);
  });

  it('should keep delivering to the others when a listener throws', async () => {
    const { hub, transport, warnings } = newHub();
    const healthy = recorder();
    hub.subscribe(alice, () => {
      throw new Error('listener bug');
    });
    hub.subscribe(alice, healthy.listener);
    await establish(transport);
    deliverMessage(transport, 'one', 's2');
    await settlePromises();
    deliverMessage(transport, 'two', 's3');
    await settlePromises();

    expect(bodies(healthy.received)).toEqual(['one', 'two']);
    expect(transport.syncs.map((options) => options.since)).toEqual([undefined, 's1', 's2', 's3']);
    expect(warnings.filter((text) => text.includes('listener threw'))).toHaveLength(2);
  });

  it('should skip a listener from the moment it unsubscribes, and start one subscribing mid-delivery with the next response', async () => {
    const { hub, transport } = newHub();
    const late = recorder();
    const received: string[] = [];
    let unsubscribe = () => {};
    unsubscribe = hub.subscribe(alice, (update) => {
      if (update.kind === 'timeline') {
        received.push(String(update.event.content['body']));
        unsubscribe();
        hub.subscribe(alice, late.listener);
      }
    });
    await establish(transport);
    transport.answerSync(
      syncResponse('s2', { join: { [ROOM]: joined([message('a'), message('b')]) } }),
    );
    await settlePromises();
    deliverMessage(transport, 'c', 's3');
    await settlePromises();

    expect(received).toEqual(['a']);
    expect(bodies(late.received)).toEqual(['c']);
  });

  it('should deliver `ended` to every listener when the token is rejected, and drop them', async () => {
    const { hub, transport } = newHub();
    const listeners = [recorder(), recorder()];
    for (const { listener } of listeners) {
      hub.subscribe(alice, listener);
    }
    await establish(transport);
    const rejection = unknownToken();
    transport.answerSync(rejection);
    await settlePromises();

    for (const { received } of listeners) {
      expect(received).toEqual([{ kind: 'ended', error: rejection }]);
    }
    expect(hub.stats).toEqual({ loops: 0, listeners: 0 });

    hub.subscribe(alice, () => {});
    await settlePromises();
    expect(transport.initialSyncs).toBe(2);
  });

  it('should give a listener that subscribes again on `ended` a new loop', async () => {
    const { hub, transport } = newHub();
    const again = recorder();
    hub.subscribe(alice, (update) => {
      if (update.kind === 'ended') {
        hub.subscribe(alice, again.listener);
      }
    });
    await establish(transport);
    transport.answerSync(unknownToken());
    await settlePromises();

    expect(transport.initialSyncs).toBe(2);
    expect(hub.stats).toEqual({ loops: 1, listeners: 1 });
    await establish(transport);
    deliverMessage(transport, 'new loop', 's2');
    await settlePromises();
    expect(bodies(again.received)).toEqual(['new loop']);
  });

  it('should abort every loop and clear the grace timers on close', async () => {
    const { hub, transport } = newHub();
    const active = recorder();
    hub.subscribe(alice, active.listener);
    hub.subscribe(bob, () => {})();
    await settlePromises();
    transport.answerSync(syncResponse('s1', {}));
    transport.answerSync(syncResponse('s1', {}));
    await settlePromises();
    expect(transport.inFlight).toBe(2);

    await hub.close();

    expect(transport.inFlight).toBe(0);
    expect(hub.stats).toEqual({ loops: 0, listeners: 0 });
    expect(vi.getTimerCount()).toBe(0);
    expect(active.received).toEqual([]);
    expect(() => hub.subscribe(alice, () => {})).toThrow(/closed/);
  });

  it('should give the loop the subscriber’s user ID, asking nobody for it', async () => {
    const { hub, transport } = newHub();
    const seen = recorder();
    hub.subscribe(alice, seen.listener);
    await establish(transport);
    const kick = member(ALICE, 'leave', 'join', { sender: BOB });
    transport.answerSync(
      syncResponse('s2', { leave: { [ROOM]: { timeline: { events: [kick] } } } }),
    );
    await settlePromises();

    expect(seen.received.at(-1)).toMatchObject({
      kind: 'membership',
      roomId: ROOM,
      membership: 'leave',
      event: { eventId: kick.event_id, sender: BOB },
    });
    expect(transport.syncs.map((options) => options.since)).toEqual([undefined, 's1', 's2']);
  });

  describe('admit', () => {
    /** A check that counts its runs and passes (or fails with `error`). */
    function countingCheck(error?: Error) {
      const check = {
        runs: 0,
        run: () => {
          check.runs++;
          return error ? Promise.reject(error) : Promise.resolve();
        },
      };
      return check;
    }

    it("should run one check per room for all of a token's streams of it", async () => {
      const { hub } = newHub();
      const signal = new AbortController().signal;
      const streams = [alice, alice, alice, bob].map((account) =>
        hub.stream(account, { kinds: ['timeline'], roomId: ROOM }, signal),
      );
      const check = countingCheck();

      // Two at once, one after the first settled: one run. Another token, another room: their own.
      await Promise.all([hub.admit(alice, ROOM, check.run), hub.admit(alice, ROOM, check.run)]);
      await hub.admit(alice, ROOM, check.run);
      expect(check.runs).toBe(1);
      await hub.admit(bob, ROOM, check.run);
      await hub.admit(alice, OTHER_ROOM, check.run);
      expect(check.runs).toBe(3);
      await Promise.all(streams.map((stream) => stream.return()));
    });

    it('should share a failure with those waiting for it, and keep none', async () => {
      const { hub } = newHub();
      const stream = hub.stream(alice, { kinds: ['timeline'] }, new AbortController().signal);
      const refused = countingCheck(new Error('M_FORBIDDEN'));

      const outcomes = await Promise.allSettled([
        hub.admit(alice, ROOM, refused.run),
        hub.admit(alice, ROOM, refused.run),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
      expect(refused.runs).toBe(1);
      const passing = countingCheck();
      await hub.admit(alice, ROOM, passing.run);
      expect(passing.runs).toBe(1);
      await stream.return();
    });

    it("should check again after the viewer's membership of the room changed", async () => {
      const { hub, transport } = newHub();
      const ending = new AbortController();
      const stream = consume(hub.stream(alice, { kinds: ['membership'] }, ending.signal));
      await establishTwoRooms(transport);
      const check = countingCheck();
      await hub.admit(alice, ROOM, check.run);
      await hub.admit(alice, OTHER_ROOM, check.run);

      transport.answerSync(
        syncResponse('s2', {
          leave: { [ROOM]: { timeline: { events: [member(ALICE, 'leave', 'join')] } } },
        }),
      );
      await settlePromises();
      expect(stream.received.map((update) => update.kind)).toEqual(['membership']);
      await hub.admit(alice, ROOM, check.run);
      await hub.admit(alice, OTHER_ROOM, check.run);
      expect(check.runs).toBe(3);
      ending.abort();
      await stream.done;
    });

    it("should forget a token's admissions when its last stream ends", async () => {
      const { hub } = newHub();
      const first = hub.stream(alice, { kinds: ['timeline'] }, new AbortController().signal);
      const check = countingCheck();
      await hub.admit(alice, ROOM, check.run);
      await first.return();

      const second = hub.stream(alice, { kinds: ['timeline'] }, new AbortController().signal);
      await hub.admit(alice, ROOM, check.run);
      expect(check.runs).toBe(2);
      await second.return();
    });
  });

  describe('stream', () => {
    type TimelineOrGap = SyncUpdateOf<'timeline' | 'gap'> | StreamEnd;

    /** One line per update; exhaustive over the stream's kinds, so it checks their type too. */
    function summary(update: TimelineOrGap): string {
      switch (update.kind) {
        case 'timeline':
          return `timeline ${update.roomId} ${update.event.type} ${String(update.event.content['body'] ?? '')}`;
        case 'gap':
          return `gap ${update.roomId}`;
        case 'ended':
          return `ended ${update.error.name}`;
        case 'overflow':
          return `overflow ${update.limit}`;
      }
    }

    /**
     * A response with every kind in both rooms (a message, a rename with its state update,
     * typing), then one whose limited timeline of ROOM cannot be backfilled (a gap), then a
     * message of each room.
     */
    async function deliverEverything(transport: ScriptedTransport): Promise<void> {
      transport.answerSync(
        syncResponse('s2', {
          join: {
            [ROOM]: joined(
              [message('one'), stateEvent('m.room.name', '', { name: 'Renamed' }), message('two')],
              { typing: [BOB] },
            ),
            [OTHER_ROOM]: joined([message('elsewhere')], { typing: [BOB] }),
          },
        }),
      );
      await settlePromises();
      transport.answerMessages(ROOM, apiError(403, 'M_FORBIDDEN'));
      transport.answerSync(
        syncResponse('s3', {
          join: { [ROOM]: joined([message('three')], { limited: true, prevBatch: 'p2' }) },
        }),
      );
      await settlePromises();
      transport.answerSync(
        syncResponse('s4', {
          join: {
            [OTHER_ROOM]: joined([message('elsewhere again')]),
            [ROOM]: joined([message('four')]),
          },
        }),
      );
      await settlePromises();
    }

    it('should yield only the selected kinds of the selected room, in order', async () => {
      const { hub, transport } = newHub();
      const everything = recorder();
      hub.subscribe(alice, everything.listener);
      const stream = consume(
        hub.stream(
          alice,
          { kinds: ['timeline', 'gap'], roomId: ROOM },
          new AbortController().signal,
        ),
      );
      await establishTwoRooms(transport);
      await deliverEverything(transport);

      expect(stream.received.map(summary)).toEqual([
        `timeline ${ROOM} m.room.message one`,
        `timeline ${ROOM} m.room.name `,
        `timeline ${ROOM} m.room.message two`,
        `gap ${ROOM}`,
        `timeline ${ROOM} m.room.message three`,
        `timeline ${ROOM} m.room.message four`,
      ]);
      // What it left out was there: the other kinds, and the other room.
      const kinds = new Set(everything.received.map((update) => update.kind));
      expect([...kinds].sort()).toEqual(['gap', 'state', 'timeline', 'typing']);
      expect(bodies(everything.received)).toContain('elsewhere');
      expect(hub.stats).toEqual({ loops: 1, listeners: 2 });
    });

    it('should yield every room’s updates of the selected kinds when no room is given', async () => {
      const { hub, transport } = newHub();
      const stream = consume(
        hub.stream(alice, { kinds: ['gap', 'timeline'] }, new AbortController().signal),
      );
      await establishTwoRooms(transport);
      await deliverEverything(transport);

      expect(stream.received.map(summary)).toEqual([
        `timeline ${ROOM} m.room.message one`,
        `timeline ${ROOM} m.room.name `,
        `timeline ${ROOM} m.room.message two`,
        `timeline ${OTHER_ROOM} m.room.message elsewhere`,
        `gap ${ROOM}`,
        `timeline ${ROOM} m.room.message three`,
        `timeline ${OTHER_ROOM} m.room.message elsewhere again`,
        `timeline ${ROOM} m.room.message four`,
      ]);
    });

    it('should keep only timeline events of the given types, and let gaps pass', async () => {
      const { hub, transport } = newHub();
      const stream = consume(
        hub.stream(
          alice,
          { kinds: ['timeline', 'gap'], roomId: ROOM, eventTypes: ['m.room.name'] },
          new AbortController().signal,
        ),
      );
      const unfiltered = consume(
        hub.stream(
          alice,
          { kinds: ['timeline', 'gap'], roomId: ROOM, eventTypes: null },
          new AbortController().signal,
        ),
      );
      await establishTwoRooms(transport);
      await deliverEverything(transport);

      expect(stream.received.map(summary)).toEqual([
        `timeline ${ROOM} m.room.name `,
        `gap ${ROOM}`,
      ]);
      expect(unfiltered.received).toHaveLength(6);
    });

    it('should yield `ended` whatever the selector, then finish and unsubscribe', async () => {
      const { hub, transport } = newHub();
      const stream = consume(
        hub.stream(alice, { kinds: ['typing'], roomId: ROOM }, new AbortController().signal),
      );
      await establish(transport);
      const rejection = unknownToken();
      transport.answerSync(rejection);
      await stream.done;
      await settlePromises();

      expect(stream.received).toEqual([{ kind: 'ended', error: rejection }]);
      expect(hub.stats).toEqual({ loops: 0, listeners: 0 });
    });

    it('should finish and unsubscribe when its signal aborts', async () => {
      const { hub, transport } = newHub();
      const controller = new AbortController();
      const stream = consume(
        hub.stream(alice, { kinds: ['timeline', 'gap'], roomId: ROOM }, controller.signal),
      );
      await establish(transport);
      deliverMessage(transport, 'before', 's2');
      await settlePromises();
      expect(hub.stats).toEqual({ loops: 1, listeners: 1 });

      controller.abort();
      await stream.done;
      expect(hub.stats).toEqual({ loops: 1, listeners: 0 });
      deliverMessage(transport, 'after', 's3');
      await settlePromises();

      expect(bodies(stream.received)).toEqual(['before']);
      // Its loop, left without listeners, stops after the grace period.
      await vi.advanceTimersByTimeAsync(GRACE_MS);
      await settlePromises();
      expect(hub.stats).toEqual({ loops: 0, listeners: 0 });
      expect(transport.inFlight).toBe(0);
    });

    it('should finish at once, yielding nothing, when its signal is already aborted', async () => {
      const { hub } = newHub();
      const stream = consume(hub.stream(alice, { kinds: ['timeline'] }, AbortSignal.abort()));
      await stream.done;

      expect(stream.received).toEqual([]);
      expect(hub.stats.listeners).toBe(0);
    });

    it('should unsubscribe when the consumer breaks out of `for await`', async () => {
      const { hub, transport } = newHub();
      const controller = new AbortController();
      const iterator = hub.stream(alice, { kinds: ['timeline'], roomId: ROOM }, controller.signal);
      const received: string[] = [];
      const done = (async () => {
        for await (const update of iterator) {
          if (update.kind === 'timeline') {
            received.push(String(update.event.content['body']));
          }
          break;
        }
      })();
      await establish(transport);
      expect(hub.stats.listeners).toBe(1);
      transport.answerSync(
        syncResponse('s2', { join: { [ROOM]: joined([message('first'), message('second')]) } }),
      );
      await done;
      await settlePromises();

      expect(received).toEqual(['first']);
      expect(hub.stats).toEqual({ loops: 1, listeners: 0 });
      expect(controller.signal.aborted).toBe(false);
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    });
  });

  describe('stream, when its consumer falls behind', () => {
    const THIRD_ROOM = '!third:hs.test';

    /** One response per round, each with a message of every room given, bodies `<room> <n>`. */
    async function deliverRounds(
      transport: ScriptedTransport,
      rooms: readonly string[],
      rounds: number,
      first = 1,
    ): Promise<void> {
      for (let round = first; round < first + rounds; round++) {
        const join = Object.fromEntries(
          rooms.map((roomId) => [roomId, joined([message(`${label(roomId)} ${round}`)])]),
        );
        transport.answerSync(syncResponse(`r${round}`, { join }));
        await settlePromises();
      }
    }

    const label = (roomId: string) => roomId.slice(1, roomId.indexOf(':'));

    /**
     * A consumer that pulls only when told: each call takes everything the stream holds now and
     * leaves one `next` waiting (the first call is the one that subscribes).
     */
    function slowConsumer<T>(iterator: AsyncIterator<T>): () => Promise<T[]> {
      let waiting: Promise<IteratorResult<T>> | null = null;
      return async () => {
        const taken: T[] = [];
        for (;;) {
          waiting ??= iterator.next();
          const result = await Promise.race([waiting, settlePromises().then(() => null)]);
          if (result === null) {
            return taken;
          }
          waiting = null;
          if (result.done) {
            return taken;
          }
          taken.push(result.value);
        }
      };
    }

    /** A hub whose streams hold `limit`, and a stream of `selector` whose consumer is slow. */
    async function lagging<K extends SyncUpdateKind>(limit: number, selector: StreamSelector<K>) {
      const { hub, transport, warnings } = newHub({ streamQueueLimit: limit });
      const iterator = hub.stream(alice, selector, new AbortController().signal);
      const take = slowConsumer(iterator);
      // Its first `next` subscribes; what it takes from then on, it takes only when told.
      await take();
      return { hub, transport, warnings, iterator, take };
    }

    function line(update: SyncUpdate | StreamEnd): string {
      switch (update.kind) {
        case 'timeline':
          return String(update.event.content['body']);
        case 'gap':
          return `gap ${label(update.roomId)}`;
        case 'typing':
          return `typing ${label(update.roomId)} ${update.userIds.join(',')}`;
        case 'state':
          return `state ${label(update.roomId)} ${update.events.map((event) => event.content['name']).join(',')}`;
        case 'membership':
          return `membership ${label(update.roomId)} ${update.membership}`;
        case 'unread':
          return `unread ${label(update.roomId)} ${update.counts.notificationCount}`;
        case 'tags':
          return `tags ${label(update.roomId)} ${update.tags.map((tag) => tag.name).join(',')}`;
        case 'ended':
          return 'ended';
        case 'overflow':
          return `overflow ${update.limit}`;
      }
    }

    it('should put one gap in place of the events it missed, then yield the newest in order', async () => {
      const { transport, warnings, take } = await lagging(4, {
        kinds: ['timeline', 'gap'],
        roomId: ROOM,
      });
      await establish(transport);
      await deliverRounds(transport, [ROOM], 10);

      // It still held 4 when the last response came: the gap, then events 7 to 9; 10 came with it.
      expect((await take()).map(line)).toEqual([
        'room 1',
        'gap room',
        'room 7',
        'room 8',
        'room 9',
        'room 10',
      ]);
      // Caught up, it gets every event again, without a gap.
      await deliverRounds(transport, [ROOM], 2, 11);
      expect((await take()).map(line)).toEqual(['room 11', 'room 12']);
      expect(warnings).toEqual([]);
    });

    it('should queue a response larger than the bound whole for a consumer that keeps up', async () => {
      const { hub, transport } = newHub({ streamQueueLimit: 2 });
      const stream = consume(
        hub.stream(
          alice,
          { kinds: ['timeline', 'gap'], roomId: ROOM },
          new AbortController().signal,
        ),
      );
      await establish(transport);
      const burst = ['a', 'b', 'c', 'd', 'e'];
      transport.answerSync(
        syncResponse('s2', { join: { [ROOM]: joined(burst.map((body) => message(body))) } }),
      );
      await settlePromises();
      deliverMessage(transport, 'f', 's3');
      await settlePromises();

      expect(stream.received.map(line)).toEqual([...burst, 'f']);
    });

    it('should give each lagging room one gap, before that room’s newest events', async () => {
      const { transport, warnings, take } = await lagging(6, {
        kinds: ['timeline', 'gap'],
      });
      await establishTwoRooms(transport);
      await deliverRounds(transport, [ROOM, OTHER_ROOM], 8);

      expect((await take()).map(line)).toEqual([
        'room 1',
        // In queue order: the other room's first event was the older.
        'gap other',
        'gap room',
        'room 6',
        'other 6',
        'room 7',
        'other 7',
        'room 8',
        'other 8',
      ]);
      expect(warnings).toEqual([]);
    });

    it('should merge the loop’s own gap into one pending for the same room', async () => {
      const { transport, take } = await lagging(3, {
        kinds: ['timeline', 'gap'],
        roomId: ROOM,
      });
      await establish(transport);
      await deliverRounds(transport, [ROOM], 5);
      // A limited timeline that cannot be backfilled: the loop's gap, then its event.
      transport.answerMessages(ROOM, apiError(403, 'M_FORBIDDEN'));
      transport.answerSync(
        syncResponse('s9', {
          join: { [ROOM]: joined([message('after')], { limited: true, prevBatch: 'p' }) },
        }),
      );
      await settlePromises();
      await deliverRounds(transport, [ROOM], 1, 6);

      // Back to 3 when `room 6` came: `room 4` and `room 5` gave way, and the gaps on either side
      // of them are one.
      expect((await take()).map(line)).toEqual(['room 1', 'gap room', 'after', 'room 6']);
    });

    it('should keep only the newest `typing` and `state` of each room', async () => {
      const { transport, warnings, take } = await lagging(3, {
        kinds: ['typing', 'state'],
      });
      await establishTwoRooms(transport);
      const typists = [[BOB], [ALICE], [BOB, ALICE], []];
      for (const [round, typing] of typists.entries()) {
        transport.answerSync(
          syncResponse(`t${round}`, {
            join: {
              [ROOM]: joined([stateEvent('m.room.name', '', { name: `name ${round}` })], {
                typing,
              }),
              [OTHER_ROOM]: joined([], { typing }),
            },
          }),
        );
        await settlePromises();
      }
      // A response of nothing it selects: it is still lagging then.
      deliverMessage(transport, 'tick', 't9');
      await settlePromises();

      expect((await take()).map(line)).toEqual([
        'state room name 0',
        'state room name 3',
        'typing room ',
        'typing other ',
      ]);
      expect(warnings).toEqual([]);
    });

    it('should end a `membership` stream with `overflow` after everything it held', async () => {
      const { hub, transport, warnings, iterator, take } = await lagging(2, {
        kinds: ['membership'],
      });
      await establish(transport);
      const rooms = [OTHER_ROOM, THIRD_ROOM, '!fourth:hs.test', '!fifth:hs.test', '!sixth:hs.test'];
      for (const [round, roomId] of rooms.entries()) {
        transport.answerSync(
          syncResponse(`m${round}`, { join: { [roomId]: joined([member(ALICE, 'join')]) } }),
        );
        await settlePromises();
      }

      // Still holding 3 when the sixth came, it let go of the hub: the sixth was not queued.
      expect(hub.stats.listeners).toBe(0);
      expect((await take()).map(line)).toEqual([
        'membership other join',
        'membership third join',
        'membership fourth join',
        'membership fifth join',
        'overflow 2',
      ]);
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
      expect(warnings).toEqual([]);
    });

    it('should end a stream of events without gaps with `overflow`, not drop them', async () => {
      const { transport, take } = await lagging(2, {
        kinds: ['timeline'],
        roomId: ROOM,
      });
      await establish(transport);
      await deliverRounds(transport, [ROOM], 5);

      expect((await take()).map(line)).toEqual([
        'room 1',
        'room 2',
        'room 3',
        'room 4',
        'overflow 2',
      ]);
    });

    it('should deliver `ended` after a full queue', async () => {
      const { transport, take } = await lagging(2, {
        kinds: ['membership'],
      });
      await establish(transport);
      for (const [round, roomId] of [OTHER_ROOM, THIRD_ROOM].entries()) {
        transport.answerSync(
          syncResponse(`m${round}`, { join: { [roomId]: joined([member(ALICE, 'join')]) } }),
        );
        await settlePromises();
      }
      transport.answerSync(unknownToken());
      await settlePromises();

      expect((await take()).map(line)).toEqual([
        'membership other join',
        'membership third join',
        'ended',
      ]);
    });

    it('should refuse one stream more than the token may have, and no other token’s', async () => {
      const { hub, transport } = newHub({ maxStreamsPerToken: 2 });
      const signal = new AbortController().signal;
      const running = hub.stream(alice, { kinds: ['timeline'] }, signal);
      void running.next();
      const idle = hub.stream(alice, { kinds: ['typing'] }, signal);

      expect(() => hub.stream(alice, { kinds: ['state'] }, signal)).toThrow(
        new TooManyStreamsError(2),
      );
      expect(() => hub.stream(bob, { kinds: ['state'] }, signal)).not.toThrow();
      await settlePromises();
      // Refused before anything was asked upstream; only the iterated stream started a loop.
      expect(transport.initialSyncs).toBe(1);
      expect(hub.stats.listeners).toBe(1);

      // A stream given up (even one never iterated) frees its place.
      await idle.return();
      const again = hub.stream(alice, { kinds: ['state'] }, signal);
      expect(() => hub.stream(alice, { kinds: ['state'] }, signal)).toThrow(TooManyStreamsError);
      await running.return();
      const controller = new AbortController();
      hub.stream(alice, { kinds: ['state'] }, controller.signal);
      controller.abort();
      hub.stream(alice, { kinds: ['state'] }, signal);
      await again.return();
    });
  });
});
