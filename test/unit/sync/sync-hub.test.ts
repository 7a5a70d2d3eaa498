import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EndedUpdate, SyncUpdate, SyncUpdateOf } from '../../../src/sync/sync-events.ts';
import { type SyncAccount, SyncHub, type SyncHubOptions } from '../../../src/sync/sync-hub.ts';
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

const bodies = (updates: SyncUpdate[]) =>
  updates.flatMap((update) => (update.kind === 'timeline' ? [update.event.content['body']] : []));

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

  describe('stream', () => {
    type TimelineOrGap = SyncUpdateOf<'timeline' | 'gap'> | EndedUpdate;

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

    /** One line per update; exhaustive over the stream's kinds, so it checks their type too. */
    function summary(update: TimelineOrGap): string {
      switch (update.kind) {
        case 'timeline':
          return `timeline ${update.roomId} ${update.event.type} ${String(update.event.content['body'] ?? '')}`;
        case 'gap':
          return `gap ${update.roomId}`;
        case 'ended':
          return `ended ${update.error.name}`;
      }
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
});
