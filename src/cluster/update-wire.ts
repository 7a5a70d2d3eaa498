/**
 * Sync updates as they travel between instances: one JSON message per sync response of a token's
 * loop, numbered so that a receiver tells a repeat from news and notices what it missed. While an
 * instance keeps a warm room view of the token, the messages also carry the raw responses, and
 * the holder answers its snapshot requests and nudges on the same channel.
 */
import { MatrixApiError } from '../matrix/errors.ts';
import type { SyncFilter, SyncResponse } from '../matrix/sync.ts';
import type { SyncUpdate } from '../sync/sync-events.ts';

/** One message on a token's channel. */
export type ClusterMessage =
  | {
      kind: 'updates';
      /** The instance whose loop sent it (it delivered them itself and ignores its own). */
      from: string;
      /**
       * The loop's lineage: kept when another instance resumes the loop from its stored position,
       * new when a loop had to start afresh (what happened in between is not known).
       */
      epoch: string;
      /** 1, 2, 3… within the epoch, across takeovers. */
      seq: number;
      updates: WireUpdate[];
      /** The raw response, while another instance keeps a view of the token ({@link WireResponse}). */
      response?: WireResponse;
      /** The nudges received before this response was requested: it shows what preceded them. */
      passed?: string[];
    }
  /** The loop's holder stopped it on purpose: an instance with listeners should take it over. */
  | { kind: 'released'; from: string }
  /** An instance wants a snapshot made with `filter` between two syncs of the loop. */
  | { kind: 'snapshot-request'; from: string; id: string; filter: SyncFilter }
  /**
   * The holder's answer: taken after the message numbered `after` of `epoch` and before the
   * next, so that the responses of the messages after it apply on top of it.
   */
  | {
      kind: 'snapshot';
      from: string;
      id: string;
      epoch: string;
      after: number;
      response: WireResponse;
    }
  /** An instance wrote for the token: the holder syncs at once and names it in `passed`. */
  | { kind: 'nudge'; from: string; id: string };

/** A {@link SyncResponse} as JSON: its maps as lists of entries. */
export interface WireResponse {
  nextBatch: string;
  join: [string, SyncResponse['join'] extends Map<string, infer R> ? R : never][];
  invite: [string, SyncResponse['invite'] extends Map<string, infer R> ? R : never][];
  knock: [string, SyncResponse['knock'] extends Map<string, infer R> ? R : never][];
  leave: [string, SyncResponse['leave'] extends Map<string, infer R> ? R : never][];
  accountData: SyncResponse['accountData'];
}

export function responseToWire(response: SyncResponse): WireResponse {
  return {
    nextBatch: response.nextBatch,
    join: [...response.join],
    invite: [...response.invite],
    knock: [...response.knock],
    leave: [...response.leave],
    accountData: response.accountData,
  };
}

/** The response a message carried; `null` when it is not shaped like one. */
export function responseFromWire(wire: unknown): SyncResponse | null {
  if (typeof wire !== 'object' || wire === null) {
    return null;
  }
  const { nextBatch, join, invite, knock, leave, accountData } = wire as Record<string, unknown>;
  if (
    typeof nextBatch !== 'string' ||
    !isEntryList(join) ||
    !isEntryList(invite) ||
    !isEntryList(knock) ||
    !isEntryList(leave) ||
    !Array.isArray(accountData)
  ) {
    return null;
  }
  return {
    nextBatch,
    join: new Map(join as WireResponse['join']),
    invite: new Map(invite as WireResponse['invite']),
    knock: new Map(knock as WireResponse['knock']),
    leave: new Map(leave as WireResponse['leave']),
    accountData: accountData as SyncResponse['accountData'],
  };
}

function isEntryList(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.every(
      (entry) =>
        Array.isArray(entry) &&
        typeof entry[0] === 'string' &&
        typeof entry[1] === 'object' &&
        entry[1] !== null,
    )
  );
}

/** A {@link SyncUpdate} as JSON: `ended` carries its error as plain fields. */
export type WireUpdate =
  | Exclude<SyncUpdate, { kind: 'ended' }>
  | { kind: 'ended'; error: { status: number; errcode: string; error: string } };

/** The update as JSON data. */
export function toWire(update: SyncUpdate): WireUpdate {
  if (update.kind !== 'ended') {
    return update;
  }
  const { error } = update;
  return error instanceof MatrixApiError
    ? { kind: 'ended', error: { status: error.status, errcode: error.errcode, error: error.error } }
    : // Only a rejected token (a Matrix error) ends a loop; anything else is said as unknown.
      { kind: 'ended', error: { status: 401, errcode: 'M_UNKNOWN_TOKEN', error: error.message } };
}

/** The update a message carried; `ended` gets its Matrix error back. */
export function fromWire(update: WireUpdate): SyncUpdate {
  if (update.kind !== 'ended') {
    return update;
  }
  const { status, errcode, error } = update.error;
  return {
    kind: 'ended',
    error: new MatrixApiError({
      status,
      errcode,
      error,
      retryAfterMs: null,
      endpoint: { method: 'GET', path: '/_matrix/client/v3/sync' },
      body: { errcode, error },
    }),
  };
}

/** The message in a channel payload, or `null` for anything else (never trusted blindly). */
export function parseClusterMessage(detail: unknown): ClusterMessage | null {
  if (typeof detail !== 'object' || detail === null) {
    return null;
  }
  const message = detail as Record<string, unknown>;
  const from = message['from'];
  const id = message['id'];
  if (typeof from !== 'string') {
    return null;
  }
  switch (message['kind']) {
    case 'released':
      return { kind: 'released', from };
    case 'nudge':
      return typeof id === 'string' ? { kind: 'nudge', from, id } : null;
    case 'snapshot-request':
      return typeof id === 'string' &&
        typeof message['filter'] === 'object' &&
        message['filter'] !== null
        ? { kind: 'snapshot-request', from, id, filter: message['filter'] as SyncFilter }
        : null;
    case 'snapshot':
      return typeof id === 'string' &&
        typeof message['epoch'] === 'string' &&
        typeof message['after'] === 'number' &&
        typeof message['response'] === 'object' &&
        message['response'] !== null
        ? (detail as ClusterMessage)
        : null;
  }
  if (
    message['kind'] === 'updates' &&
    typeof message['epoch'] === 'string' &&
    typeof message['seq'] === 'number' &&
    Array.isArray(message['updates'])
  ) {
    return detail as ClusterMessage;
  }
  return null;
}
