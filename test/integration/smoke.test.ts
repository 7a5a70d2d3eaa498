import { describe, expect, it } from 'vitest';
import { whoami } from '../../src/matrix/account.ts';
import { newUpstream, newUserClient } from '../support/homeserver.ts';

describe('homeserver harness', () => {
  it('should register a user that the homeserver recognises', async () => {
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'smoke');
    expect(await whoami(client)).toEqual({
      userId: user.userId,
      deviceId: user.deviceId,
      isGuest: false,
    });
  });
});
