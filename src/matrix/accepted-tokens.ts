/**
 * Which access tokens the homeserver accepted a moment ago. A request whose token nobody has
 * checked sends its first call alone and holds the others until it is answered, so that a
 * refused token costs one upstream call rather than one per field (MatrixClient's
 * `awaitFirstAnswer`); that costs every such request a round trip before its calls can run in
 * parallel (a room page's state and timeline, one after the other). A token the homeserver
 * accepted within the last minute is very likely still good: its requests skip the wait. If it
 * was revoked meanwhile, its next request sends its parallel calls and each is refused (bounded
 * by the request's upstream budget), and the token is forgotten at the first refusal.
 */
import { LRUCache } from 'lru-cache';

/** How long an accepted token counts as good. */
export const ACCEPTED_TOKEN_TTL_MS = 60_000;

/** How many tokens are remembered; the least recently used go first. */
const MAX_TOKENS = 10_000;

export class AcceptedTokens {
  /** Keyed by the token itself, which never leaves this map (no iteration, no logging). */
  readonly #tokens = new LRUCache<string, { userId: string | null }>({
    max: MAX_TOKENS,
    ttl: ACCEPTED_TOKEN_TTL_MS,
  });

  /** The homeserver answered a call of `token` with anything but a refusal of the token. */
  accepted(token: string): void {
    this.#tokens.set(token, this.#tokens.get(token) ?? { userId: null });
  }

  /** `whoami` said whose `token` is (a token never changes hands). */
  identified(token: string, userId: string): void {
    this.#tokens.set(token, { userId });
  }

  /**
   * Whose `token` is, when the homeserver said so within {@link ACCEPTED_TOKEN_TTL_MS} of its last
   * accepted call. Only ever to read the answer of a call made with the token itself (a refused
   * token gets no answer to read): never a substitute for asking who the caller is.
   */
  userIdOf(token: string): string | null {
    return this.#tokens.get(token)?.userId ?? null;
  }

  /** The homeserver refused `token` (401), or its owner logged it out. */
  refused(token: string): void {
    this.#tokens.delete(token);
  }

  /** Whether the homeserver accepted `token` within {@link ACCEPTED_TOKEN_TTL_MS}. */
  isRecentlyAccepted(token: string): boolean {
    return this.#tokens.has(token);
  }

  toJSON(): object {
    return { size: this.#tokens.size };
  }
}
