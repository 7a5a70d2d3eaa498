import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../../src/sync/recent-ids.ts';

describe('RecentIds', () => {
  it('should forget the oldest ID once full', () => {
    const ids = new RecentIds(3);
    for (const id of ['a', 'b', 'c', 'd']) {
      ids.remember(id);
    }
    expect(['a', 'b', 'c', 'd'].map((id) => ids.has(id))).toEqual([false, true, true, true]);
    expect(ids.size).toBe(3);
  });

  it('should refresh an ID remembered again, so the next one forgotten is older', () => {
    const ids = new RecentIds(2);
    ids.remember('a');
    ids.remember('b');
    ids.remember('a');
    ids.remember('c');
    expect(ids.has('a')).toBe(true);
    expect(ids.has('b')).toBe(false);
  });

  it('should refuse a capacity below one', () => {
    expect(() => new RecentIds(0)).toThrow(RangeError);
  });
});
