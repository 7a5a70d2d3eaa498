/**
 * How a token is named in Redis: by a keyed hash, never by itself. Every instance derives the same
 * key from the shared `CURSOR_SECRET`, so all of them name a token alike, while someone reading
 * Redis (or its traffic) learns nothing they could send to the homeserver.
 */
import { createHmac, hkdfSync } from 'node:crypto';

/** Names tokens for Redis keys and channels: 32 hex characters (128 bits of HMAC-SHA256). */
export type TokenKey = (accessToken: string) => string;

/** A {@link TokenKey} keyed by `secret`, through a key of its own (not the cursors' key itself). */
export function tokenKey(secret: string): TokenKey {
  const key = Buffer.from(hkdfSync('sha256', secret, 'matrix-facade', 'redis token names', 32));
  return (accessToken) =>
    createHmac('sha256', key).update(accessToken, 'utf8').digest('hex').slice(0, 32);
}
