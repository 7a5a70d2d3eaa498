import { describe, expect, it } from 'vitest';
import {
  isJsonObject,
  objectIn,
  stringArray,
  stringIn,
  stringsIn,
} from '../../../src/room/content.ts';

// Content is whatever the sender sent (and redaction strips most of it): a key of the wrong type
// reads as absent.
const content = {
  body: 'hello',
  count: 3,
  aliases: ['#a:hs.test', 7, null, '#b:hs.test'],
  predecessor: { room_id: '!old:hs.test' },
  list: ['not', 'an', 'object'],
  nothing: null,
};

describe('stringIn', () => {
  it('should read a string and nothing else', () => {
    expect(stringIn(content, 'body')).toBe('hello');
    expect(stringIn(content, 'count')).toBeNull();
    expect(stringIn(content, 'nothing')).toBeNull();
    expect(stringIn(content, 'absent')).toBeNull();
  });
});

describe('stringsIn', () => {
  it('should keep the strings of an array and drop other items', () => {
    expect(stringsIn(content, 'aliases')).toEqual(['#a:hs.test', '#b:hs.test']);
  });

  it('should read a non-array as empty', () => {
    expect(stringsIn(content, 'body')).toEqual([]);
    expect(stringsIn(content, 'absent')).toEqual([]);
  });
});

describe('objectIn', () => {
  it('should read an object, but not an array or null', () => {
    expect(objectIn(content, 'predecessor')).toEqual({ room_id: '!old:hs.test' });
    expect(objectIn(content, 'list')).toBeNull();
    expect(objectIn(content, 'nothing')).toBeNull();
    expect(objectIn(content, 'body')).toBeNull();
  });
});

describe('isJsonObject', () => {
  it('should accept plain objects only', () => {
    expect(isJsonObject({})).toBe(true);
    expect(isJsonObject([])).toBe(false);
    expect(isJsonObject(null)).toBe(false);
    expect(isJsonObject('{}')).toBe(false);
  });
});

describe('stringArray', () => {
  it('should keep the strings of an array, and read anything else as empty', () => {
    expect(stringArray(['@a:hs.test', 1, '@b:hs.test'])).toEqual(['@a:hs.test', '@b:hs.test']);
    expect(stringArray('@a:hs.test')).toEqual([]);
    expect(stringArray(undefined)).toEqual([]);
  });
});
