import { describe, expect, it } from 'vitest';
import { tagsFrom, tagsIn } from '../../../src/matrix/tags.ts';

describe('tagsFrom', () => {
  it('should read names and orders, sorted by name, dropping orders that are not numbers', () => {
    expect(
      tagsFrom({
        tags: { 'u.work': {}, 'm.favourite': { order: 0.5 }, 'm.lowpriority': { order: 'x' } },
      }),
    ).toEqual([
      { name: 'm.favourite', order: 0.5 },
      { name: 'm.lowpriority', order: null },
      { name: 'u.work', order: null },
    ]);
  });

  it('should read a missing or malformed content as no tags', () => {
    expect(tagsFrom(null)).toEqual([]);
    expect(tagsFrom({})).toEqual([]);
    expect(tagsFrom({ tags: ['m.favourite'] })).toEqual([]);
  });
});

describe('tagsIn', () => {
  it('should read the last m.tag among a room’s account data, none without one', () => {
    expect(
      tagsIn([
        { type: 'm.tag', content: { tags: { 'u.old': {} } } },
        { type: 'm.fully_read', content: { event_id: '$e' } },
        { type: 'm.tag', content: { tags: { 'm.lowpriority': { order: 1 } } } },
      ]),
    ).toEqual([{ name: 'm.lowpriority', order: 1 }]);
    expect(tagsIn([{ type: 'm.fully_read', content: {} }])).toEqual([]);
  });
});
