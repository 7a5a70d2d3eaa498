import { describe, expect, it } from 'vitest';
import {
  GUEST_ACCESSES,
  HISTORY_VISIBILITIES,
  JOIN_RULES,
  knownValue,
} from '../../../src/room/room-settings.ts';

describe('knownValue', () => {
  it('should keep every value the spec defines', () => {
    // m.room.join_rules.yaml, m.room.history_visibility.yaml, m.room.guest_access.yaml
    expect(JOIN_RULES.map((rule) => knownValue(JOIN_RULES, rule))).toEqual([...JOIN_RULES]);
    expect(knownValue(HISTORY_VISIBILITIES, 'world_readable')).toBe('world_readable');
    expect(knownValue(GUEST_ACCESSES, 'can_join')).toBe('can_join');
  });

  it('should answer null for an absent value or one the spec does not define', () => {
    expect(knownValue(JOIN_RULES, null)).toBeNull();
    expect(knownValue(JOIN_RULES, 'Public')).toBeNull();
    expect(knownValue(HISTORY_VISIBILITIES, 'everyone')).toBeNull();
  });
});
