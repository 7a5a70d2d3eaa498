import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  MAX_EVENT_TYPE_BYTES,
  RESERVED_EVENT_TYPES,
  RESERVED_STATE_TYPES,
  requireContent,
  requireEventType,
  requireStateKey,
} from '../../../src/schema/custom-events.ts';
import { altAliasesInput, MAX_ALT_ALIASES } from '../../../src/schema/room-aliases.ts';

/** The extensions of the error `run` throws, or `undefined` when it throws none. */
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as { extensions?: { code?: string; field?: string } }).extensions;
  }
  return undefined;
};

describe('canonicalJson', () => {
  it('should sort keys at every depth and keep arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    expect(canonicalJson({ a: 'é"' })).toBe(JSON.stringify({ a: 'é"' }));
  });
});

describe('requireEventType', () => {
  it('should accept namespaced types of up to 255 bytes', () => {
    expect(requireEventType('com.example.ping', RESERVED_EVENT_TYPES)).toBe('com.example.ping');
    expect(requireEventType('m.room.member', RESERVED_EVENT_TYPES)).toBe('m.room.member');
    const longest = 'a'.repeat(MAX_EVENT_TYPE_BYTES);
    expect(requireEventType(longest, RESERVED_EVENT_TYPES)).toBe(longest);
  });

  it.each([
    ['empty', ''],
    ['over 255 bytes', 'é'.repeat(128)],
    ['with a space', 'com.example ping'],
    ['with a newline', 'com.example\nping'],
    ['with a control character', 'com.example\u0001'],
    ['with a lone surrogate', 'com.\ud800'],
  ])('should refuse a type %s', (_name, type) => {
    expect(refusal(() => requireEventType(type, {}))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'type',
    });
  });

  it('should refuse the reserved types, naming the mutation to use', () => {
    expect(refusal(() => requireEventType('m.room.redaction', RESERVED_EVENT_TYPES))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'type',
    });
    expect(() => requireEventType('m.room.member', RESERVED_STATE_TYPES)).toThrow(/joinRoom/);
    expect(() => requireEventType('m.room.create', RESERVED_STATE_TYPES)).toThrow(/createRoom/);
  });
});

describe('requireStateKey and requireContent', () => {
  it('should accept empty and user-ID state keys, refuse long ones and lone surrogates', () => {
    expect(requireStateKey('')).toBe('');
    expect(requireStateKey('@alice:example.org')).toBe('@alice:example.org');
    expect(refusal(() => requireStateKey('k'.repeat(256)))).toMatchObject({ field: 'stateKey' });
    expect(refusal(() => requireStateKey('\udc00'))).toMatchObject({ field: 'stateKey' });
  });

  it('should refuse content over the limit', () => {
    expect(requireContent({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(refusal(() => requireContent({ x: 'x'.repeat(60_000) }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'content',
    });
  });
});

describe('altAliasesInput', () => {
  it('should keep null, drop duplicates and refuse non-aliases or too many', () => {
    expect(altAliasesInput(null)).toBeNull();
    expect(altAliasesInput(undefined)).toBeNull();
    expect(altAliasesInput([])).toEqual([]);
    expect(altAliasesInput(['#a:x.org', '#b:x.org', '#a:x.org'])).toEqual(['#a:x.org', '#b:x.org']);
    expect(refusal(() => altAliasesInput(['#a:x.org', '!room:x.org']))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'altAliases',
    });
    const many = Array.from({ length: MAX_ALT_ALIASES + 1 }, (_, index) => `#a${index}:x.org`);
    expect(refusal(() => altAliasesInput(many))).toMatchObject({ field: 'altAliases' });
  });
});
