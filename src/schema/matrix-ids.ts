/**
 * Checks Matrix identifiers before they reach the homeserver (spec appendix "Identifier
 * grammar"), so malformed input is a BAD_USER_INPUT error with no upstream call.
 */
import { facadeError } from './errors.ts';

const MAX_ID_LENGTH = 255;

/** Sigil, then no whitespace or control characters, within the spec's 255-byte bound. */
function isIdentifier(value: string, sigil: string, needsServer: boolean): boolean {
  if (!value.startsWith(sigil) || Buffer.byteLength(value) > MAX_ID_LENGTH || value.length < 2) {
    return false;
  }
  // Room IDs from room version 12 on carry no server name; user IDs and aliases always do.
  const pattern = needsServer ? /^.[^\s:]*:[^\s]+$/u : /^.[^\s]+$/u;
  // A lone surrogate (`\p{Cs}` in a Unicode regex) is no text: it cannot be encoded into a URL.
  return (
    pattern.test(value) &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    !/[\u0000-\u001f\u007f]/u.test(value) &&
    !/\p{Cs}/u.test(value)
  );
}

export function isRoomId(value: string): boolean {
  return isIdentifier(value, '!', false);
}

export function isRoomAlias(value: string): boolean {
  return isIdentifier(value, '#', true);
}

export function isUserId(value: string): boolean {
  return isIdentifier(value, '@', true);
}

export function isEventId(value: string): boolean {
  return isIdentifier(value, '$', false);
}

/** `value` when it is valid, else a BAD_USER_INPUT error naming `field`. */
export function requireRoomId(value: string, field: string): string {
  if (!isRoomId(value)) {
    throw invalid(field, value, 'a room ID like "!abc:example.org"');
  }
  return value;
}

export function requireUserId(value: string, field: string): string {
  if (!isUserId(value)) {
    throw invalid(field, value, 'a user ID like "@alice:example.org"');
  }
  return value;
}

export function requireEventId(value: string, field: string): string {
  if (!isEventId(value)) {
    throw invalid(field, value, 'an event ID like "$abc"');
  }
  return value;
}

/** A room alias, as `roomByAlias` and `joinRoom` take. */
export function requireRoomAlias(value: string, field: string): string {
  if (!isRoomAlias(value)) {
    throw invalid(field, value, 'a room alias like "#name:example.org"');
  }
  return value;
}

/** A room ID or alias. */
export function requireRoomIdOrAlias(value: string, field: string): string {
  if (!isRoomId(value) && !isRoomAlias(value)) {
    throw invalid(field, value, 'a room ID ("!abc:example.org") or alias ("#name:example.org")');
  }
  return value;
}

function invalid(field: string, value: string, expected: string) {
  return facadeError('BAD_USER_INPUT', `${field}: "${value.slice(0, 64)}" is not ${expected}.`, {
    extensions: { field },
  });
}
