import { beforeEach, describe, expect, it } from 'vitest';
import { toClientEvent } from '../../../src/matrix/events.ts';
import { toSyncResponse } from '../../../src/matrix/sync.ts';
import type { WireClientEvent, WireSyncResponse } from '../../../src/matrix/wire-types.ts';
import type { SyncUpdate } from '../../../src/sync/sync-events.ts';
import { SyncMemory } from '../../../src/sync/sync-memory.ts';
import {
  type BackfillResult,
  planBackfills,
  toSyncUpdates,
} from '../../../src/sync/sync-updates.ts';
import {
  ALICE,
  BOB,
  joined,
  member,
  message,
  ROOM,
  stateEvent,
  syncResponse,
} from './scripted-transport.ts';

const OTHER = '!other:hs.test';

/** A compact view of updates: kind plus what identifies it. */
function summary(updates: SyncUpdate[]): string[] {
  return updates.map(describeUpdate);
}

function describeUpdate(update: SyncUpdate): string {
  switch (update.kind) {
    case 'timeline':
      return `timeline ${update.roomId} ${update.event.eventId}`;
    case 'state':
      return `state ${update.roomId} ${update.events.map((event) => event.eventId).join(',')}`;
    case 'membership':
      return `membership ${update.roomId} ${update.membership} ${update.event?.eventId ?? 'null'}`;
    case 'typing':
      return `typing ${update.roomId} ${update.userIds.join(',')}`;
    case 'gap':
      return `gap ${update.roomId}`;
    default:
      return update.kind;
  }
}

function translate(
  memory: SyncMemory,
  wire: WireSyncResponse,
  backfills = new Map<string, BackfillResult>(),
): SyncUpdate[] {
  return toSyncUpdates(toSyncResponse(wire), memory, backfills);
}

const converted = (events: WireClientEvent[], roomId = ROOM) =>
  events.map((event) => toClientEvent(event, roomId));

describe('SyncMemory.establish', () => {
  it('should take the position, the rooms and each joined room’s last event from the initial sync', () => {
    const memory = new SyncMemory(ALICE);
    const last = message('last');
    memory.establish(
      toSyncResponse({
        next_batch: 's1',
        rooms: {
          join: { [ROOM]: joined([last], { limited: true, prevBatch: 'p0' }) },
          invite: { [OTHER]: { invite_state: { events: [] } } },
        },
      }),
    );
    expect(memory.since).toBe('s1');
    expect([...memory.joined]).toEqual([ROOM]);
    expect([...memory.invited]).toEqual([OTHER]);
    expect(memory.delivered(ROOM, last.event_id)).toBe(true);
  });
});

describe('toSyncUpdates', () => {
  let memory: SyncMemory;
  let anchor: WireClientEvent;
  beforeEach(() => {
    memory = new SyncMemory(ALICE);
    anchor = message('before subscribing');
    memory.establish(toSyncResponse(syncResponse('s1', { join: { [ROOM]: joined([anchor]) } })));
  });

  it('should deliver each new timeline event in order, and nothing when the same response comes again', () => {
    const events = [message('one'), message('two'), message('three')];
    const response = syncResponse('s2', { join: { [ROOM]: joined(events) } });

    expect(summary(translate(memory, response))).toEqual(
      events.map((event) => `timeline ${ROOM} ${event.event_id}`),
    );
    expect(translate(memory, response)).toEqual([]);
  });

  it('should give each timeline event its room ID', () => {
    const [update] = translate(
      memory,
      syncResponse('s2', { join: { [ROOM]: joined([message('x')]) } }),
    );
    expect(update).toMatchObject({ kind: 'timeline', roomId: ROOM, event: { roomId: ROOM } });
  });

  it('should skip whatever precedes an event delivered before', () => {
    const fresh = message('fresh');
    const updates = translate(
      memory,
      syncResponse('s2', { join: { [ROOM]: joined([message('older'), anchor, fresh]) } }),
    );
    expect(summary(updates)).toEqual([`timeline ${ROOM} ${fresh.event_id}`]);
  });

  it('should follow a room’s timeline with one state update when state events were among it', () => {
    const hello = message('hello');
    const rename = stateEvent('m.room.name', '', { name: 'New name' });
    const topic = stateEvent('m.room.topic', '', { topic: 'Topic' });
    const updates = translate(
      memory,
      syncResponse('s2', { join: { [ROOM]: joined([hello, rename, topic]) } }),
    );
    expect(summary(updates)).toEqual([
      `timeline ${ROOM} ${hello.event_id}`,
      `timeline ${ROOM} ${rename.event_id}`,
      `timeline ${ROOM} ${topic.event_id}`,
      `state ${ROOM} ${rename.event_id},${topic.event_id}`,
    ]);
  });

  it('should report state from the state block (changed inside a gap) before the timeline’s own', () => {
    const gapState = stateEvent('m.room.topic', '', { topic: 'changed in the gap' });
    const rename = stateEvent('m.room.name', '', { name: 'x' });
    const updates = translate(
      memory,
      syncResponse('s2', { join: { [ROOM]: joined([rename], { state: [gapState, rename] }) } }),
    );
    expect(summary(updates)).toEqual([
      `timeline ${ROOM} ${rename.event_id}`,
      `state ${ROOM} ${gapState.event_id},${rename.event_id}`,
    ]);
  });

  it('should send no state update for messages only', () => {
    const updates = translate(
      memory,
      syncResponse('s2', { join: { [ROOM]: joined([message('m')]) } }),
    );
    expect(updates.map((update) => update.kind)).toEqual(['timeline']);
  });

  it('should deliver backfilled events before the timeline, with a gap first when backfill stopped short', () => {
    const missing = [message('missing 1'), message('missing 2')];
    const latest = message('latest');
    const response = syncResponse('s2', {
      join: { [ROOM]: joined([latest], { limited: true, prevBatch: 'p1' }) },
    });
    const updates = translate(
      memory,
      response,
      new Map([[ROOM, { events: converted(missing), complete: false }]]),
    );
    expect(summary(updates)).toEqual([
      `gap ${ROOM}`,
      ...[...missing, latest].map((event) => `timeline ${ROOM} ${event.event_id}`),
    ]);
  });

  it('should not deliver a backfilled event twice when the page overlaps the timeline', () => {
    const overlap = message('overlap');
    const latest = message('latest');
    const updates = translate(
      memory,
      syncResponse('s2', { join: { [ROOM]: joined([overlap, latest], { limited: true }) } }),
      new Map([[ROOM, { events: converted([overlap]), complete: true }]]),
    );
    expect(summary(updates)).toEqual([
      `timeline ${ROOM} ${overlap.event_id}`,
      `timeline ${ROOM} ${latest.event_id}`,
    ]);
  });

  it('should deliver a typing update from the ephemeral m.typing', () => {
    const updates = translate(
      memory,
      syncResponse('s2', { join: { [ROOM]: joined([], { typing: [BOB] }) } }),
    );
    expect(updates).toEqual([{ kind: 'typing', roomId: ROOM, userIds: [BOB] }]);
  });

  describe('the viewer’s unread counts and tags', () => {
    const counted = (notification_count: number, highlight_count = 0) => ({
      ...joined([]),
      unread_notifications: { notification_count, highlight_count },
    });
    const tagged = (tags: Record<string, { order?: number }>) => ({
      ...joined([]),
      account_data: { events: [{ type: 'm.tag', content: { tags } }] },
    });

    it('should deliver the counts when they change, after the room’s other updates, once', () => {
      const event = message('notifying');
      const response = syncResponse('s2', {
        join: { [ROOM]: { ...counted(2, 1), timeline: { events: [event], limited: false } } },
      });
      expect(translate(memory, response)).toEqual([
        { kind: 'timeline', roomId: ROOM, event: converted([event])[0] },
        { kind: 'unread', roomId: ROOM, counts: { notificationCount: 2, highlightCount: 1 } },
      ]);
      expect(translate(memory, response)).toEqual([]);
      expect(translate(memory, syncResponse('s3', { join: { [ROOM]: counted(0) } }))).toEqual([
        { kind: 'unread', roomId: ROOM, counts: { notificationCount: 0, highlightCount: 0 } },
      ]);
    });

    it('should compare with the initial sync’s counts, and take an unknown room as having had none', () => {
      const fresh = new SyncMemory(ALICE);
      fresh.establish(toSyncResponse(syncResponse('s1', { join: { [ROOM]: counted(3) } })));
      expect(translate(fresh, syncResponse('s2', { join: { [ROOM]: counted(3) } }))).toEqual([]);
      // Joined since: no counts to tell while they are none.
      expect(
        summary(translate(fresh, syncResponse('s3', { join: { [OTHER]: counted(0) } }))),
      ).toEqual([`membership ${OTHER} join null`]);
      expect(
        summary(translate(fresh, syncResponse('s4', { join: { [OTHER]: counted(1) } }))),
      ).toEqual(['unread']);
    });

    it('should deliver the tags an m.tag brings, sorted, and not the same ones again', () => {
      const updates = translate(
        memory,
        syncResponse('s2', {
          join: { [ROOM]: tagged({ 'u.b': {}, 'm.favourite': { order: 0.5 } }) },
        }),
      );
      expect(updates).toEqual([
        {
          kind: 'tags',
          roomId: ROOM,
          tags: [
            { name: 'm.favourite', order: 0.5 },
            { name: 'u.b', order: null },
          ],
        },
      ]);
      expect(JSON.parse(JSON.stringify(updates))).toEqual(updates);
      expect(
        translate(
          memory,
          syncResponse('s3', {
            join: { [ROOM]: tagged({ 'm.favourite': { order: 0.5 }, 'u.b': {} }) },
          }),
        ),
      ).toEqual([]);
      expect(translate(memory, syncResponse('s4', { join: { [ROOM]: tagged({}) } }))).toEqual([
        { kind: 'tags', roomId: ROOM, tags: [] },
      ]);
    });
  });

  describe('the viewer’s membership', () => {
    it('should announce an invite once, with its stripped state and no event', () => {
      const inviteState = [
        { type: 'm.room.name', state_key: '', sender: BOB, content: { name: 'Secret' } },
      ];
      const response = syncResponse('s2', {
        invite: { [OTHER]: { invite_state: { events: inviteState } } },
      });
      expect(translate(memory, response)).toEqual([
        {
          kind: 'membership',
          roomId: OTHER,
          membership: 'invite',
          event: null,
          inviteState: [
            { type: 'm.room.name', stateKey: '', sender: BOB, content: { name: 'Secret' } },
          ],
        },
      ]);
      expect(translate(memory, response)).toEqual([]);
    });

    it('should deliver a newly joined room from the viewer’s join on, then state, then the join', () => {
      const history = message('history before the join');
      const invite = member(ALICE, 'invite', undefined, { sender: BOB });
      const join = member(ALICE, 'join', 'invite');
      const after = message('after the join');
      const create = stateEvent('m.room.create', '', {});
      const updates = translate(
        memory,
        syncResponse('s2', {
          join: {
            [OTHER]: joined([history, invite, join, after], { limited: true, state: [create] }),
          },
        }),
      );
      expect(summary(updates)).toEqual([
        `timeline ${OTHER} ${join.event_id}`,
        `timeline ${OTHER} ${after.event_id}`,
        `state ${OTHER} ${create.event_id},${join.event_id}`,
        `membership ${OTHER} join ${join.event_id}`,
      ]);
      expect(memory.joined.has(OTHER)).toBe(true);
    });

    it('should announce a join whose event lies in a gap, taking the member event from the state block', () => {
      const join = member(ALICE, 'join', 'invite');
      const later = message('later');
      const updates = translate(
        memory,
        syncResponse('s2', {
          join: { [OTHER]: joined([later], { limited: true, state: [join] }) },
        }),
        new Map([[OTHER, { events: [], complete: false }]]),
      );
      expect(summary(updates)).toEqual([
        `gap ${OTHER}`,
        `timeline ${OTHER} ${later.event_id}`,
        `state ${OTHER} ${join.event_id}`,
        `membership ${OTHER} join ${join.event_id}`,
      ]);
    });

    it('should treat a profile change as no membership change', () => {
      const rename = member(ALICE, 'join', 'join');
      const updates = translate(memory, syncResponse('s2', { join: { [ROOM]: joined([rename]) } }));
      expect(updates.map((update) => update.kind)).toEqual(['timeline', 'state']);
    });

    it('should deliver a kick: the room’s last events, then leave with the kick event', () => {
      const last = message('last words');
      const kick = member(ALICE, 'leave', 'join', { sender: BOB });
      const response = syncResponse('s2', {
        leave: { [ROOM]: { timeline: { events: [last, kick] }, state: { events: [] } } },
      });
      expect(summary(translate(memory, response))).toEqual([
        `timeline ${ROOM} ${last.event_id}`,
        `timeline ${ROOM} ${kick.event_id}`,
        `state ${ROOM} ${kick.event_id}`,
        `membership ${ROOM} leave ${kick.event_id}`,
      ]);
      expect(memory.joined.has(ROOM)).toBe(false);
    });

    it('should report a ban as ban', () => {
      const ban = member(ALICE, 'ban', 'join', { sender: BOB });
      const response = syncResponse('s2', {
        leave: { [ROOM]: { timeline: { events: [ban] } } },
      });
      const updates = translate(memory, response);
      expect(updates.at(-1)).toMatchObject({ kind: 'membership', membership: 'ban' });
    });

    it('should report a rejected invite as leave once, without the room’s timeline', () => {
      translate(
        memory,
        syncResponse('s2', { invite: { [OTHER]: { invite_state: { events: [] } } } }),
      );
      const gossip = message('not for an invitee');
      const reject = member(ALICE, 'leave', 'invite');
      const response = syncResponse('s3', {
        leave: { [OTHER]: { timeline: { events: [gossip, reject] } } },
      });
      expect(summary(translate(memory, response))).toEqual([
        `membership ${OTHER} leave ${reject.event_id}`,
      ]);
      expect(translate(memory, response)).toEqual([]);
    });

    it('should deliver a leave and a rejoin inside one response as two changes', () => {
      const leave = member(ALICE, 'leave', 'join');
      const rejoin = member(ALICE, 'join', 'leave');
      const updates = translate(
        memory,
        syncResponse('s2', { join: { [ROOM]: joined([leave, rejoin]) } }),
      );
      expect(summary(updates).filter((line) => line.startsWith('membership'))).toEqual([
        `membership ${ROOM} leave ${leave.event_id}`,
        `membership ${ROOM} join ${rejoin.event_id}`,
      ]);
    });
  });
});

describe('planBackfills', () => {
  let memory: SyncMemory;
  let anchor: WireClientEvent;
  beforeEach(() => {
    memory = new SyncMemory(ALICE);
    anchor = message('anchor');
    memory.establish(toSyncResponse(syncResponse('s1', { join: { [ROOM]: joined([anchor]) } })));
  });

  const plan = (wire: WireSyncResponse) => planBackfills(toSyncResponse(wire), memory);

  it('should backfill a limited timeline of a known room from its prev_batch, stopping at the last delivered event', () => {
    const [request, ...others] = plan(
      syncResponse('s2', {
        join: { [ROOM]: joined([message('new')], { limited: true, prevBatch: 'p1' }) },
      }),
    );
    expect(others).toEqual([]);
    expect(request).toMatchObject({ roomId: ROOM, from: 'p1' });
    expect(request?.boundary(toClientEvent(anchor, ROOM))).toBe('exclude');
    expect(request?.boundary(toClientEvent(message('missing'), ROOM))).toBeNull();
    // In a known room the viewer's own join is just another event.
    expect(request?.boundary(toClientEvent(member(ALICE, 'join', 'leave'), ROOM))).toBeNull();
  });

  it('should not backfill a timeline that is not limited, or that reaches the last delivered event', () => {
    expect(plan(syncResponse('s2', { join: { [ROOM]: joined([message('a')]) } }))).toEqual([]);
    expect(
      plan(
        syncResponse('s2', { join: { [ROOM]: joined([anchor, message('a')], { limited: true }) } }),
      ),
    ).toEqual([]);
  });

  it('should backfill a newly joined room down to the viewer’s join, unless the timeline holds it', () => {
    const join = member(ALICE, 'join', 'invite');
    expect(
      plan(
        syncResponse('s2', { join: { [OTHER]: joined([join, message('a')], { limited: true }) } }),
      ),
    ).toEqual([]);
    const [request] = plan(
      syncResponse('s2', {
        join: { [OTHER]: joined([message('a')], { limited: true, prevBatch: 'p9' }) },
      }),
    );
    expect(request?.boundary(toClientEvent(join, OTHER))).toBe('include');
  });

  it('should backfill a room the viewer was in and has left, not one they were only invited to', () => {
    const limitedLeave = {
      timeline: { events: [member(ALICE, 'leave', 'join')], limited: true, prev_batch: 'p2' },
    };
    expect(plan(syncResponse('s2', { leave: { [ROOM]: limitedLeave } }))).toMatchObject([
      { roomId: ROOM, from: 'p2' },
    ]);
    expect(plan(syncResponse('s2', { leave: { [OTHER]: limitedLeave } }))).toEqual([]);
  });
});
