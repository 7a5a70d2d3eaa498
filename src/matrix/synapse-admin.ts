/**
 * The few Synapse Admin API calls the facade makes. They are Synapse's own, not the Matrix spec's,
 * live outside `/_matrix/client/v3` and answer only to server admins (403 `M_FORBIDDEN` "You are
 * not a server admin" to anyone else). Wire shapes are from Synapse's `docs/admin_api/rooms.md`
 * (Room Details, Delete Room v2, Status of deleting rooms) and `docs/admin_api/user_admin_api.md`
 * ("Get whether a user is a server administrator or not"), checked against Synapse 1.160.
 */
import { MatrixApiError } from './errors.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { pathTemplate } from './paths.ts';
import { abortableSleep } from './policy.ts';

/** The base path of every Synapse Admin API endpoint. */
export const SYNAPSE_ADMIN_PREFIX = '/_synapse/admin';

/** Admin API paths, encoded like `clientPath`: `adminPath\`/v1/users/${userId}/admin\``. */
export const adminPath = pathTemplate(SYNAPSE_ADMIN_PREFIX);

/**
 * Whether `userId` (a user of this homeserver) is a server admin: `GET
 * /_synapse/admin/v1/users/{userId}/admin`, which answers `{"admin": true|false}`. The check itself
 * needs admin rights, so asking about oneself answers `false` for everyone else: Synapse refuses a
 * non-admin with 403 `M_FORBIDDEN`, which is mapped to `false`. Anything else (401 for a bad token,
 * 400 `M_UNKNOWN` for a user of another server, 404 `M_UNRECOGNIZED` from a homeserver without
 * Synapse's admin API) propagates.
 */
export async function isServerAdmin(
  client: MatrixClient,
  userId: string,
  options?: CallOptions,
): Promise<boolean> {
  try {
    // Wire: {"admin": boolean} (user_admin_api.md).
    const body = await client.send<{ admin?: boolean }>(
      { method: 'GET', path: adminPath`/v1/users/${userId}/admin` },
      options,
    );
    return body.admin === true;
  } catch (error) {
    if (error instanceof MatrixApiError && error.status === 403) {
      return false;
    }
    throw error;
  }
}

/** What Synapse's Room Details API says about a room (a subset of its answer). */
export interface AdminRoomDetails {
  roomId: string;
  name: string | null;
  canonicalAlias: string | null;
  /** Joined members on every server. */
  joinedMembers: number;
  /** Joined members on this homeserver. */
  joinedLocalMembers: number;
  roomVersion: string;
  /** Listed in this homeserver's public room directory. */
  isPublic: boolean;
}

/**
 * Room Details API (`GET /_synapse/admin/v1/rooms/{roomId}`); `null` when the homeserver does not
 * know the room (404 `M_NOT_FOUND` "Room not found", also after a purge).
 */
export async function getRoomDetails(
  client: MatrixClient,
  roomId: string,
  options?: CallOptions,
): Promise<AdminRoomDetails | null> {
  // Wire (rooms.md "Room Details API"; more fields exist, e.g. `creator`, `join_rules`).
  let body: {
    room_id: string;
    name?: string | null;
    canonical_alias?: string | null;
    joined_members?: number;
    joined_local_members?: number;
    version?: string;
    public?: boolean;
  };
  try {
    body = await client.send({ method: 'GET', path: adminPath`/v1/rooms/${roomId}` }, options);
  } catch (error) {
    if (
      error instanceof MatrixApiError &&
      error.status === 404 &&
      error.errcode === 'M_NOT_FOUND'
    ) {
      return null;
    }
    throw error;
  }
  return {
    roomId: body.room_id,
    name: body.name ?? null,
    canonicalAlias: body.canonical_alias ?? null,
    joinedMembers: body.joined_members ?? 0,
    joinedLocalMembers: body.joined_local_members ?? 0,
    roomVersion: body.version ?? '',
    isPublic: body.public ?? false,
  };
}

/** Where a room deletion task is (`status` in rooms.md "Status of deleting rooms"). */
export type RoomDeletionStatus =
  /** Waiting to start. */
  | 'scheduled'
  /** Removing the members, then purging the room's data. */
  | 'active'
  /** Done: the members are out and the room is gone from the database. */
  | 'complete'
  /** Aborted; `error` says why. */
  | 'failed';

/** What shutting the room down did; Synapse fills it in once the members are removed. */
export interface RoomShutdownResult {
  /** Local users removed from the room (Synapse makes each one leave, then forgets the room). */
  kickedUsers: string[];
  failedToKickUsers: string[];
  /** Local aliases moved to the new room (none when no new room is made, as here). */
  localAliases: string[];
  /** The "Content Violation" room the members were moved to, when one was asked for. */
  newRoomId: string | null;
}

/** One deletion task of the Delete Room API, version 2. */
export interface RoomDeletionTask {
  deleteId: string;
  roomId: string;
  status: RoomDeletionStatus;
  /** Why the task failed (`status: 'failed'` only). */
  error: string | null;
  /** `null` until the members are removed. */
  shutdownRoom: RoomShutdownResult | null;
}

/** Wire form of a task (rooms.md "Status of deleting rooms"; `shutdown_room` is `null` at first). */
interface WireRoomDeletionTask {
  delete_id: string;
  room_id: string;
  status: RoomDeletionStatus;
  error?: string;
  shutdown_room?: {
    kicked_users?: string[];
    failed_to_kick_users?: string[];
    local_aliases?: string[];
    new_room_id?: string | null;
  } | null;
}

function toRoomDeletionTask(wire: WireRoomDeletionTask): RoomDeletionTask {
  const shutdown = wire.shutdown_room ?? null;
  return {
    deleteId: wire.delete_id,
    roomId: wire.room_id,
    status: wire.status,
    error: wire.error ?? null,
    shutdownRoom:
      shutdown === null
        ? null
        : {
            kickedUsers: shutdown.kicked_users ?? [],
            failedToKickUsers: shutdown.failed_to_kick_users ?? [],
            localAliases: shutdown.local_aliases ?? [],
            newRoomId: shutdown.new_room_id ?? null,
          },
  };
}

export interface StartRoomDeletionOptions extends CallOptions {
  /**
   * Remove every trace of the room from the database once the local members are out.
   * @default true
   */
  purge?: boolean;
  /**
   * Keep anyone from joining the room (ID) on this homeserver again.
   * @default false
   */
  block?: boolean;
}

/**
 * Starts deleting a room: `DELETE /_synapse/admin/v2/rooms/{roomId}` with `{block, purge}` (no
 * `new_room_user_id`, so no replacement room: local members just leave). Answers at once with the
 * task's ID (`{"delete_id": "…"}`); the work goes on in the background. Synapse 1.160 answers 200
 * for a room it does not know (the task completes having done nothing) and 400 `M_UNKNOWN`
 * "Purge already in progress for …" while another task is at work on the room.
 */
export async function startRoomDeletion(
  client: MatrixClient,
  roomId: string,
  options: StartRoomDeletionOptions = {},
): Promise<{ deleteId: string }> {
  const body = await client.send<{ delete_id: string }>(
    {
      method: 'DELETE',
      path: adminPath`/v2/rooms/${roomId}`,
      // "The JSON body must not be empty" (an absent body is 400 M_NOT_JSON).
      body: { block: options.block ?? false, purge: options.purge ?? true },
      // Each call starts a task of its own: not retried after a 5xx or a broken connection.
      idempotent: false,
    },
    options,
  );
  return { deleteId: body.delete_id };
}

/**
 * One deletion task by its ID (`GET /_synapse/admin/v2/rooms/delete_status/{deleteId}`). Synapse
 * keeps tasks for 24 hours or until it restarts; an unknown ID is 404 `M_NOT_FOUND`.
 */
export async function getRoomDeletionTask(
  client: MatrixClient,
  deleteId: string,
  options?: CallOptions,
): Promise<RoomDeletionTask> {
  const body = await client.send<WireRoomDeletionTask>(
    { method: 'GET', path: adminPath`/v2/rooms/delete_status/${deleteId}` },
    options,
  );
  return toRoomDeletionTask(body);
}

/**
 * The deletion tasks of a room, running or finished in the last 24 hours (`GET
 * /_synapse/admin/v2/rooms/{roomId}/delete_status`, `{"results": [...]}`).
 */
export async function getRoomDeletionTasks(
  client: MatrixClient,
  roomId: string,
  options?: CallOptions,
): Promise<RoomDeletionTask[]> {
  const body = await client.send<{ results?: WireRoomDeletionTask[] }>(
    { method: 'GET', path: adminPath`/v2/rooms/${roomId}/delete_status` },
    options,
  );
  return (body.results ?? []).map(toRoomDeletionTask);
}

/** Why {@link deleteRoomAndWait} gave up. */
export type RoomDeletionFailure =
  /** Synapse reported the task `failed`. */
  | 'failed'
  /** The task was still `scheduled` or `active` when the wait ran out; it goes on regardless. */
  | 'timeout';

/** A deletion task that failed, or did not finish within the wait. */
export class RoomDeletionError extends Error {
  override readonly name = 'RoomDeletionError';
  readonly failure: RoomDeletionFailure;
  readonly roomId: string;
  readonly deleteId: string;
  /** The last status seen. */
  readonly status: RoomDeletionStatus;
  /** Synapse's explanation for a failed task (for logs: it may name internals). */
  readonly detail: string | null;

  constructor(failure: RoomDeletionFailure, task: RoomDeletionTask, waitedMs: number) {
    super(
      failure === 'failed'
        ? `room deletion ${task.deleteId} failed: ${task.error ?? 'no reason given'}`
        : `room deletion ${task.deleteId} still ${task.status} after ${waitedMs} ms`,
    );
    this.failure = failure;
    this.roomId = task.roomId;
    this.deleteId = task.deleteId;
    this.status = task.status;
    this.detail = task.error;
  }
}

export interface DeleteRoomAndWaitOptions extends StartRoomDeletionOptions {
  /**
   * How long to wait for the task to complete before giving up with a `timeout`
   * {@link RoomDeletionError} (the deletion itself goes on).
   * @default 20000
   */
  timeoutMs?: number;
  /**
   * The first pause between two status checks; it doubles up to {@link maxPollIntervalMs}.
   * @default 100
   */
  pollIntervalMs?: number;
  /**
   * The longest pause between two status checks.
   * @default 1000
   */
  maxPollIntervalMs?: number;
}

/**
 * Deletes a room through the Delete Room API v2 and waits until Synapse reports the task
 * `complete` (a small room on Synapse 1.160 takes about 0.2 s). When a task is already at work on
 * the room (400 on the start), that task is followed instead of failing. Rejects with a
 * {@link RoomDeletionError} when the task fails or outlasts `timeoutMs`, and with the caller's abort
 * reason on abort; upstream errors propagate.
 */
export async function deleteRoomAndWait(
  client: MatrixClient,
  roomId: string,
  options: DeleteRoomAndWaitOptions = {},
): Promise<RoomDeletionTask> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const maxInterval = options.maxPollIntervalMs ?? 1000;
  let interval = options.pollIntervalMs ?? 100;
  const started = performance.now();

  const deleteId = await startOrFollow(client, roomId, options);
  for (;;) {
    const task = await getRoomDeletionTask(client, deleteId, options);
    if (task.status === 'complete') {
      return task;
    }
    if (task.status === 'failed') {
      throw new RoomDeletionError('failed', task, Math.round(performance.now() - started));
    }
    const waited = performance.now() - started;
    if (waited >= timeoutMs) {
      throw new RoomDeletionError('timeout', task, Math.round(waited));
    }
    const pause = Math.min(interval, timeoutMs - waited);
    await abortableSleep(pause, options.signal);
    interval = Math.min(interval * 2, maxInterval);
  }
}

/** The ID of a new deletion task, or of the one already running for the room. */
async function startOrFollow(
  client: MatrixClient,
  roomId: string,
  options: StartRoomDeletionOptions,
): Promise<string> {
  try {
    return (await startRoomDeletion(client, roomId, options)).deleteId;
  } catch (error) {
    // Synapse refuses a second task while one runs ("Purge already in progress for …", 400
    // M_UNKNOWN); the errcode is too generic to tell, so the room's tasks are asked instead.
    if (!(error instanceof MatrixApiError) || error.status !== 400) {
      throw error;
    }
    const running = (await getRoomDeletionTasks(client, roomId, options)).find(
      (task) => task.status === 'scheduled' || task.status === 'active',
    );
    if (running === undefined) {
      throw error;
    }
    return running.deleteId;
  }
}
