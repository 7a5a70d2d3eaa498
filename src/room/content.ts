/**
 * Readers of event content. Content is whatever the sender put there (and redaction strips most of
 * it), so every key is read defensively: a value of the wrong type reads as absent, never as a
 * cast.
 */
import type { JsonObject } from '../matrix/events.ts';

/** Whether `value` is a JSON object: not `null`, not an array. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `content[key]` when it is a string, else `null`. */
export function stringIn(content: JsonObject, key: string): string | null {
  const value = content[key];
  return typeof value === 'string' ? value : null;
}

/** `content[key]` when it is an object (not an array), else `null`. */
export function objectIn(content: JsonObject, key: string): JsonObject | null {
  const value = content[key];
  return isJsonObject(value) ? value : null;
}

/** The strings of the array `content[key]`; empty when it is no array. */
export function stringsIn(content: JsonObject, key: string): string[] {
  return stringArray(content[key]);
}

/** The string items of `value` when it is an array (other items are dropped), else empty. */
export function stringArray(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}
