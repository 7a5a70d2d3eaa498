import { describe, expect, it } from 'vitest';
import {
  getAccountData,
  getProfile,
  login,
  logout,
  setAccountData,
  setAvatarUrl,
  setDisplayName,
  whoami,
} from '../../src/matrix/account.ts';
import { MatrixApiError } from '../../src/matrix/errors.ts';
import { newUpstream, newUser, newUserClient } from '../support/homeserver.ts';

describe('matrix/account', () => {
  describe('whoami', () => {
    it('should name the owner of the token and its device', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'whoami');

      expect(await whoami(client)).toEqual({
        userId: user.userId,
        deviceId: user.deviceId,
        isGuest: false,
      });
    });

    it('should reject an unknown token with 401 M_UNKNOWN_TOKEN', async () => {
      await using upstream = newUpstream();

      const call = whoami(upstream.client('syt_not_a_real_token'));

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({
        status: 401,
        errcode: 'M_UNKNOWN_TOKEN',
        body: { soft_logout: false },
      });
    });

    it('should reject a call without a token with 401 M_MISSING_TOKEN', async () => {
      await using upstream = newUpstream();

      const call = whoami(upstream.client(null));

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 401, errcode: 'M_MISSING_TOKEN' });
    });
  });

  describe('login', () => {
    it('should log in with a full user ID and return a working token for a new device', async () => {
      await using upstream = newUpstream();
      const user = await newUser('login-full');

      const session = await login(upstream.client(null), {
        user: user.userId,
        password: user.password,
        initialDeviceDisplayName: 'integration test',
      });

      expect(session).toMatchObject({ userId: user.userId, expiresInMs: null });
      expect(session.deviceId).not.toBe(user.deviceId);
      expect(session.accessToken).not.toBe(user.accessToken);
      expect(await whoami(upstream.client(session.accessToken))).toEqual({
        userId: user.userId,
        deviceId: session.deviceId,
        isGuest: false,
      });
    });

    it('should log in with the localpart alone onto the device it names', async () => {
      await using upstream = newUpstream();
      const user = await newUser('login-local');

      const session = await login(upstream.client(null), {
        user: user.localpart,
        password: user.password,
        deviceId: 'CHOSENDEVICE',
      });

      expect(session).toMatchObject({ userId: user.userId, deviceId: 'CHOSENDEVICE' });
      expect(await whoami(upstream.client(session.accessToken))).toMatchObject({
        userId: user.userId,
        deviceId: 'CHOSENDEVICE',
      });
    });

    it('should refuse a wrong password with 403 M_FORBIDDEN', async () => {
      await using upstream = newUpstream();
      const user = await newUser('login-wrong');

      const call = login(upstream.client(null), {
        user: user.userId,
        password: 'not-the-password',
      });

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
    });
  });

  describe('logout', () => {
    it('should invalidate only the token it is called with', async () => {
      await using upstream = newUpstream();
      const user = await newUser('logout');
      const session = await login(upstream.client(null), {
        user: user.userId,
        password: user.password,
      });
      const loggedOut = upstream.client(session.accessToken);

      await logout(loggedOut);

      await expect(whoami(loggedOut)).rejects.toMatchObject({
        status: 401,
        errcode: 'M_UNKNOWN_TOKEN',
      });
      expect(await whoami(upstream.client(user.accessToken))).toMatchObject({
        userId: user.userId,
      });
    });
  });

  describe('profile', () => {
    it('should show the localpart, then the changed display name and avatar, to other users', async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'profile-alice'),
        newUserClient(upstream, 'profile-bob'),
      ]);
      expect(await getProfile(bob.client, alice.user.userId)).toEqual({
        displayName: alice.user.localpart,
        avatarUrl: null,
      });

      await setDisplayName(alice.client, alice.user.userId, 'Alice Liddell');
      await setAvatarUrl(alice.client, alice.user.userId, 'mxc://localhost/abc');

      expect(await getProfile(bob.client, alice.user.userId)).toEqual({
        displayName: 'Alice Liddell',
        avatarUrl: 'mxc://localhost/abc',
      });
    });

    it("should refuse to set another user's display name with 400 M_FORBIDDEN", async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'profile-victim'),
        newUserClient(upstream, 'profile-intruder'),
      ]);

      // Synapse answers 400, not the 403 the errcode suggests.
      const call = setDisplayName(bob.client, alice.user.userId, 'Mallory');

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 400, errcode: 'M_FORBIDDEN' });
      expect(await getProfile(alice.client, alice.user.userId)).toMatchObject({
        displayName: alice.user.localpart,
      });
    });

    it('should answer 404 for the profile of a user who does not exist', async () => {
      await using upstream = newUpstream();
      const { client } = await newUserClient(upstream, 'profile-ghost');

      // The spec's example says M_NOT_FOUND; Synapse 1.160 sends M_UNKNOWN ("No row found").
      const call = getProfile(client, '@nobody-at-all:localhost');

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 404, errcode: 'M_UNKNOWN' });
    });
  });

  describe('account data', () => {
    it('should return null for an absent type, then what was stored, then its replacement', async () => {
      await using upstream = newUpstream();
      const { user, client } = await newUserClient(upstream, 'account-data');

      expect(await getAccountData(client, user.userId, 'm.direct')).toBeNull();

      await setAccountData(client, user.userId, 'm.direct', {
        '@friend:localhost': ['!one:localhost'],
      });
      expect(await getAccountData(client, user.userId, 'm.direct')).toEqual({
        '@friend:localhost': ['!one:localhost'],
      });

      await setAccountData(client, user.userId, 'm.direct', {
        '@other:localhost': ['!two:localhost', '!three:localhost'],
      });
      expect(await getAccountData(client, user.userId, 'm.direct')).toEqual({
        '@other:localhost': ['!two:localhost', '!three:localhost'],
      });
    });

    it("should refuse to read another user's account data with 403 M_FORBIDDEN", async () => {
      await using upstream = newUpstream();
      const [alice, bob] = await Promise.all([
        newUserClient(upstream, 'account-data-owner'),
        newUserClient(upstream, 'account-data-snoop'),
      ]);

      const call = getAccountData(bob.client, alice.user.userId, 'm.direct');

      await expect(call).rejects.toBeInstanceOf(MatrixApiError);
      await expect(call).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
    });
  });
});
