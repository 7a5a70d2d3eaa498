import { describe, expect, it } from 'vitest';
import { StateIndex } from '../../../src/room/state-index.ts';
import { member, message, OWNER, stateEvent } from './room-fixtures.ts';

describe('StateIndex', () => {
  it('should keep the later event for the same type and state key', () => {
    const first = stateEvent('m.room.name', '', OWNER, { name: 'First' });
    const second = stateEvent('m.room.name', '', OWNER, { name: 'Second' });
    const state = StateIndex.fromEvents([first, second]);
    expect(state.content('m.room.name')).toEqual({ name: 'Second' });
    expect(state.get('m.room.name')?.event).toBe(second);
  });

  it('should index by state key, and skip events without one', () => {
    const state = StateIndex.fromEvents([
      member(OWNER, 'join'),
      member('@other:hs.test', 'invite'),
      message(OWNER, 'not state'),
    ]);
    expect(state.content('m.room.member', '@other:hs.test')).toEqual({ membership: 'invite' });
    expect(state.get('m.room.member')).toBeNull();
    expect(state.entries().map((entry) => entry.stateKey)).toEqual([OWNER, '@other:hs.test']);
    expect(state.get('m.room.message')).toBeNull();
  });

  it('should filter entries by type', () => {
    const state = StateIndex.fromEvents([
      stateEvent('m.room.topic', '', OWNER, { topic: 'x' }),
      member(OWNER, 'join'),
    ]);
    expect(state.entries(['m.room.member']).map((entry) => entry.type)).toEqual(['m.room.member']);
    expect(state.content('m.room.name')).toBeNull();
  });

  it('should index stripped invite state, which has no event', () => {
    // client-server/sync.yaml: `invite_state` holds stripped state events (type, state_key,
    // sender, content).
    const state = StateIndex.fromStripped([
      { type: 'm.room.name', stateKey: '', sender: OWNER, content: { name: 'Invited' } },
      {
        type: 'm.room.member',
        stateKey: '@me:hs.test',
        sender: OWNER,
        content: { membership: 'invite' },
      },
    ]);
    expect(state.get('m.room.name')).toEqual({
      type: 'm.room.name',
      stateKey: '',
      sender: OWNER,
      content: { name: 'Invited' },
      event: null,
    });
    expect(state.content('m.room.member', '@me:hs.test')).toEqual({ membership: 'invite' });
  });

  it('should look up state under the empty key and under others alike, and list it in order', () => {
    const first = stateEvent('m.room.name', '', OWNER, { name: 'First' });
    const keyed = stateEvent('m.room.name', 'other', OWNER, { name: 'Keyed' });
    const second = stateEvent('m.room.name', '', OWNER, { name: 'Second' });
    const state = StateIndex.fromEvents([first, member(OWNER, 'join'), keyed, second]);
    expect(state.get('m.room.name')?.event).toBe(second);
    expect(state.get('m.room.name', '')?.event).toBe(second);
    expect(state.get('m.room.name', 'other')?.event).toBe(keyed);
    expect(state.get('m.room.topic')).toBeNull();
    // A replaced entry keeps its place: the order the state was first seen in.
    expect(state.entries().map((entry) => entry.event)).toEqual([
      second,
      state.get('m.room.member', OWNER)?.event,
      keyed,
    ]);
  });
});
