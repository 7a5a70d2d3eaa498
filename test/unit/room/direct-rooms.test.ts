import { describe, expect, it } from 'vitest';
import { directMapFrom, findDirectRoom } from '../../../src/room/direct-rooms.ts';

// event-schemas/schema/m.direct.yaml: user ID → list of room IDs.
const BOB = '@bob:hs.test';

describe('directMapFrom', () => {
  it('should read user ID → room IDs, dropping what is not a list of strings', () => {
    expect(
      directMapFrom({
        [BOB]: ['!a:hs.test', 7, '!b:hs.test'],
        '@carol:hs.test': '!c:hs.test',
        '@dave:hs.test': [],
      }),
    ).toEqual(
      new Map([
        [BOB, ['!a:hs.test', '!b:hs.test']],
        ['@dave:hs.test', []],
      ]),
    );
  });

  it('should be empty without the account data', () => {
    expect(directMapFrom(null)).toEqual(new Map());
  });
});

describe('findDirectRoom', () => {
  const direct = new Map([[BOB, ['!old:hs.test', '!middle:hs.test', '!newest:hs.test']]]);

  it('should pick the newest listed room the viewer is joined to or invited to', () => {
    expect(
      findDirectRoom(direct, BOB, [
        { roomId: '!old:hs.test', membership: 'join' },
        { roomId: '!middle:hs.test', membership: 'invite' },
        { roomId: '!newest:hs.test', membership: 'leave' },
      ]),
    ).toBe('!middle:hs.test');
  });

  it('should skip rooms the viewer left, was banned from or only knocked on', () => {
    expect(
      findDirectRoom(direct, BOB, [
        { roomId: '!old:hs.test', membership: 'ban' },
        { roomId: '!middle:hs.test', membership: 'knock' },
        { roomId: '!newest:hs.test', membership: 'leave' },
      ]),
    ).toBeNull();
  });

  it('should find nothing for a user without direct rooms, or a room not in the list', () => {
    expect(
      findDirectRoom(direct, '@carol:hs.test', [{ roomId: '!old:hs.test', membership: 'join' }]),
    ).toBeNull();
    expect(
      findDirectRoom(direct, BOB, [{ roomId: '!other:hs.test', membership: 'join' }]),
    ).toBeNull();
  });
});
