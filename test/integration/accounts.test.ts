import { describe, expect, it } from 'vitest';
import { login } from '../../src/matrix/account.ts';
import { graphql } from '../generated/gql.ts';
// The AuthRequiredChallenge fragment the operations below spread.
import '../support/auth-required.ts';
import { startFacade } from '../support/facade.ts';
import { newUpstream, newUser } from '../support/homeserver.ts';

const ChangePassword = graphql(`
  mutation ChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input) {
      __typename
      ... on ChangePasswordPayload {
        changed
        clientMutationId
      }
      ...AuthRequiredChallenge
    }
  }
`);

const DeleteDevice = graphql(`
  mutation DeleteDevice($input: DeleteDeviceInput!) {
    deleteDevice(input: $input) {
      __typename
      ... on DeleteDevicePayload {
        deletedDeviceId
      }
      ...AuthRequiredChallenge
    }
  }
`);

const ViewerAccount = graphql(`
  query ViewerAccount {
    viewer {
      deviceId
      devices {
        deviceId
        displayName
        lastSeenIp
        lastSeenAt
      }
      threepids {
        medium
        address
        validatedAt
        addedAt
      }
    }
  }
`);

describe('changePassword', () => {
  it('should ask for the password stage, then change the password with it', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const alice = await newUser('alice');
    const first = await facade.graphql(ChangePassword, {
      token: alice.accessToken,
      variables: { input: { newPassword: 'new-secret-1', clientMutationId: 'c1' } },
    });
    expect(first.errors).toBeUndefined();
    const challenge = first.data?.changePassword;
    expect(challenge).toMatchObject({
      __typename: 'AuthRequired',
      session: expect.any(String),
      completed: [],
      params: expect.any(Object),
      clientMutationId: 'c1',
    });
    if (challenge?.__typename !== 'AuthRequired') {
      throw new Error('expected AuthRequired');
    }
    expect(challenge.flows).toContainEqual({ stages: ['m.login.password'] });

    const second = await facade.graphql(ChangePassword, {
      token: alice.accessToken,
      variables: {
        input: {
          newPassword: 'new-secret-1',
          logoutDevices: false,
          auth: { type: 'm.login.password', session: challenge.session, password: alice.password },
          clientMutationId: 'c2',
        },
      },
    });
    expect(second.errors).toBeUndefined();
    expect(second.data?.changePassword).toEqual({
      __typename: 'ChangePasswordPayload',
      changed: true,
      clientMutationId: 'c2',
    });

    const anonymous = upstream.client(null);
    await expect(
      login(anonymous, { user: alice.userId, password: alice.password }),
    ).rejects.toMatchObject({ status: 403, errcode: 'M_FORBIDDEN' });
    const fresh = await login(anonymous, { user: alice.userId, password: 'new-secret-1' });
    expect(fresh.userId).toBe(alice.userId);
  });

  it('should refuse a wrong password as FORBIDDEN with M_FORBIDDEN and change nothing', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const bob = await newUser('bob');
    const first = await facade.graphql(ChangePassword, {
      token: bob.accessToken,
      variables: { input: { newPassword: 'never-set' } },
    });
    const challenge = first.data?.changePassword;
    if (challenge?.__typename !== 'AuthRequired') {
      throw new Error('expected AuthRequired');
    }
    const wrong = await facade.graphql(ChangePassword, {
      token: bob.accessToken,
      variables: {
        input: {
          newPassword: 'never-set',
          auth: { type: 'm.login.password', session: challenge.session, password: 'wrong' },
        },
      },
    });
    expect(wrong.data?.changePassword).toBeNull();
    expect(wrong.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      matrix: { errcode: 'M_FORBIDDEN' },
    });
    expect(wrong.errors?.[0]?.path).toEqual(['changePassword']);
    // The old password still works.
    const still = await login(upstream.client(null), { user: bob.userId, password: bob.password });
    expect(still.userId).toBe(bob.userId);
  });

  it('should refuse an empty new password before any upstream call', async () => {
    await using facade = startFacade();
    const carol = await newUser('carol');
    const result = await facade.graphql(ChangePassword, {
      token: carol.accessToken,
      variables: { input: { newPassword: '' } },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'newPassword',
    });
    expect(facade.upstream.requests).toEqual([]);
  });
});

const ViewerDevice = graphql(`
  query ViewerDevice {
    viewer {
      deviceId
    }
  }
`);

describe('changePassword and the other sessions', () => {
  it.each([
    { logoutDevices: undefined, othersKept: false },
    { logoutDevices: true, othersKept: false },
    { logoutDevices: false, othersKept: true },
  ])(
    'should keep the caller’s token, and the others’ only when asked (logoutDevices: $logoutDevices)',
    async ({ logoutDevices, othersKept }) => {
      await using facade = startFacade();
      await using upstream = newUpstream();
      const frank = await newUser('frank');
      const other = await login(upstream.client(null), {
        user: frank.userId,
        password: frank.password,
      });
      // Used once before: a token the facade saw accepted a moment ago must still be checked.
      const before = await facade.graphql(ViewerDevice, { token: other.accessToken });
      expect(before.data?.viewer.deviceId).toBe(other.deviceId);
      const input = {
        newPassword: 'rotated-secret',
        ...(logoutDevices === undefined ? {} : { logoutDevices }),
      };
      const first = await facade.graphql(ChangePassword, {
        token: frank.accessToken,
        variables: { input },
      });
      const challenge = first.data?.changePassword;
      if (challenge?.__typename !== 'AuthRequired') {
        throw new Error('expected AuthRequired');
      }
      const changed = await facade.graphql(ChangePassword, {
        token: frank.accessToken,
        variables: {
          input: {
            ...input,
            auth: {
              type: 'm.login.password',
              session: challenge.session,
              password: frank.password,
            },
          },
        },
      });
      expect(changed.errors).toBeUndefined();
      expect(changed.data?.changePassword).toMatchObject({ changed: true });

      const own = await facade.graphql(ViewerDevice, { token: frank.accessToken });
      expect(own.errors).toBeUndefined();
      expect(own.data?.viewer.deviceId).toBe(frank.deviceId);
      const others = await facade.graphql(ViewerDevice, { token: other.accessToken });
      if (othersKept) {
        expect(others.errors).toBeUndefined();
        expect(others.data?.viewer.deviceId).toBe(other.deviceId);
      } else {
        expect(others.data?.viewer ?? null).toBeNull();
        expect(others.errors?.[0]?.extensions).toMatchObject({
          code: 'UNAUTHENTICATED',
          matrix: { errcode: 'M_UNKNOWN_TOKEN' },
        });
      }
    },
  );
});

describe('viewer.devices and viewer.threepids', () => {
  it('should list the devices of the account and no threepids', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const dave = await newUser('dave');
    const second = await login(upstream.client(null), {
      user: dave.userId,
      password: dave.password,
      initialDeviceDisplayName: 'Dave’s laptop',
    });
    const result = await facade.graphql(ViewerAccount, { token: dave.accessToken });
    expect(result.errors).toBeUndefined();
    const viewer = result.data?.viewer;
    expect(viewer?.threepids).toEqual([]);
    const ids = viewer?.devices.map((device) => device.deviceId);
    expect(ids).toEqual(expect.arrayContaining([dave.deviceId, second.deviceId]));
    expect(viewer?.devices.find((device) => device.deviceId === second.deviceId)).toMatchObject({
      displayName: 'Dave’s laptop',
    });
  });
});

describe('deleteDevice', () => {
  it('should delete a device of a second login after the password stage', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const erin = await newUser('erin');
    const second = await login(upstream.client(null), {
      user: erin.userId,
      password: erin.password,
    });

    const first = await facade.graphql(DeleteDevice, {
      token: erin.accessToken,
      variables: { input: { deviceId: second.deviceId } },
    });
    expect(first.errors).toBeUndefined();
    const challenge = first.data?.deleteDevice;
    if (challenge?.__typename !== 'AuthRequired') {
      throw new Error('expected AuthRequired');
    }
    expect(challenge.flows).toContainEqual({ stages: ['m.login.password'] });

    const done = await facade.graphql(DeleteDevice, {
      token: erin.accessToken,
      variables: {
        input: {
          deviceId: second.deviceId,
          auth: { type: 'm.login.password', session: challenge.session, password: erin.password },
        },
      },
    });
    expect(done.errors).toBeUndefined();
    expect(done.data?.deleteDevice).toEqual({
      __typename: 'DeleteDevicePayload',
      deletedDeviceId: second.deviceId,
    });

    const gone = await facade.graphql(ViewerAccount, { token: second.accessToken });
    expect(gone.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    const listed = await facade.graphql(ViewerAccount, { token: erin.accessToken });
    expect(listed.data?.viewer.devices.map((device) => device.deviceId)).not.toContain(
      second.deviceId,
    );
  });
});
