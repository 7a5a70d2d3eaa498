/**
 * Sync updates as they travel between instances: one JSON message per sync response of a token's
 * loop, numbered so that a receiver tells a repeat from news and notices what it missed.
 */
import { MatrixApiError } from '../matrix/errors.ts';
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
    }
  /** The loop's holder stopped it on purpose: an instance with listeners should take it over. */
  | { kind: 'released'; from: string };

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
  if (message['kind'] === 'released' && typeof message['from'] === 'string') {
    return { kind: 'released', from: message['from'] };
  }
  if (
    message['kind'] === 'updates' &&
    typeof message['from'] === 'string' &&
    typeof message['epoch'] === 'string' &&
    typeof message['seq'] === 'number' &&
    Array.isArray(message['updates'])
  ) {
    return detail as ClusterMessage;
  }
  return null;
}
