import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SyncUpdate } from '../../../src/sync/sync-events.ts';
import { SyncHub, type SyncHubOptions } from '../../../src/sync/sync-hub.ts';
import {
  joined,
  message,
  offlineUpstream,
  ROOM,
  type ScriptedTransport,
  scriptedTransport,
  settlePromises,
  syncResponse,
  unknownToken,
} from './scripted-transport.ts';

const GRACE_MS = 5000;

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
      hub.subscribe('token-a', listener);
    }
    await establish(transport);
    deliverMessage(transport, 'hello', 's2');
    await settlePromises();

    expect(transport.whoamis).toBe(1);
    expect(transport.inFlight).toBe(1);
    expect(hub.stats).toEqual({ loops: 1, listeners: 3 });
    for (const { received } of listeners) {
      expect(bodies(received)).toEqual(['hello']);
    }
  });

  it('should run one loop per token', async () => {
    const { hub, transport } = newHub();
    hub.subscribe('token-a', () => {});
    hub.subscribe('token-b', () => {});
    hub.subscribe('token-a', () => {});
    await settlePromises();

    expect(transport.whoamis).toBe(2);
    expect(hub.stats).toEqual({ loops: 2, listeners: 3 });
  });

  it('should stop a loop the grace period after its last listener left', async () => {
    const { hub, transport } = newHub();
    const unsubscribe = hub.subscribe('token-a', () => {});
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
    hub.subscribe('token-a', () => {})();
    await establish(transport);
    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    const late = recorder();
    hub.subscribe('token-a', late.listener);
    await vi.advanceTimersByTimeAsync(GRACE_MS * 2);
    deliverMessage(transport, 'still here', 's2');
    await settlePromises();

    expect(transport.whoamis).toBe(1);
    expect(hub.stats).toEqual({ loops: 1, listeners: 1 });
    expect(bodies(late.received)).toEqual(['still here']);
  });

  it('should ignore a second call of an unsubscribe function', async () => {
    const { hub } = newHub();
    const first = hub.subscribe('token-a', () => {});
    hub.subscribe('token-a', () => {});
    first();
    first();

    expect(hub.stats.listeners).toBe(1);
  });

  it('should keep delivering to the others when a listener throws', async () => {
    const { hub, transport, warnings } = newHub();
    const healthy = recorder();
    hub.subscribe('token-a', () => {
      throw new Error('listener bug');
    });
    hub.subscribe('token-a', healthy.listener);
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
    unsubscribe = hub.subscribe('token-a', (update) => {
      if (update.kind === 'timeline') {
        received.push(String(update.event.content['body']));
        unsubscribe();
        hub.subscribe('token-a', late.listener);
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
      hub.subscribe('token-a', listener);
    }
    await establish(transport);
    const rejection = unknownToken();
    transport.answerSync(rejection);
    await settlePromises();

    for (const { received } of listeners) {
      expect(received).toEqual([{ kind: 'ended', error: rejection }]);
    }
    expect(hub.stats).toEqual({ loops: 0, listeners: 0 });

    hub.subscribe('token-a', () => {});
    await settlePromises();
    expect(transport.whoamis).toBe(2);
  });

  it('should give a listener that subscribes again on `ended` a new loop', async () => {
    const { hub, transport } = newHub();
    const again = recorder();
    hub.subscribe('token-a', (update) => {
      if (update.kind === 'ended') {
        hub.subscribe('token-a', again.listener);
      }
    });
    await establish(transport);
    transport.answerSync(unknownToken());
    await settlePromises();

    expect(transport.whoamis).toBe(2);
    expect(hub.stats).toEqual({ loops: 1, listeners: 1 });
    await establish(transport);
    deliverMessage(transport, 'new loop', 's2');
    await settlePromises();
    expect(bodies(again.received)).toEqual(['new loop']);
  });

  it('should abort every loop and clear the grace timers on close', async () => {
    const { hub, transport } = newHub();
    const active = recorder();
    hub.subscribe('token-a', active.listener);
    hub.subscribe('token-b', () => {})();
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
    expect(() => hub.subscribe('token-a', () => {})).toThrow(/closed/);
  });
});
