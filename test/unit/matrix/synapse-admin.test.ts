/**
 * The Synapse Admin API client on the wire, with an undici MockAgent scripted with the answers the
 * real Synapse 1.160 gave (the integration tests meet the real one).
 */
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { MatrixApiError } from '../../../src/matrix/errors.ts';
import { Upstream } from '../../../src/matrix/http.ts';
import {
  adminPath,
  deleteRoomAndWait,
  getRoomDetails,
  isServerAdmin,
  RoomDeletionError,
} from '../../../src/matrix/synapse-admin.ts';

const origin = 'http://hs.test';
const roomId = '!room:hs.test';
const encodedRoom = encodeURIComponent(roomId);

type Reply = { statusCode: number; data: object };

/**
 * An Upstream whose homeserver answers each `METHOD path` from its script, in order (the last
 * answer repeats), and records every request.
 */
function scriptedUpstream(script: Record<string, Reply[]>) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const sent: string[] = [];
  const bodies: unknown[] = [];
  const served = new Map<string, number>();
  agent
    .get(origin)
    .intercept({ path: () => true, method: () => true })
    .reply((options) => {
      const key = `${options.method} ${options.path}`;
      sent.push(key);
      bodies.push(typeof options.body === 'string' ? JSON.parse(options.body) : null);
      const replies = script[key] ?? [{ statusCode: 404, data: { errcode: 'M_UNRECOGNIZED' } }];
      const index = served.get(key) ?? 0;
      served.set(key, index + 1);
      const reply = replies[Math.min(index, replies.length - 1)] as Reply;
      return { ...reply, responseOptions: { headers: { 'content-type': 'application/json' } } };
    })
    .persist();
  // No retries: each scripted answer is seen exactly once.
  const upstream = new Upstream({
    homeserverUrl: origin,
    dispatcher: agent,
    retry: { maxAttempts: 1 },
  });
  return {
    upstream,
    client: upstream.client('token'),
    sent,
    bodies,
    async [Symbol.asyncDispose]() {
      await agent.close();
    },
  };
}

const notAdmin: Reply = {
  statusCode: 403,
  data: { errcode: 'M_FORBIDDEN', error: 'You are not a server admin' },
};
const task = (status: string, extra: object = {}): Reply => ({
  statusCode: 200,
  data: { delete_id: 'del1', room_id: roomId, status, shutdown_room: null, ...extra },
});
const started: Reply = { statusCode: 200, data: { delete_id: 'del1' } };
const startPath = `DELETE /_synapse/admin/v2/rooms/${encodedRoom}`;
const statusPath = 'GET /_synapse/admin/v2/rooms/delete_status/del1';
const fast = { pollIntervalMs: 1, maxPollIntervalMs: 2 };

describe('adminPath', () => {
  it('should encode each value as one segment under /_synapse/admin', () => {
    expect(adminPath`/v1/users/${'@al/ice:hs'}/admin`).toBe(
      '/_synapse/admin/v1/users/%40al%2Fice%3Ahs/admin',
    );
  });
});

describe('isServerAdmin', () => {
  const path = `GET /_synapse/admin/v1/users/${encodeURIComponent('@me:hs.test')}/admin`;

  it("should read Synapse's answer for an admin", async () => {
    await using mock = scriptedUpstream({
      [path]: [
        { statusCode: 200, data: { admin: true } },
        { statusCode: 200, data: { admin: false } },
      ],
    });
    expect(await isServerAdmin(mock.client, '@me:hs.test')).toBe(true);
    expect(await isServerAdmin(mock.client, '@me:hs.test')).toBe(false);
  });

  it('should answer false when Synapse refuses a non-admin the check', async () => {
    await using mock = scriptedUpstream({ [path]: [notAdmin] });
    expect(await isServerAdmin(mock.client, '@me:hs.test')).toBe(false);
  });

  it('should let every other failure through', async () => {
    await using mock = scriptedUpstream({
      [path]: [
        { statusCode: 401, data: { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid access token' } },
        { statusCode: 404, data: { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' } },
      ],
    });
    await expect(isServerAdmin(mock.client, '@me:hs.test')).rejects.toMatchObject({
      status: 401,
    });
    // Another client: one whose token was refused sends nothing more.
    await expect(isServerAdmin(mock.upstream.client('token'), '@me:hs.test')).rejects.toMatchObject(
      { status: 404 },
    );
  });
});

describe('getRoomDetails', () => {
  it('should convert the details, and answer null for a room Synapse does not know', async () => {
    const path = `GET /_synapse/admin/v1/rooms/${encodedRoom}`;
    await using mock = scriptedUpstream({
      [path]: [
        {
          statusCode: 200,
          data: {
            room_id: roomId,
            name: 'Room',
            canonical_alias: null,
            joined_members: 3,
            joined_local_members: 2,
            version: '11',
            public: true,
          },
        },
        { statusCode: 404, data: { errcode: 'M_NOT_FOUND', error: 'Room not found' } },
      ],
    });
    expect(await getRoomDetails(mock.client, roomId)).toEqual({
      roomId,
      name: 'Room',
      canonicalAlias: null,
      joinedMembers: 3,
      joinedLocalMembers: 2,
      roomVersion: '11',
      isPublic: true,
    });
    expect(await getRoomDetails(mock.client, roomId)).toBeNull();
  });
});

describe('deleteRoomAndWait', () => {
  it('should start a purge without block and poll until the task is complete', async () => {
    const shutdown = {
      kicked_users: ['@a:hs.test'],
      failed_to_kick_users: [],
      local_aliases: [],
      new_room_id: null,
    };
    await using mock = scriptedUpstream({
      [startPath]: [started],
      [statusPath]: [
        task('scheduled'),
        task('active'),
        task('active', { shutdown_room: shutdown }),
        task('complete', { shutdown_room: shutdown }),
      ],
    });

    const result = await deleteRoomAndWait(mock.client, roomId, fast);

    expect(result).toEqual({
      deleteId: 'del1',
      roomId,
      status: 'complete',
      error: null,
      shutdownRoom: {
        kickedUsers: ['@a:hs.test'],
        failedToKickUsers: [],
        localAliases: [],
        newRoomId: null,
      },
    });
    expect(mock.sent).toEqual([startPath, statusPath, statusPath, statusPath, statusPath]);
    expect(mock.bodies[0]).toEqual({ block: false, purge: true });
  });

  it('should reject with a failed RoomDeletionError when Synapse reports the task failed', async () => {
    await using mock = scriptedUpstream({
      [startPath]: [started],
      [statusPath]: [task('active'), task('failed', { error: 'database is on fire' })],
    });
    const error = await deleteRoomAndWait(mock.client, roomId, fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RoomDeletionError);
    expect(error).toMatchObject({
      failure: 'failed',
      deleteId: 'del1',
      status: 'failed',
      detail: 'database is on fire',
    });
  });

  it('should give up with a timeout RoomDeletionError once the wait runs out', async () => {
    await using mock = scriptedUpstream({
      [startPath]: [started],
      [statusPath]: [task('active')],
    });
    const error = await deleteRoomAndWait(mock.client, roomId, { ...fast, timeoutMs: 20 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RoomDeletionError);
    expect(error).toMatchObject({ failure: 'timeout', status: 'active' });
    expect(mock.sent.filter((request) => request === startPath)).toHaveLength(1);
  });

  it('should follow the task already at work when Synapse refuses a second one', async () => {
    const inProgress: Reply = {
      statusCode: 400,
      data: { errcode: 'M_UNKNOWN', error: `Purge already in progress for ${roomId}` },
    };
    await using mock = scriptedUpstream({
      [startPath]: [inProgress],
      [`GET /_synapse/admin/v2/rooms/${encodedRoom}/delete_status`]: [
        {
          statusCode: 200,
          data: {
            results: [
              { ...task('complete', { delete_id: 'old' }).data },
              { ...task('active').data },
            ],
          },
        },
      ],
      [statusPath]: [task('complete')],
    });
    expect(await deleteRoomAndWait(mock.client, roomId, fast)).toMatchObject({
      deleteId: 'del1',
      status: 'complete',
    });
  });

  it('should let the refusal through when no task is at work', async () => {
    await using mock = scriptedUpstream({
      [startPath]: [
        { statusCode: 400, data: { errcode: 'M_UNKNOWN', error: 'nope is not a legal room ID' } },
      ],
      [`GET /_synapse/admin/v2/rooms/${encodedRoom}/delete_status`]: [
        { statusCode: 200, data: { results: [] } },
      ],
    });
    const error = await deleteRoomAndWait(mock.client, roomId, fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixApiError);
    expect(error).toMatchObject({ status: 400, error: 'nope is not a legal room ID' });
  });

  it("should reject with the caller's reason when aborted while waiting", async () => {
    await using mock = scriptedUpstream({
      [startPath]: [started],
      [statusPath]: [task('active')],
    });
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const pending = deleteRoomAndWait(mock.client, roomId, {
      pollIntervalMs: 60_000,
      signal: controller.signal,
    });
    // Abort once the first status check is in: the pause before the next one is then running.
    await expect.poll(() => mock.sent.includes(statusPath)).toBe(true);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});
