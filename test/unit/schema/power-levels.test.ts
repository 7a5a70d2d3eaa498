import { describe, expect, it } from 'vitest';
import { powerLevelsFrom } from '../../../src/schema/power-levels.ts';
import type { StateEntry } from '../../../src/schema/state-index.ts';

const entry = (type: string, sender: string, content: Record<string, unknown>): StateEntry => ({
  type,
  stateKey: '',
  sender,
  content,
  event: null,
});
const create = entry('m.room.create', '@creator:hs', { room_version: '11' });

describe('powerLevelsFrom', () => {
  it("should apply the spec's defaults for keys the event leaves out", () => {
    const levels = powerLevelsFrom(entry('m.room.power_levels', '@creator:hs', {}), create);
    expect(levels).toMatchObject({
      usersDefault: 0,
      eventsDefault: 0,
      stateDefault: 50,
      ban: 50,
      kick: 50,
      invite: 0,
      redact: 50,
    });
    expect(levels.levelOf('@anyone:hs')).toBe(0);
  });

  it('should give the creator 100 and state 0 in a room without power levels', () => {
    const levels = powerLevelsFrom(null, create);
    expect(levels.levelOf('@creator:hs')).toBe(100);
    expect(levels.levelOf('@other:hs')).toBe(0);
    expect(levels.stateDefault).toBe(0);
  });

  it('should read string levels, ignore junk and clamp levels beyond 32 bits', () => {
    const levels = powerLevelsFrom(
      entry('m.room.power_levels', '@creator:hs', {
        users: { '@a:hs': '75', '@b:hs': 'high', '@c:hs': 2 ** 40, '@d:hs': -(2 ** 40) },
        kick: '60',
        ban: 1.5,
      }),
      create,
    );
    expect(levels.levelOf('@a:hs')).toBe(75);
    expect(levels.levelOf('@b:hs')).toBe(0);
    expect(levels.levelOf('@c:hs')).toBe(2 ** 31 - 1);
    expect(levels.levelOf('@d:hs')).toBe(-(2 ** 31));
    expect(levels.kick).toBe(60);
    expect(levels.ban).toBe(50);
  });
});
