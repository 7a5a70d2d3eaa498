/**
 * Shapes as they cross the wire, in the spec's snake_case (`../shared/matrix-spec/client-server`).
 * Only this file and the converters next to each endpoint know these names; everything above the
 * `matrix/` boundary sees the camelCase types.
 */

export type JsonObject = Record<string, unknown>;

/** `definitions/client_event.yaml` (room_id absent in /sync: client_event_without_room_id.yaml). */
export interface WireClientEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: JsonObject;
  state_key?: string;
  room_id?: string;
  /** Redaction events in room versions before 11 carry the target here, not in `content`. */
  redacts?: string;
  unsigned?: {
    age?: number;
    prev_content?: JsonObject;
    redacted_because?: WireClientEvent;
    transaction_id?: string;
    membership?: string;
  };
}

/** Stripped state in invites (`sync.yaml` invite_state): no event ID, no timestamp. */
export interface WireStrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
}

/** `definitions/room_event_filter.yaml` (with `event_filter.yaml`). */
export interface WireRoomEventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
  rooms?: string[];
  not_rooms?: string[];
  contains_url?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  unread_thread_notifications?: boolean;
}

/** `definitions/sync_filter.yaml`. */
export interface WireSyncFilter {
  event_fields?: string[];
  event_format?: 'client' | 'federation';
  presence?: WireRoomEventFilter;
  account_data?: WireRoomEventFilter;
  room?: {
    rooms?: string[];
    not_rooms?: string[];
    include_leave?: boolean;
    timeline?: WireRoomEventFilter;
    state?: WireRoomEventFilter;
    ephemeral?: WireRoomEventFilter;
    account_data?: WireRoomEventFilter;
  };
}

/** `create_room.yaml` request body. */
export interface WireCreateRoomRequest {
  visibility?: 'public' | 'private';
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  invite_3pid?: { id_server: string; id_access_token: string; medium: string; address: string }[];
  room_version?: string;
  creation_content?: JsonObject;
  initial_state?: { type: string; state_key?: string; content: JsonObject }[];
  preset?: 'private_chat' | 'public_chat' | 'trusted_private_chat';
  is_direct?: boolean;
  power_level_content_override?: JsonObject;
}

/** `login.yaml` response. */
export interface WireLoginResponse {
  user_id: string;
  access_token: string;
  device_id: string;
  refresh_token?: string;
  expires_in_ms?: number;
  home_server?: string;
}

/** `message_pagination.yaml` response. */
export interface WireMessagesResponse {
  start: string;
  end?: string;
  chunk: WireClientEvent[];
  state?: WireClientEvent[];
}

/** `event_context.yaml` response. */
export interface WireEventContextResponse {
  start?: string;
  end?: string;
  event?: WireClientEvent;
  events_before?: WireClientEvent[];
  events_after?: WireClientEvent[];
  state?: WireClientEvent[];
}

/** `definitions/public_rooms_chunk.yaml`. */
export interface WirePublicRoomsChunk {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  avatar_url?: string;
  join_rule?: string;
  room_type?: string;
}

/** `definitions/public_rooms_response.yaml`. */
export interface WirePublicRoomsResponse {
  chunk: WirePublicRoomsChunk[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate?: number;
}

/** `definitions/timeline_batch.yaml`. */
export interface WireTimeline {
  events?: WireClientEvent[];
  limited?: boolean;
  prev_batch?: string;
}

/** `sync.yaml` response (the room parts the facade uses). */
export interface WireSyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<
      string,
      {
        summary?: {
          'm.heroes'?: string[];
          'm.joined_member_count'?: number;
          'm.invited_member_count'?: number;
        };
        state?: { events?: WireClientEvent[] };
        timeline?: WireTimeline;
        ephemeral?: { events?: { type: string; content: JsonObject }[] };
        account_data?: { events?: { type: string; content: JsonObject }[] };
        unread_notifications?: { notification_count?: number; highlight_count?: number };
      }
    >;
    invite?: Record<string, { invite_state?: { events?: WireStrippedStateEvent[] } }>;
    knock?: Record<string, { knock_state?: { events?: WireStrippedStateEvent[] } }>;
    leave?: Record<
      string,
      {
        state?: { events?: WireClientEvent[] };
        timeline?: WireTimeline;
        account_data?: { events?: { type: string; content: JsonObject }[] };
      }
    >;
  };
  account_data?: { events?: { type: string; content: JsonObject }[] };
}
