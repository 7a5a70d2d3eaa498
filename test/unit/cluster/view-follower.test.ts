/**
 * The views of a token on an instance without its sync loop: a snapshot asked of the holder, then
 * each message's raw response in order, told when the thread is lost, and a read waiting until
 * they hold what was published before it. Messages are scripted; no Redis.
 */
import { describe, expect, it } from 'vitest';
import type { PublishedMark } from '../../../src/cluster/cluster-redis.ts';
import { type ClusterMessage, responseToWire } from '../../../src/cluster/update-wire.ts';
import { ViewFollower } from '../../../src/cluster/view-follower.ts';
import type { SyncResponse } from '../../../src/matrix/sync.ts';

const EPOCH = 'lineage-1';

function response(nextBatch: string): SyncResponse {
  return {
    nextBatch,
    join: new Map(),
    invite: new Map(),
    knock: new Map(),
    leave: new Map(),
    accountData: [],
  };
}

function updates(
  seq: number,
  raw: SyncResponse | null,
  passed?: string[],
): Extract<ClusterMessage, { kind: 'updates' }> {
  return {
    kind: 'updates',
    from: 'holder/1',
    epoch: EPOCH,
    seq,
    updates: [],
    ...(raw === null ? {} : { response: responseToWire(raw) }),
    ...(passed === undefined ? {} : { passed }),
  };
}

function follower(lastPublished: () => PublishedMark | null = () => null) {
  const sent: ClusterMessage[] = [];
  const steps: string[] = [];
  const requestedAts: number[] = [];
  const views = new ViewFollower({
    self: 'here/1',
    send: (message) => sent.push(message),
    lastPublished: async () => lastPublished(),
    respond: (received, requestedAt) => {
      steps.push(`response ${received.nextBatch}`);
      requestedAts.push(requestedAt);
    },
    lost: () => steps.push('lost'),
    snapshotTimeoutMs: 1000,
  });
  return { views, sent, steps, requestedAts };
}

/** Asks for a snapshot and answers it as the holder would, after message `after`. */
async function snapshotAfter(
  { views, sent }: ReturnType<typeof follower>,
  after: number,
): Promise<SyncResponse> {
  const asked = views.ask({ room: {} });
  const request = sent.at(-1);
  views.receiveSnapshot({
    kind: 'snapshot',
    from: 'holder/1',
    id: request?.kind === 'snapshot-request' ? request.id : '',
    epoch: EPOCH,
    after,
    response: responseToWire(response('snap')),
  });
  return asked;
}

/** Lets every queued step run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('ViewFollower', () => {
  it('should hand over the snapshot, then the responses after it in order, and say when one is missing', async () => {
    const { views, sent, steps } = follower();
    const snapshot = views.ask({ room: {} });
    const request = sent[0];
    expect(request).toMatchObject({ kind: 'snapshot-request', from: 'here/1' });
    const id = request?.kind === 'snapshot-request' ? request.id : '';

    views.follow(updates(4, response('s4'))); // before the snapshot: in it already
    views.receiveSnapshot({
      kind: 'snapshot',
      from: 'holder/1',
      id,
      epoch: EPOCH,
      after: 4,
      response: responseToWire(response('snap')),
    });
    views.follow(updates(5, response('s5')));
    views.follow(updates(5, response('s5'))); // a repeat
    expect((await snapshot).nextBatch).toBe('snap');
    await settle();
    expect(steps).toEqual(['response s5']);

    views.follow(updates(7, response('s7'))); // 6 never came
    await settle();
    expect(steps).toEqual(['response s5', 'lost']);
    views.follow(updates(8, response('s8'))); // nothing followed any more
    await settle();
    expect(steps).toEqual(['response s5', 'lost']);
  });

  it('should say the thread is lost when a response is left out of its message', async () => {
    const following = follower();
    const { views, steps } = following;
    await snapshotAfter(following, 1);
    views.follow(updates(2, null));
    await settle();
    expect(steps).toEqual(['lost']);
  });

  it('should date a response by the nudge it names that was heard here, and 0 without one', async () => {
    const following = follower();
    const { views, requestedAts } = following;
    await snapshotAfter(following, 0);
    views.follow(updates(1, response('s1'), ['elsewhere']));
    const before = performance.now();
    views.heard('mine');
    views.follow(updates(2, response('s2'), ['mine']));
    await settle();
    expect(requestedAts[0]).toBe(0);
    expect(requestedAts[1]).toBeGreaterThanOrEqual(before);
  });

  it('should let a read go on once the views hold what was published before it, else not in time', async () => {
    let published: PublishedMark | null = { epoch: EPOCH, seq: 3 };
    const { views } = follower(() => published);
    views.applied({ epoch: EPOCH, seq: 2 });
    const waiting = views.current(1000);
    await settle();
    views.applied({ epoch: EPOCH, seq: 3 });
    expect(await waiting).toBe(true);

    published = { epoch: 'lineage-2', seq: 1 };
    expect(await views.current(20)).toBe(false);
    published = null;
    expect(await views.current(20)).toBe(true);
  });

  it('should hand the snapshots still wanted to the loop taken over, and keep the views only if it resumes right after them', async () => {
    const following = follower();
    const { views, steps } = following;
    await snapshotAfter(following, 6);
    await settle();
    const pending = views.ask({ room: { timeline: { limit: 1 } } });
    views.takeOver({ epoch: EPOCH, seq: 6 }, async () => response('taken here'));
    expect((await pending).nextBatch).toBe('taken here');
    expect(steps).toEqual([]);

    const again = follower();
    await snapshotAfter(again, 6);
    again.views.takeOver({ epoch: EPOCH, seq: 9 }, async () => response('unused'));
    expect(again.steps).toEqual(['lost']);
  });
});
