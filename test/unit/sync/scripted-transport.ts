import { MockAgent } from 'undici';
/**
 * A scripted stand-in for the homeserver's side of a sync loop (js-sdk's SyncResponder is the
 * model): each `/sync` takes the next scripted answer, or, when the script is empty, waits like an
 * idle long-poll until the test scripts one or the loop aborts it.
 */
import { MatrixApiError } from '../../../src/matrix/errors.ts';
import type { ClientEvent } from '../../../src/matrix/events.ts';
import { Upstream } from '../../../src/matrix/http.ts';
import type { MatrixClient } from '../../../src/matrix/matrix-client.ts';
import type { MessagesOptions, MessagesPage } from '../../../src/matrix/room-events.ts';
import { type SyncOptions, type SyncResponse, toSyncResponse } from '../../../src/matrix/sync.ts';
import type { WireClientEvent, WireSyncResponse } from '../../../src/matrix/wire-types.ts';
import type { SyncTransport } from '../../../src/sync/sync-loop.ts';

export const ALICE = '@alice:hs.test';
export const BOB = '@bob:hs.test';
export const ROOM = '!room:hs.test';

/** Lets every pending promise chain run (setImmediate is left real, so it comes after them). */
export const settlePromises = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Answer<T> = T | Error;

interface Waiting<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export interface ScriptedTransport extends SyncTransport {
  /** Every sync request, in order. */
  readonly syncs: SyncOptions[];
  /** Every /messages request, in order. */
  readonly pages: (MessagesOptions & { roomId: string })[];
  /** How many initial syncs (syncs without `since`) were requested: one per loop started or re-established. */
  readonly initialSyncs: number;
  /** Syncs in flight now (waiting for an answer). */
  readonly inFlight: number;
  /** Answers the next sync (or the one waiting now) with `answer`. */
  answerSync(answer: Answer<WireSyncResponse>): void;
  /** Answers the next /messages request of `roomId` with `answer`. */
  answerMessages(roomId: string, answer: Answer<MessagesPage>): void;
}

export function scriptedTransport(): ScriptedTransport {
  const syncAnswers: Answer<WireSyncResponse>[] = [];
  const waitingSyncs: Waiting<WireSyncResponse>[] = [];
  const messageAnswers = new Map<string, Answer<MessagesPage>[]>();
  const syncs: SyncOptions[] = [];
  const pages: (MessagesOptions & { roomId: string })[] = [];
  let initialSyncs = 0;

  const settle = <T>(answer: Answer<T>): Promise<T> =>
    answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);

  return {
    syncs,
    pages,
    get initialSyncs() {
      return initialSyncs;
    },
    get inFlight() {
      return waitingSyncs.length;
    },
    async sync(_client: MatrixClient, options: SyncOptions): Promise<SyncResponse> {
      syncs.push(options);
      if (options.since === undefined) {
        initialSyncs += 1;
      }
      const next = syncAnswers.shift();
      if (next !== undefined) {
        return toSyncResponse(await settle(next));
      }
      const wire = await new Promise<WireSyncResponse>((resolve, reject) => {
        const waiting = { resolve, reject };
        waitingSyncs.push(waiting);
        options.signal?.addEventListener(
          'abort',
          () => {
            // Only while still waiting: one answered already is out of the list (and indexOf's
            // -1 would take the last waiting sync, another loop's, out instead).
            const index = waitingSyncs.indexOf(waiting);
            if (index !== -1) {
              waitingSyncs.splice(index, 1);
            }
            reject(options.signal?.reason);
          },
          { once: true },
        );
      });
      return toSyncResponse(wire);
    },
    async getMessages(_client: MatrixClient, roomId: string, options: MessagesOptions) {
      pages.push({ ...options, roomId });
      options.signal?.throwIfAborted();
      const answer = messageAnswers.get(roomId)?.shift();
      if (answer === undefined) {
        throw new Error(`no /messages answer scripted for ${roomId}`);
      }
      return settle(answer);
    },
    answerSync(answer) {
      const waiting = waitingSyncs.shift();
      if (waiting === undefined) {
        syncAnswers.push(answer);
      } else if (answer instanceof Error) {
        waiting.reject(answer);
      } else {
        waiting.resolve(answer);
      }
    },
    answerMessages(roomId, answer) {
      const queue = messageAnswers.get(roomId) ?? [];
      queue.push(answer);
      messageAnswers.set(roomId, queue);
    },
  };
}

let eventCounter = 0;

/** A message event on the wire, with a unique ID unless given. */
export function message(
  body: string,
  options: { sender?: string; eventId?: string } = {},
): WireClientEvent {
  eventCounter += 1;
  return {
    event_id: options.eventId ?? `$${body.replaceAll(' ', '-')}-${eventCounter}`,
    type: 'm.room.message',
    sender: options.sender ?? BOB,
    origin_server_ts: 1_700_000_000_000 + eventCounter,
    content: { msgtype: 'm.text', body },
  };
}

/** A state event on the wire. */
export function stateEvent(
  type: string,
  stateKey: string,
  content: Record<string, unknown>,
  options: { sender?: string; prevContent?: Record<string, unknown>; eventId?: string } = {},
): WireClientEvent {
  eventCounter += 1;
  return {
    event_id: options.eventId ?? `$${type}-${eventCounter}`,
    type,
    sender: options.sender ?? BOB,
    origin_server_ts: 1_700_000_000_000 + eventCounter,
    content,
    state_key: stateKey,
    ...(options.prevContent === undefined
      ? {}
      : { unsigned: { prev_content: options.prevContent } }),
  };
}

/** `userId`'s member event moving from `from` (absent: no previous membership) to `to`. */
export function member(
  userId: string,
  to: string,
  from?: string,
  options: { sender?: string; eventId?: string } = {},
): WireClientEvent {
  return stateEvent(
    'm.room.member',
    userId,
    { membership: to },
    {
      sender: options.sender ?? userId,
      ...(from === undefined ? {} : { prevContent: { membership: from } }),
      ...(options.eventId === undefined ? {} : { eventId: options.eventId }),
    },
  );
}

/** A /sync response on the wire with `nextBatch` and the given rooms. */
export function syncResponse(
  nextBatch: string,
  rooms: NonNullable<WireSyncResponse['rooms']> = {},
): WireSyncResponse {
  return { next_batch: nextBatch, rooms };
}

/** A joined room's part of a sync response. */
export function joined(
  events: WireClientEvent[],
  options: {
    limited?: boolean;
    prevBatch?: string;
    state?: WireClientEvent[];
    typing?: string[];
  } = {},
) {
  return {
    timeline: {
      events,
      limited: options.limited ?? false,
      ...(options.prevBatch === undefined ? {} : { prev_batch: options.prevBatch }),
    },
    state: { events: options.state ?? [] },
    ...(options.typing === undefined
      ? {}
      : { ephemeral: { events: [{ type: 'm.typing', content: { user_ids: options.typing } }] } }),
  };
}

/** A /messages page (dir=b: newest first) of already converted events. */
export function page(chunk: ClientEvent[], end: string | null): MessagesPage {
  return { start: 'start', end, chunk, state: [] };
}

export function unknownToken(): MatrixApiError {
  return new MatrixApiError({
    status: 401,
    errcode: 'M_UNKNOWN_TOKEN',
    error: 'Invalid access token passed.',
    retryAfterMs: null,
    endpoint: { method: 'GET', path: '/_matrix/client/v3/sync' },
    body: { errcode: 'M_UNKNOWN_TOKEN', soft_logout: false },
  });
}

export function apiError(status: number, errcode: string, retryAfterMs: number | null = null) {
  return new MatrixApiError({
    status,
    errcode,
    error: '',
    retryAfterMs,
    endpoint: { method: 'GET', path: '/_matrix/client/v3/sync' },
    body: { errcode },
  });
}

/**
 * An upstream whose dispatcher refuses every request: code under test talks to a scripted
 * transport only, and any real call would fail loudly. Close it with `close()` after the tests.
 */
export function offlineUpstream(): Upstream & { close(): Promise<void> } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const upstream = new Upstream({ homeserverUrl: 'http://hs.test', dispatcher: agent });
  return Object.assign(upstream, { close: () => agent.close() });
}
