import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { getProfile } from '../../src/matrix/account.ts';
import { absentAsNull } from '../../src/matrix/policy.ts';
import { createRoom, inviteUser, joinRoom } from '../../src/matrix/rooms.ts';
import {
  MAX_AVATAR_URL_BYTES,
  MAX_PROFILE_DISPLAY_NAME_BYTES,
} from '../../src/schema/profile-mutations.ts';
import { graphql } from '../generated/gql.ts';
import { startFacade } from '../support/facade.ts';
import { homeserver, newUpstream, newUserClient } from '../support/homeserver.ts';

const SetDisplayName = graphql(`
  mutation SetDisplayName($input: SetDisplayNameInput!) {
    setDisplayName(input: $input) {
      clientMutationId
      user {
        id
        displayName
      }
    }
  }
`);

const SetAvatarUrl = graphql(`
  mutation SetAvatarUrl($input: SetAvatarUrlInput!) {
    setAvatarUrl(input: $input) {
      clientMutationId
      user {
        id
        avatarUrl
      }
    }
  }
`);

const JoinedMembers = graphql(`
  query ProfileJoinedMembers($id: ID!) {
    room(id: $id) {
      members(membership: JOIN) {
        edges {
          node {
            user {
              id
            }
            displayName
            avatarUrl
          }
        }
      }
    }
  }
`);

/** How long the homeserver may take to copy a profile change into every member event. */
const PROPAGATION = { timeout: 10_000, interval: 50 };

describe('setDisplayName', () => {
  it("should set the name, and the homeserver should copy it into the viewer's member event in every joined room", async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'named');
    const other = await newUserClient(upstream, 'host');
    const own = await createRoom(client, { preset: 'private_chat' });
    const theirs = await createRoom(other.client, { preset: 'private_chat' });
    await inviteUser(other.client, theirs.roomId, user.userId);
    await joinRoom(client, theirs.roomId);
    const displayName = `Named ${randomUUID().slice(0, 8)}`;

    const set = await facade.graphql(SetDisplayName, {
      token: user.accessToken,
      variables: { input: { displayName: `  ${displayName} `, clientMutationId: 'n1' } },
    });
    expect(set.errors).toBeUndefined();
    expect(set.data?.setDisplayName).toEqual({
      clientMutationId: 'n1',
      user: { id: user.userId, displayName },
    });
    expect(facade.upstream.requests).toEqual([
      'GET /_matrix/client/v3/account/whoami',
      `PUT /_matrix/client/v3/profile/${encodeURIComponent(user.userId)}/displayname`,
      `GET /_matrix/client/v3/profile/${encodeURIComponent(user.userId)}`,
    ]);
    expect((await getProfile(client, user.userId)).displayName).toBe(displayName);

    for (const roomId of [own.roomId, theirs.roomId]) {
      await vi.waitFor(async () => {
        const read = await facade.graphql(JoinedMembers, {
          token: user.accessToken,
          variables: { id: roomId },
        });
        expect(read.errors).toBeUndefined();
        const viewer = read.data?.room?.members?.edges.find(
          (edge) => edge.node.user.id === user.userId,
        );
        expect(viewer?.node.displayName).toBe(displayName);
      }, PROPAGATION);
    }
  });

  it('should remove the name when given null or a blank string', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'cleared');
    await facade.graphql(SetDisplayName, {
      token: user.accessToken,
      variables: { input: { displayName: 'Temporary' } },
    });
    expect((await getProfile(client, user.userId)).displayName).toBe('Temporary');

    for (const displayName of [null, '   ']) {
      facade.upstream.reset();
      const cleared = await facade.graphql(SetDisplayName, {
        token: user.accessToken,
        variables: { input: { displayName } },
      });
      expect(cleared.errors).toBeUndefined();
      expect(cleared.data?.setDisplayName?.user).toEqual({ id: user.userId, displayName: null });
      expect(facade.upstream.requests[1]).toBe(
        `DELETE /_matrix/client/v3/profile/${encodeURIComponent(user.userId)}/displayname`,
      );
      // Synapse answers 404 for a profile with no field left (the avatar was never set).
      expect((await absentAsNull(getProfile(client, user.userId)))?.displayName ?? null).toBeNull();
    }
  });

  it('should refuse a name over the limit before any upstream call', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user } = await newUserClient(upstream, 'long');
    const refused = await facade.graphql(SetDisplayName, {
      token: user.accessToken,
      variables: { input: { displayName: 'é'.repeat(MAX_PROFILE_DISPLAY_NAME_BYTES / 2 + 1) } },
    });
    expect(refused.data?.setDisplayName).toBeNull();
    expect(refused.errors?.[0]).toMatchObject({
      path: ['setDisplayName'],
      extensions: { code: 'BAD_USER_INPUT', field: 'displayName' },
    });
    expect(facade.upstream.requests).toEqual([]);
  });
});

describe('setAvatarUrl', () => {
  it('should set and remove the avatar, and the member events should follow', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user, client } = await newUserClient(upstream, 'avatar');
    const { roomId } = await createRoom(client, { preset: 'private_chat' });
    const url = `mxc://${homeserver().serverName}/${randomUUID().replaceAll('-', '')}`;

    const set = await facade.graphql(SetAvatarUrl, {
      token: user.accessToken,
      variables: { input: { url, clientMutationId: 'a1' } },
    });
    expect(set.errors).toBeUndefined();
    expect(set.data?.setAvatarUrl).toEqual({
      clientMutationId: 'a1',
      user: { id: user.userId, avatarUrl: url },
    });
    expect(facade.upstream.requests.slice(0, 2)).toEqual([
      'GET /_matrix/client/v3/account/whoami',
      `PUT /_matrix/client/v3/profile/${encodeURIComponent(user.userId)}/avatar_url`,
    ]);
    expect((await getProfile(client, user.userId)).avatarUrl).toBe(url);
    await vi.waitFor(async () => {
      const read = await facade.graphql(JoinedMembers, {
        token: user.accessToken,
        variables: { id: roomId },
      });
      expect(read.data?.room?.members?.edges[0]?.node.avatarUrl).toBe(url);
    }, PROPAGATION);

    const cleared = await facade.graphql(SetAvatarUrl, {
      token: user.accessToken,
      variables: { input: {} },
    });
    expect(cleared.errors).toBeUndefined();
    expect(cleared.data?.setAvatarUrl?.user).toEqual({ id: user.userId, avatarUrl: null });
    expect((await getProfile(client, user.userId)).avatarUrl).toBeNull();
  });

  it('should refuse anything but an mxc:// URI before any upstream call', async () => {
    await using facade = startFacade();
    await using upstream = newUpstream();
    const { user } = await newUserClient(upstream, 'avatar');
    for (const url of [
      'https://example.org/me.png',
      `mxc://${homeserver().serverName}/${'a'.repeat(MAX_AVATAR_URL_BYTES)}`,
    ]) {
      const refused = await facade.graphql(SetAvatarUrl, {
        token: user.accessToken,
        variables: { input: { url } },
      });
      expect(refused.data?.setAvatarUrl).toBeNull();
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'url',
      });
    }
    expect(facade.upstream.requests).toEqual([]);
  });

  it('should need an access token', async () => {
    await using facade = startFacade();
    const refused = await facade.graphql(SetAvatarUrl, {
      variables: { input: { url: 'mxc://example.org/abc' } },
    });
    expect(refused.data?.setAvatarUrl).toBeNull();
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(facade.upstream.requests).toEqual([]);
  });
});
