import { describe, expect, it } from 'vitest';
import { AcceptedTokens } from '../../../src/matrix/accepted-tokens.ts';

describe('AcceptedTokens', () => {
  it('should remember whose token is while its calls keep being accepted, and forget it when refused', () => {
    const tokens = new AcceptedTokens();
    expect(tokens.userIdOf('t')).toBeNull();
    tokens.accepted('t');
    expect(tokens.isRecentlyAccepted('t')).toBe(true);
    expect(tokens.userIdOf('t')).toBeNull();
    tokens.identified('t', '@alice:hs.test');
    // A later accepted call keeps what whoami said.
    tokens.accepted('t');
    expect(tokens.userIdOf('t')).toBe('@alice:hs.test');
    expect(tokens.userIdOf('other')).toBeNull();
    tokens.refused('t');
    expect(tokens.isRecentlyAccepted('t')).toBe(false);
    expect(tokens.userIdOf('t')).toBeNull();
  });
});
